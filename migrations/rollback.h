// migrate rollback <Name|Id|0>: undo every applied migration after the named one (0: all).
//
// By down files when every migration to undo has one: foreign keys off, BEGIN IMMEDIATE, each
// down file newest first with its history row deleted and a rollback audit row added, the same
// pre-commit checks as an apply, COMMIT; a pre-rollback snapshot is taken first. Otherwise by
// writing back the pre-migration snapshot recorded when the oldest of them was applied: that
// loses every write made since, so it runs only with `yes`; without it the report says what
// would be restored and the call fails with kInvalidArgument asking for --yes.
//
// Thread-safety: as ApplyMigrations.
#pragma once

#include <string>
#include <vector>

#include "migrations/safe_apply.h"

namespace aura::migrations {

struct RollbackOptions {
  std::string database;
  std::string target;  // a migration's id or name that stays applied, or "0" for all
  bool yes = false;    // allow a rollback by snapshot
  bool dry_run = false;
  bool break_stale_lock = false;
  std::chrono::seconds stale_lock_after{std::chrono::hours(1)};
  int busy_timeout_ms = 60000;
  uint64_t full_check_max_bytes = 256ull << 20;
  std::string scratch_dir;
  SnapshotSeam* snapshots = nullptr;  // required for a rollback by snapshot; else optional
  const Clock* clock = &SystemClock::Instance();
};

struct RollbackReport {
  std::string outcome;  // "rolled_back", "nothing_to_do", "dry_run", "needs_yes", "refused"
  std::string method;   // "down_files" or "snapshot"
  Status status;
  std::vector<std::string> rolled_back;  // ids, newest first
  std::string snapshot;  // the snapshot restored (method snapshot) or taken before (down files)
  std::vector<std::string> checks;
  int64_t duration_ms = 0;
};

RollbackReport RollbackMigrations(const std::vector<Migration>& sources, const RollbackOptions& o);

}  // namespace aura::migrations
