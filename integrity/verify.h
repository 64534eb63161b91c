// Repository verification: re-read every object of the repository (or of one database or one
// snapshot), authenticate and decode it, and check that the pieces still form restorable states.
//
//   - Snapshots: every object a manifest names: chunk tags, trailer, the SHA-256 and sizes the
//     manifest recorded. An incremental snapshot's base must be there (a missing base manifest is
//     an error naming it, kind "missing-base") and be the image the increment was taken against
//     (its database checksum, "base-mismatch").
//   - WAL segments, at every compaction level: authentication, structure (transactions in
//     sequence, page records), the header agreeing with the object's name ("mislabeled"). Then,
//     per generation, the chains a point-in-time restore walks: from each snapshot of the
//     generation through segments whose "checksum before" equals the state they start from. A
//     segment that follows a known state with another checksum is "out-of-sequence" (reordered
//     or substituted); transactions no chain reaches are a "gap", naming the first segment past
//     it (or, in a per-transaction level, a hole between its segments); two segments of one level
//     covering overlapping, different ranges are an "overlap".
//   - Data objects that no manifest names (left by a crash before the manifest was written) are
//     orphans, not failures, unless a restore needs them (an increment's base): those are never
//     orphans.
//
// Key problems are not corruption: if the manifest cannot be opened because the key is missing
// or wrong, verification stops with kKeyError instead of declaring every object bad.
//
// Memory: one object is decoded at a time (streaming); what is kept is a few dozen bytes per
// snapshot and segment.
//
// Thread-safety: read-only; may run while backups are written (new objects appear atomically).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "backup/wal_segment.h"
#include "common/progress.h"

namespace aura::integrity {

struct VerifyOptions {
  std::string database;  // empty: all databases
  std::string snapshot;  // empty: all snapshots
  int threads = 0;
  // Data objects whose content another reader checks in full at the same time (a drill's
  // restore): their manifests and every other check still run, their bytes are not read twice.
  std::set<std::string> checked_elsewhere;
  // Receives the stored bytes checked ("verify"), of the listed objects' sizes (unknown with
  // `snapshot`); nullptr: not reported.
  Progress* progress = nullptr;
};

struct ObjectProblem {
  std::string name;  // the object (for a missing one: the name it would have)
  Status error;
  // "damaged", "missing-base", "base-mismatch", "mislabeled", "out-of-sequence", "gap",
  // "overlap" (see above).
  std::string kind = "damaged";
};

struct VerifyReport {
  int snapshots = 0;
  int segments = 0;
  int objects = 0;
  uint64_t bytes = 0;  // plaintext bytes checked
  std::vector<ObjectProblem> bad;
  std::vector<std::string> orphans;
  bool ok() const { return bad.empty(); }
};

Result<VerifyReport> VerifyRepository(backup::Repository& repo, const VerifyOptions& options);

// What VerifyRepository learns of a database's snapshots and needs for its WAL chains: the
// positions (generation, txid, database checksum) the snapshots stand at.
struct SnapshotPosition {
  uint64_t generation = 0;
  uint64_t txid = 0;
  uint64_t db_checksum = 0;
};

// One WAL segment: authenticated, parsed, its header matching its name. The problem ("damaged" or
// "mislabeled") if not; an error only when it could not tell (a key error). Fills `header_out`
// when it is sound.
Result<std::optional<ObjectProblem>> VerifySegmentObject(backup::Repository& repo,
                                                         const backup::SegmentRef& s,
                                                         uint64_t& bytes,
                                                         backup::SegmentHeader* header_out);

// Verifies every WAL segment of `database` and the chains through them from `positions`, adding
// problems and counts to `report` (verify_wal.cc).
Status VerifyWal(backup::Repository& repo, const std::string& database,
                 const std::vector<SnapshotPosition>& positions, VerifyReport& report,
                 Progress* progress = nullptr);

}  // namespace aura::integrity
