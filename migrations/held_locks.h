// Both migration locks (migration_lock.h) held together for one apply or rollback, released in
// reverse order: EF Core's row first (in a transaction of its own), then the agent's file.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "migrations/migration_lock.h"

namespace aura::migrations {

class HeldLocks {
 public:
  // `db` must outlive the locks.
  static Result<HeldLocks> Take(SqliteDb& db, TimePoint now, std::chrono::seconds stale_after,
                                bool break_stale);
  HeldLocks(HeldLocks&& other) noexcept;
  HeldLocks& operator=(HeldLocks&&) = delete;
  HeldLocks(const HeldLocks&) = delete;
  HeldLocks& operator=(const HeldLocks&) = delete;
  ~HeldLocks();

 private:
  HeldLocks(SqliteDb* db, MigrationLock lock, bool ef) : db_(db), lock_(std::move(lock)), ef_(ef) {}
  SqliteDb* db_;
  std::optional<MigrationLock> lock_;
  bool ef_;
};

}  // namespace aura::migrations
