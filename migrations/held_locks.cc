#include "migrations/held_locks.h"

#include <spdlog/spdlog.h>

namespace aura::migrations {

Result<HeldLocks> HeldLocks::Take(SqliteDb& db, TimePoint now, std::chrono::seconds stale_after,
                                  bool break_stale) {
  AURA_ASSIGN_OR_RETURN(MigrationLock lock, MigrationLock::Acquire(db.path()));
  AURA_ASSIGN_OR_RETURN(bool ef, TakeEfLock(db, now, stale_after, break_stale));
  return HeldLocks(&db, std::move(lock), ef);
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
