// The locks a migration holds from before its pre-migration snapshot to after its health check.
//
// The agent's own: an exclusive platform::FileLock on "<database>.aura-migrate.lock" (flock(2) on
// POSIX), a file holding the holder's pid and start time, removed on release (whoever locks it
// next re-checks that the path still names the file it locked). flock, not fcntl: SQLite's own
// locks on the database are fcntl locks, which any close() of the same file by this process
// would drop.
//
// EF Core 9+'s: the table "__EFMigrationsLock" ("Id" INTEGER PRIMARY KEY, "Timestamp" TEXT),
// which EF takes with INSERT OR IGNORE of row Id 1 and releases by DELETE. Its row has no
// timeout, so a killed process leaves it forever; a row older than `stale_after` is reported as
// stale and taken over only when asked (--break-stale-lock). When the table does not exist
// (EF Core 8, the Aura application), there is nothing to take.
//
// Thread-safety: a MigrationLock is owned by one thread; the EF functions use the caller's
// connection.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/platform.h"
#include "common/sqlite.h"
#include "common/status.h"

namespace aura::migrations {

class MigrationLock {
 public:
  // kBusy "another aura-agent (pid N, since T) is migrating DB; wait for it or stop it" when
  // held; kIOError/kPermissionDenied when the lock file cannot be created.
  static Result<MigrationLock> Acquire(const std::string& database_path);
  MigrationLock(MigrationLock&& other) noexcept = default;
  MigrationLock& operator=(MigrationLock&& other) noexcept;
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;
  ~MigrationLock();  // unlinks the lock file, then releases

  // What a holder killed before it released the lock left in the file (its "pid ... since ..."
  // line and any Note), empty when the file was new. A killed agent's own EF lock row is
  // recognized by it (held_locks.h).
  const std::string& left_by_killed_holder() const { return left_; }
  // Appends a line to the lock file (kept when this process is killed).
  Status Note(const std::string& line);

 private:
  MigrationLock(platform::FileLock lock, std::string left)
      : lock_(std::move(lock)), left_(std::move(left)) {}
  platform::FileLock lock_;
  std::string left_;
};

struct EfLockState {
  bool table_exists = false;
  bool held = false;
  std::string timestamp;           // as stored
  std::optional<TimePoint> since;  // parsed; nullopt when the text is not a time
};

Result<EfLockState> ReadEfLock(SqliteDb& db);

// Takes EF Core's lock when its table exists, in a transaction of its own; returns whether it was
// taken (false: no table). A row already there: kBusy "EF Core's migration lock
// (__EFMigrationsLock) is held since T; ..." when younger than `stale_after`; when older, kBusy
// saying it is stale (left by a killed process) and to pass --break-stale-lock, unless
// `break_stale`, when the row is replaced with ours. An unparsable timestamp counts as stale.
// The timestamp written is EF's format, "2026-12-02T01:02:03.0000000+00:00".
Result<bool> TakeEfLock(SqliteDb& db, TimePoint now, std::chrono::seconds stale_after,
                        bool break_stale);
// Deletes the lock row (DELETE FROM "__EFMigrationsLock"), in a transaction of its own.
Status ReleaseEfLock(SqliteDb& db);

}  // namespace aura::migrations
