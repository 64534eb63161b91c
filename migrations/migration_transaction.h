// One transaction that runs pending migrations: the step the rehearsal runs on a scratch copy
// (rolled back) and the live apply runs on the database (committed). Both run exactly the same
// statements and checks, so what the rehearsal proves is what the live apply does.
//
// PRAGMA foreign_keys is turned off before BEGIN IMMEDIATE and restored after COMMIT or ROLLBACK:
// inside a transaction the pragma is a no-op, and with foreign keys on, EF Core's rebuild of a
// parent table (DROP TABLE, then RENAME of the copy) deletes every child row through ON DELETE
// CASCADE (EF Core #37598). foreign_key_check before COMMIT catches any reference the migration
// broke instead.
//
// Thread-safety: the caller's connection.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/sqlite.h"
#include "common/status.h"
#include "migrations/data_loss.h"
#include "migrations/history.h"
#include "migrations/migration_source.h"

namespace aura::migrations {

struct TransactionOptions {
  std::string product_version;
  std::vector<std::string> assertions;
  uint64_t full_check_max_bytes = 256ull << 20;
  bool commit = false;      // false: roll back at the end (the rehearsal)
  bool count_rows = false;  // row counts before and after, inside the transaction
  // integrity_check/quick_check before COMMIT. The rehearsal skips it: a migration cannot make
  // SQLite's b-trees inconsistent, and the live apply runs it on what it commits.
  bool integrity_check = true;
  std::function<Status(int)> statement_hook;
  // With count_rows: called with the counts once every migration ran, before the checks (the
  // data-loss guard); a non-OK status rolls back.
  std::function<Status(const RowCounts& before, const RowCounts& after)> row_guard;
  AuditRecord audit;  // template for each migration's audit row (snapshot, applied_by, ...)
  const Clock* clock = &SystemClock::Instance();
};

struct TransactionResult {
  Status status;
  RowCounts before, after;
  std::vector<std::string> checks;
  std::vector<std::pair<std::string, int64_t>> timings;  // (id, ms)
  int64_t write_lock_ms = 0;
};

// PRAGMA foreign_keys=OFF, BEGIN IMMEDIATE, `body`, then COMMIT (when `commit` and the body
// succeeded) or ROLLBACK, and foreign_keys back as it was: the frame of every migration and
// rollback transaction. `write_lock_ms` (optional) receives how long the write lock was held.
Status RunWithForeignKeysOff(SqliteDb& db, bool commit, const std::function<Status()>& body,
                             int64_t* write_lock_ms = nullptr);

TransactionResult RunMigrationTransaction(SqliteDb& db, const std::vector<Migration>& pending,
                                          const TransactionOptions& o);

// foreign_key_check, integrity_check (quick_check when the database is larger than
// `full_check_max_bytes`) and each assertion, appending what passed to `checks`; kRefused
// naming the first failure.
Status RunPreCommitChecks(SqliteDb& db, const std::vector<std::string>& assertions,
                          uint64_t full_check_max_bytes, std::vector<std::string>& checks,
                          bool integrity_check = true);

// Runs one migration statement; kRefused "FILE:LINE: migration ID: <sqlite error>", kBusy when
// a lock could not be had, kIOError for a full disk or an I/O error.
Status RunStatement(SqliteDb& db, const Migration& m, const SqlStatement& s);

}  // namespace aura::migrations
