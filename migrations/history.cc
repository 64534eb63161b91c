#include "migrations/history.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>

namespace aura::migrations {
namespace {

// EF Core's DDL for SQLite, verbatim (what `dotnet ef migrations script` writes).
constexpr std::string_view kCreateHistorySql =
    "CREATE TABLE IF NOT EXISTS \"__EFMigrationsHistory\" (\n"
    "    \"MigrationId\" TEXT NOT NULL CONSTRAINT \"PK___EFMigrationsHistory\" PRIMARY KEY,\n"
    "    \"ProductVersion\" TEXT NOT NULL\n"
    ");";

constexpr std::string_view kCreateAuditSql =
    "CREATE TABLE IF NOT EXISTS \"__AuraMigrationsAudit\" (\n"
    "    \"Seq\" INTEGER PRIMARY KEY,\n"
    "    \"MigrationId\" TEXT NOT NULL,\n"
    "    \"Action\" TEXT NOT NULL,\n"
    "    \"File\" TEXT NOT NULL,\n"
    "    \"Sha256\" TEXT NOT NULL,\n"
    "    \"AppliedAt\" TEXT NOT NULL,\n"
    "    \"DurationMs\" INTEGER NOT NULL,\n"
    "    \"AgentVersion\" TEXT NOT NULL,\n"
    "    \"Snapshot\" TEXT NOT NULL,\n"
    "    \"Outcome\" TEXT NOT NULL,\n"
    "    \"AppliedBy\" TEXT NOT NULL,\n"
    "    \"Detail\" TEXT NOT NULL\n"
    ");";

Result<bool> TableExists(SqliteDb& db, std::string_view name) {
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1"));
  AURA_RETURN_IF_ERROR(st.BindAll(name));
  AURA_ASSIGN_OR_RETURN(bool row, st.Step());
  return row && st.ColumnInt64(0) > 0;
}

// Runs a one-row-changing statement with `values` bound; `what` names it in errors.
template <typename... Ts>
Status RunBound(SqliteDb& db, std::string_view sql, const std::string& what, const Ts&... values) {
  auto st = db.Prepare(sql);
  if (!st.ok()) return st.status().WithContext(what);
  AURA_RETURN_IF_ERROR(st->BindAll(values...));
  auto done = st->Step();
  if (!done.ok()) return done.status().WithContext(what);
  return Status::Ok();
}

}  // namespace

Status EnsureHistoryTables(SqliteDb& db) {
  Status s = db.Exec(kCreateHistorySql);
  if (!s.ok()) return s.WithContext("create __EFMigrationsHistory in " + db.path());
  s = db.Exec(kCreateAuditSql);
  if (!s.ok()) return s.WithContext("create __AuraMigrationsAudit in " + db.path());
  return Status::Ok();
}

Result<std::vector<AppliedMigration>> ReadHistory(SqliteDb& db) {
  std::vector<AppliedMigration> out;
  AURA_ASSIGN_OR_RETURN(bool exists, TableExists(db, "__EFMigrationsHistory"));
  if (!exists) return out;
  AURA_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("SELECT \"MigrationId\", \"ProductVersion\" FROM "
                                   "\"__EFMigrationsHistory\" ORDER BY \"MigrationId\""));
  while (true) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnText(0), st.ColumnText(1)});
  }
  return out;
}

Result<std::vector<AuditRecord>> ReadAudit(SqliteDb& db) {
  std::vector<AuditRecord> out;
  AURA_ASSIGN_OR_RETURN(bool exists, TableExists(db, kAuditTable));
  if (!exists) return out;
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT \"Seq\", \"MigrationId\", \"Action\", \"File\", \"Sha256\", "
                 "\"AppliedAt\", \"DurationMs\", \"AgentVersion\", \"Snapshot\", \"Outcome\", "
                 "\"AppliedBy\", \"Detail\" FROM \"__AuraMigrationsAudit\" ORDER BY \"Seq\""));
  while (true) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    AuditRecord r;
    r.seq = st.ColumnInt64(0);
    r.migration_id = st.ColumnText(1);
    r.action = st.ColumnText(2);
    r.file = st.ColumnText(3);
    r.sha256 = st.ColumnText(4);
    r.applied_at = st.ColumnText(5);
    r.duration_ms = st.ColumnInt64(6);
    r.agent_version = st.ColumnText(7);
    r.snapshot = st.ColumnText(8);
    r.outcome = st.ColumnText(9);
    r.applied_by = st.ColumnText(10);
    r.detail = st.ColumnText(11);
    out.push_back(std::move(r));
  }
  return out;
}

Status InsertHistory(SqliteDb& db, const std::string& id, const std::string& product_version) {
  return RunBound(db,
                  "INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\") "
                  "VALUES (?1, ?2)",
                  "record " + id + " in __EFMigrationsHistory of " + db.path(), id,
                  product_version);
}

Status DeleteHistory(SqliteDb& db, const std::string& id) {
  AURA_RETURN_IF_ERROR(
      RunBound(db, "DELETE FROM \"__EFMigrationsHistory\" WHERE \"MigrationId\" = ?1",
               "remove " + id + " from __EFMigrationsHistory of " + db.path(), id));
  if (sqlite3_changes(db.get()) == 0) {
    return NotFound(id + " is not in __EFMigrationsHistory of " + db.path() +
                    "; run 'aura-agent migrate status' to see what is applied");
  }
  return Status::Ok();
}

Status AppendAudit(SqliteDb& db, const AuditRecord& r) {
  return RunBound(db,
                  "INSERT INTO \"__AuraMigrationsAudit\" (\"MigrationId\", \"Action\", \"File\", "
                  "\"Sha256\", \"AppliedAt\", \"DurationMs\", \"AgentVersion\", \"Snapshot\", "
                  "\"Outcome\", \"AppliedBy\", \"Detail\") "
                  "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                  "append to __AuraMigrationsAudit of " + db.path(), r.migration_id, r.action,
                  r.file, r.sha256, r.applied_at, r.duration_ms, r.agent_version, r.snapshot,
                  r.outcome, r.applied_by, r.detail);
}

std::string CurrentUserAtHost() {
  std::string user;
  std::string buf(16384, '\0');
  struct passwd pw {};
  struct passwd* found = nullptr;
  if (getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr) {
    user = found->pw_name;
  }
  if (user.empty()) {
    const char* env = std::getenv("USER");
    user = env != nullptr && *env != '\0' ? env : "uid" + std::to_string(geteuid());
  }
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    return user + "@localhost";
  }
  return user + "@" + host;
}

}  // namespace aura::migrations
