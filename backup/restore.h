// Restore: rebuild a database file from a snapshot (or from a plain .db backup file), never
// exposing a partial or unverified result.
//
// Steps: refuse an existing target unless forced (and, when forced, refuse a target that a
// process still has open); stream into a temp file beside the target; check the plaintext
// SHA-256 against the manifest; fsync; run PRAGMA integrity_check (or quick_check) on the temp
// file; give it the owner, group and mode of the file it replaces (a new target is the agent's,
// mode 0640); remove the target's stale -wal/-shm/-journal (an old WAL replayed onto the restored
// file would corrupt it); rename into place; fsync the directory. Any failure deletes the temp
// file and leaves the target as it was.
//
// Thread-safety: independent calls may run concurrently on different targets.
#pragma once

#include <functional>
#include <string>

#include "backup/repository.h"
#include "common/file_io.h"
#include "common/progress.h"
#include "common/sqlite_integrity.h"

namespace aura::backup {

struct RestoreOptions {
  bool force = false;  // replace an existing target
  IntegrityLevel check = IntegrityLevel::kFull;
  int threads = 0;             // 0: one per core
  int busy_timeout_ms = 5000;  // for reading a plain .db source
  // Point-in-time restores: when the chosen base snapshot turns out damaged, restore the same
  // point from the next cheapest snapshot instead (and say so). Drills turn this off: they must
  // fail on any damaged object.
  bool other_paths_on_damage = true;
  // More read-only checks of the verified temp copy (a drill's foreign_key_check and
  // assertions), given its URI (`file:...?immutable=1`). Run on their own thread and connection
  // while the integrity check runs; a failure fails the restore the same way (the target is not
  // touched), the integrity check's failure reported first. Empty: none.
  std::function<Status(const std::string& uri)> copy_check;
  // Receives the bytes written of the restored size ("restore"; WAL segments count their stored
  // size as each one is applied); nullptr: not reported.
  Progress* progress = nullptr;
};

struct RestoreResult {
  std::string target;
  std::string source;    // snapshot id, or the source file
  std::string snapshot;  // the (base) snapshot restored, when from a repository
  uint64_t bytes = 0;
  std::string sha256;
  std::string integrity;  // "ok" or "skipped"
  uint64_t txid = 0;      // point-in-time restores: the transaction restored to
  int64_t duration_ms = 0;
  std::string why;  // point-in-time restores: what was chosen and why, what was passed over
};

Result<RestoreResult> RestoreSnapshot(Repository& repo, const SnapshotRef& ref,
                                      const std::string& target, const RestoreOptions& options);

// Restores from a plain SQLite file (e.g. backups/aura_backup_20251110_120000.db), including
// its -wal if it has one.
Result<RestoreResult> RestoreFromDatabaseFile(const std::string& source, const std::string& target,
                                              const RestoreOptions& options);

// kAlreadyExists if `target` (or its -wal/-journal) exists and !force; kBusy if forced but a
// process has the target open.
Status CheckRestoreTarget(const std::string& target, bool force);

// The building blocks, for restores that apply more on top of a snapshot (pitr_restore.h).
// Decodes snapshot `ref` into a temp file beside `target` and checks its SHA-256 against the
// manifest (an incremental snapshot: its chain's full snapshot, then each increment checked by
// database checksums before and after); returns the (uncommitted) temp file. Adds the bytes it
// writes to `progress`, and their sum to its total (the caller starts it).
Result<TempFile> RestoreSnapshotToTemp(Repository& repo, const SnapshotRef& ref,
                                       const std::string& target, int threads,
                                       Manifest* manifest_out, RestoreResult* result,
                                       Progress* progress = nullptr);
// The snapshots `ref` restores from, oldest first: a full snapshot, then the incremental ones up
// to `ref` (just `ref` when it is full). kNotFound naming the missing base otherwise.
Result<std::vector<SnapshotRef>> SnapshotChain(Repository& repo, const SnapshotRef& ref,
                                               std::vector<Manifest>* manifests = nullptr);

// fsync, integrity check (options.check) and options.copy_check, the replaced target's owner,
// group and mode (kPermissionDenied when they cannot be kept: nothing is replaced), removal of the
// target's stale -wal/-shm/-journal, rename into place.
Status FinishRestore(TempFile& temp, const std::string& target, const RestoreOptions& options,
                     RestoreResult& result);

}  // namespace aura::backup
