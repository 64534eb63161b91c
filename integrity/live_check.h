// Checks of a live database, the one the application is using: PRAGMA quick_check ("quick") or
// integrity_check plus foreign_key_check ("full"), read-only, inside one read transaction, within
// a time budget.
//
// In WAL mode a reader never blocks the application's writers (they append to the WAL while the
// check reads its snapshot). A rollback-journal database cannot give that promise: the check's
// shared lock holds off a writer's commit for as long as it reads (busy_timeout on their side);
// the time budget bounds it.
//
// Thread-safety: independent calls may run concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/sqlite_integrity.h"
#include "common/status.h"

namespace aura::integrity {

struct LiveCheckOptions {
  IntegrityLevel level = IntegrityLevel::kQuick;
  int busy_timeout_ms = 5000;
  // Stop after this long (0: no limit); a check cut short is kUnavailable ("try again"), never a
  // pass.
  std::chrono::milliseconds budget{0};
  int max_problems = 20;
};

struct LiveCheckResult {
  std::vector<std::string> problems;  // integrity problems, then foreign key violations
  int64_t duration_ms = 0;
  bool ok() const { return problems.empty(); }
};

// kNotFound / kNotADatabase for a path that is not a database; kBusy if it stays locked.
Result<LiveCheckResult> CheckLiveDatabase(const std::string& path, const LiveCheckOptions& options);

}  // namespace aura::integrity
