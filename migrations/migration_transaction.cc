#include "migrations/migration_transaction.h"

#include <chrono>
#include <optional>

#include "common/sqlite_integrity.h"
#include "common/version.h"

namespace aura::migrations {

namespace {

using SteadyClock = std::chrono::steady_clock;

Result<uint64_t> DatabaseBytes(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(int64_t pages, db.QueryInt("PRAGMA page_count"));
  AURA_ASSIGN_OR_RETURN(int64_t size, db.QueryInt("PRAGMA page_size"));
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(size);
}

// Runs every statement of `m`, then writes its history and audit rows.
Status RunOne(SqliteDb& db, const Migration& m, const TransactionOptions& o, int& index) {
  auto t0 = SteadyClock::now();
  for (const SqlStatement& s : m.up) {
    if (o.statement_hook) {
      Status hooked = o.statement_hook(index);
      if (!hooked.ok()) {
        return Refused(m.file + ":" + std::to_string(s.line) + ": migration " + m.id + ": " +
                       hooked.message());
      }
    }
    ++index;
    AURA_RETURN_IF_ERROR(RunStatement(db, m, s));
  }
  AURA_RETURN_IF_ERROR(InsertHistory(db, m.id, o.product_version));
  AuditRecord a = o.audit;
  a.migration_id = m.id;
  a.action = "apply";
  a.outcome = "applied";
  a.file = m.file.substr(m.file.find_last_of('/') + 1);
  a.sha256 = m.sha256;
  a.applied_at = FormatRfc3339(o.clock->Now(), 3);
  a.duration_ms = MillisSince(t0);
  return AppendAudit(db, a);
}

// Everything between BEGIN and COMMIT/ROLLBACK.
Status RunBody(SqliteDb& db, const std::vector<Migration>& pending, const TransactionOptions& o,
               TransactionResult& r) {
  if (o.count_rows) {
    AURA_ASSIGN_OR_RETURN(r.before, CountRows(db));
  }
  AURA_RETURN_IF_ERROR(EnsureHistoryTables(db));
  int index = 0;
  for (const Migration& m : pending) {
    auto t0 = SteadyClock::now();
    AURA_RETURN_IF_ERROR(RunOne(db, m, o, index));
    r.timings.emplace_back(m.id, MillisSince(t0));
  }
  if (o.count_rows) {
    AURA_ASSIGN_OR_RETURN(r.after, CountRows(db));
    if (o.row_guard) AURA_RETURN_IF_ERROR(o.row_guard(r.before, r.after));
  }
  return RunPreCommitChecks(db, o.assertions, o.full_check_max_bytes, r.checks, o.integrity_check);
}

// integrity_check, or quick_check when the database is larger than `full_check_max_bytes`.
Status RunIntegrity(SqliteDb& db, uint64_t full_check_max_bytes, std::vector<std::string>& checks) {
  AURA_ASSIGN_OR_RETURN(uint64_t bytes, DatabaseBytes(db));
  IntegrityLevel level =
      bytes > full_check_max_bytes ? IntegrityLevel::kQuick : IntegrityLevel::kFull;
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> problems, RunIntegrityCheck(db, level, 10));
  std::string name = level == IntegrityLevel::kFull ? "integrity_check" : "quick_check";
  if (!problems.empty()) {
    return Refused(name + " after the migrations: " + problems.front() + "; nothing was changed");
  }
  checks.push_back(name + " ok");
  return Status::Ok();
}

}  // namespace

Status RunStatement(SqliteDb& db, const Migration& m, const SqlStatement& s) {
  char* err = nullptr;
  int rc = sqlite3_exec(db.get(), s.sql.c_str(), nullptr, nullptr, &err);
  std::string message = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (rc == SQLITE_OK) return Status::Ok();
  std::string where = m.file + ":" + std::to_string(s.line) + ": migration " + m.id + ": ";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Busy(where + message + "; another connection holds a lock, retry later");
    case SQLITE_FULL:
      return IOError(where + message + " (disk full)");
    case SQLITE_IOERR:
      return IOError(where + message);
    default:
      return Refused(where + message + "; fix the migration, nothing was changed");
  }
}

Status RunPreCommitChecks(SqliteDb& db, const std::vector<std::string>& assertions,
                          uint64_t full_check_max_bytes, std::vector<std::string>& checks,
                          bool integrity_check) {
  auto violations = ForeignKeyViolations(db, 10);
  if (!violations.ok()) {
    return Refused(
        "foreign_key_check cannot run after the migrations: " + violations.status().message() +
        " (a foreign key names a parent column that is no longer a primary key or "
        "unique); fix the migration, nothing was changed");
  }
  const std::vector<std::string>& fk = *violations;
  if (!fk.empty()) {
    std::string all;
    for (size_t i = 0; i < fk.size() && i < 3; ++i) all += (i == 0 ? "" : "; ") + fk[i];
    if (fk.size() > 3) all += "; and more";
    return Refused("foreign_key_check after the migrations: " + all +
                   "; the migration breaks references, nothing was changed");
  }
  checks.push_back("foreign_key_check ok");
  if (integrity_check) AURA_RETURN_IF_ERROR(RunIntegrity(db, full_check_max_bytes, checks));
  for (const std::string& sql : assertions) {
    AURA_ASSIGN_OR_RETURN(bool holds, AssertionHolds(db, sql));
    if (!holds) {
      return Refused("assertion `" + sql + "` is false after the migrations; nothing was changed");
    }
    checks.push_back("assertion `" + sql + "` true");
  }
  return Status::Ok();
}

Status RunWithForeignKeysOff(SqliteDb& db, bool commit, const std::function<Status()>& body,
                             int64_t* write_lock_ms) {
  AURA_ASSIGN_OR_RETURN(int64_t fk, db.QueryInt("PRAGMA foreign_keys"));
  AURA_RETURN_IF_ERROR(db.Exec("PRAGMA foreign_keys=OFF"));
  std::optional<SteadyClock::time_point> locked;
  Status s = InWriteTransaction(
      db,
      [&] {
        locked = SteadyClock::now();
        return body();
      },
      commit);
  if (locked && write_lock_ms != nullptr) *write_lock_ms = MillisSince(*locked);
  Status restored = db.Exec(fk != 0 ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF");
  return s.ok() ? restored : s;
}

TransactionResult RunMigrationTransaction(SqliteDb& db, const std::vector<Migration>& pending,
                                          const TransactionOptions& o) {
  TransactionResult r;
  r.status = RunWithForeignKeysOff(
      db, o.commit, [&] { return RunBody(db, pending, o, r); }, &r.write_lock_ms);
  return r;
}

}  // namespace aura::migrations
