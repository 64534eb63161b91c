#include "migrations/held_locks.h"

#include <spdlog/spdlog.h>

namespace aura::migrations {

namespace {

constexpr std::string_view kEfNote = "ef-lock ";

// EF's lock row was written by an aura-agent killed while it held the lock: the killed run noted
// the row's timestamp in the lock file it left.
bool LeftByKilledAgent(SqliteDb& db, const MigrationLock& lock) {
  if (lock.left_by_killed_holder().empty()) return false;
  auto state = ReadEfLock(db);
  return state.ok() && state->held &&
         lock.left_by_killed_holder().find(std::string(kEfNote) + state->timestamp + "\n") !=
             std::string::npos;
}

}  // namespace

Result<HeldLocks> HeldLocks::Take(SqliteDb& db, TimePoint now, std::chrono::seconds stale_after,
                                  bool break_stale) {
  AURA_ASSIGN_OR_RETURN(MigrationLock lock, MigrationLock::Acquire(db.path()));
  auto ef = TakeEfLock(db, now, stale_after, break_stale);
  if (!ef.ok() && ef.status().code() == Code::kBusy && LeftByKilledAgent(db, lock)) {
    spdlog::warn(
        "{}: taking over the EF Core migration lock row an aura-agent killed during a "
        "migration left",
        db.path());
    ef = TakeEfLock(db, now, std::chrono::seconds(0), true);
  }
  if (!ef.ok()) return ef.status();
  if (*ef) {
    auto state = ReadEfLock(db);
    if (state.ok()) (void)lock.Note(std::string(kEfNote) + state->timestamp);
  }
  return HeldLocks(&db, std::move(lock), *ef);
}

HeldLocks::HeldLocks(HeldLocks&& other) noexcept
    : db_(other.db_), lock_(std::move(other.lock_)), ef_(std::exchange(other.ef_, false)) {
  other.lock_.reset();
}

HeldLocks::~HeldLocks() {
  if (ef_) {
    Status s = ReleaseEfLock(*db_);
    if (!s.ok()) spdlog::warn("releasing EF Core's migration lock: {}", s.message());
  }
}

}  // namespace aura::migrations
