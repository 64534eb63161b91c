#include "integrity/live_check.h"

#include <sqlite3.h>

#include "common/clock.h"

namespace aura::integrity {

namespace {

struct Deadline {
  std::chrono::steady_clock::time_point at;
  bool hit = false;
};

int OnProgress(void* arg) {
  auto* d = static_cast<Deadline*>(arg);
  if (std::chrono::steady_clock::now() < d->at) return 0;
  d->hit = true;
  return 1;  // interrupts the statement
}

}  // namespace

Result<LiveCheckResult> CheckLiveDatabase(const std::string& path,
                                          const LiveCheckOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  AURA_ASSIGN_OR_RETURN(SqliteDb db,
                        SqliteDb::Open(path, SQLITE_OPEN_READONLY, options.busy_timeout_ms));
  Deadline deadline{t0 + options.budget};
  if (options.budget.count() > 0) sqlite3_progress_handler(db.get(), 1000, OnProgress, &deadline);
  AURA_RETURN_IF_ERROR(db.Exec("BEGIN"));  // one read transaction: one consistent image
  LiveCheckResult out;
  auto problems = RunIntegrityCheck(db, options.level, options.max_problems);
  Result<std::vector<std::string>> fk = std::vector<std::string>{};
  if (problems.ok() && options.level == IntegrityLevel::kFull) {
    fk = ForeignKeyViolations(db, static_cast<size_t>(options.max_problems));
  }
  (void)db.Exec("COMMIT");  // read-only: nothing to keep or lose
  if (deadline.hit) {
    return Unavailable(path + ": the " + std::string(IntegrityLevelName(options.level)) +
                       " check did not finish within its budget of " +
                       std::to_string(options.budget.count()) +
                       " ms; it proves nothing either "
                       "way (raise the budget or run it when the database is quieter)");
  }
  if (!problems.ok()) return problems.status();
  if (!fk.ok()) return fk.status();
  out.problems = std::move(problems).value();
  out.problems.insert(out.problems.end(), fk->begin(), fk->end());
  out.duration_ms = MillisSince(t0);
  return out;
}

}  // namespace aura::integrity
