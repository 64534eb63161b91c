// Repository verification: re-read every object of a snapshot (or of all snapshots), decrypt and
// decompress it, check every chunk tag, the trailer, the SHA-256 recorded in the manifest and the
// sizes, and report each bad object by name. Data objects that no manifest names (left by a
// crash before the manifest was written) are reported as orphans, not as failures.
//
// Key problems are not corruption: if the manifest cannot be opened because the key is missing
// or wrong, verification stops with kKeyError instead of declaring every object bad.
//
// Thread-safety: read-only; may run while backups are written (new snapshots appear atomically).
#pragma once

#include <string>
#include <vector>

#include "backup/repository.h"

namespace aura::integrity {

struct VerifyOptions {
  std::string database;  // empty: all databases
  std::string snapshot;  // empty: all snapshots
  int threads = 0;
};

struct ObjectProblem {
  std::string name;
  Status error;
};

struct VerifyReport {
  int snapshots = 0;
  int objects = 0;
  uint64_t bytes = 0;  // plaintext bytes checked
  std::vector<ObjectProblem> bad;
  std::vector<std::string> orphans;
  bool ok() const { return bad.empty(); }
};

Result<VerifyReport> VerifyRepository(backup::Repository& repo, const VerifyOptions& options);

}  // namespace aura::integrity
