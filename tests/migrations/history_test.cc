#include "migrations/history.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_env.h"

namespace aura::migrations {
namespace {

// EF Core's DDL as `dotnet ef migrations script` writes it for SQLite.
constexpr const char* kEfHistoryDdl =
    "CREATE TABLE IF NOT EXISTS \"__EFMigrationsHistory\" (\n"
    "    \"MigrationId\" TEXT NOT NULL CONSTRAINT \"PK___EFMigrationsHistory\" PRIMARY KEY,\n"
    "    \"ProductVersion\" TEXT NOT NULL\n"
    ");";

std::string CollapseSpace(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool space = c == ' ' || c == '\n' || c == '\t';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  return out;
}

std::string TableSql(SqliteDb& db, const std::string& table) {
  auto st = db.Prepare("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1");
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(st->BindAll(table).ok());
  auto row = st->Step();
  if (!row.ok() || !*row) return "";
  return st->ColumnText(0);
}

class HistoryTest : public ::testing::Test {
 protected:
  SqliteDb Open(const std::string& name) {
    auto db = SqliteDb::OpenOrCreate(dir_ / name, 1000);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return std::move(db).value();
  }
  aura::testing::TempDir dir_;
};

TEST_F(HistoryTest, MissingTablesReadAsEmptyAndAreNotCreated) {
  SqliteDb db = Open("app.db");
  auto history = ReadHistory(db);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  EXPECT_TRUE(history->empty());
  auto audit = ReadAudit(db);
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  EXPECT_TRUE(audit->empty());
  EXPECT_EQ(*db.QueryInt("SELECT count(*) FROM sqlite_master"), 0);
}

TEST_F(HistoryTest, CreatesHistoryTableWithEfCoresExactDdl) {
  SqliteDb ours = Open("ours.db");
  ASSERT_TRUE(EnsureHistoryTables(ours).ok());
  SqliteDb ef = Open("ef.db");
  ASSERT_TRUE(ef.Exec(kEfHistoryDdl).ok());
  std::string ours_sql = TableSql(ours, "__EFMigrationsHistory");
  ASSERT_FALSE(ours_sql.empty());
  EXPECT_EQ(CollapseSpace(ours_sql), CollapseSpace(TableSql(ef, "__EFMigrationsHistory")));
  EXPECT_NE(ours_sql.find("CONSTRAINT \"PK___EFMigrationsHistory\" PRIMARY KEY"),
            std::string::npos);
  EXPECT_FALSE(TableSql(ours, std::string(kAuditTable)).empty());
  // Idempotent.
  EXPECT_TRUE(EnsureHistoryTables(ours).ok());
}

TEST_F(HistoryTest, ReadsTableTheApplicationCreatedAndFilled) {
  SqliteDb db = Open("app.db");
  ASSERT_TRUE(db.Exec(kEfHistoryDdl).ok());
  ASSERT_TRUE(db.Exec("INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", "
                      "\"ProductVersion\") VALUES ('20251201000000_AddPriority', '9.0.1');"
                      "INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", "
                      "\"ProductVersion\") VALUES ('20251110120000_InitialCreate', '8.0.10');")
                  .ok());
  ASSERT_TRUE(EnsureHistoryTables(db).ok());  // the existing table is kept
  auto history = ReadHistory(db);
  ASSERT_TRUE(history.ok()) << history.status().ToString();
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].id, "20251110120000_InitialCreate");
  EXPECT_EQ((*history)[0].product_version, "8.0.10");
  EXPECT_EQ((*history)[1].id, "20251201000000_AddPriority");
  EXPECT_EQ((*history)[1].product_version, "9.0.1");
}

TEST_F(HistoryTest, InsertAndDeleteHistoryRows) {
  SqliteDb db = Open("app.db");
  ASSERT_TRUE(EnsureHistoryTables(db).ok());
  ASSERT_TRUE(InsertHistory(db, "20251201000000_AddPriority", "9.0.0").ok());
  ASSERT_TRUE(InsertHistory(db, "20251110120000_InitialCreate", "9.0.0").ok());
  EXPECT_FALSE(InsertHistory(db, "20251110120000_InitialCreate", "9.0.0").ok());  // primary key
  ASSERT_TRUE(DeleteHistory(db, "20251201000000_AddPriority").ok());
  auto history = ReadHistory(db);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 1u);
  EXPECT_EQ((*history)[0].id, "20251110120000_InitialCreate");
  Status again = DeleteHistory(db, "20251201000000_AddPriority");
  EXPECT_EQ(again.code(), Code::kNotFound);
  EXPECT_NE(again.message().find("20251201000000_AddPriority"), std::string::npos);
}

AuditRecord Record(const std::string& id, const std::string& action, int64_t ms) {
  AuditRecord r;
  r.seq = 99;  // ignored
  r.migration_id = id;
  r.action = action;
  r.file = id + ".sql";
  r.sha256 = std::string(64, 'a');
  r.applied_at = "2026-12-01T10:00:00Z";
  r.duration_ms = ms;
  r.agent_version = "0.1.0";
  r.snapshot = "20261201T095959.000Z-abc";
  r.outcome = action == "apply" ? "applied" : "rolled_back";
  r.applied_by = "ops@db1";
  r.detail = action == "rollback" ? "down file" : "";
  return r;
}

TEST_F(HistoryTest, AuditRoundTripInSeqOrder) {
  SqliteDb db = Open("app.db");
  ASSERT_TRUE(EnsureHistoryTables(db).ok());
  AuditRecord first = Record("20251201000000_AddPriority", "apply", 1234);
  AuditRecord second = Record("20251201000000_AddPriority", "rollback", 56);
  second.sha256 = "";
  ASSERT_TRUE(AppendAudit(db, first).ok());
  ASSERT_TRUE(AppendAudit(db, second).ok());
  auto audit = ReadAudit(db);
  ASSERT_TRUE(audit.ok()) << audit.status().ToString();
  ASSERT_EQ(audit->size(), 2u);
  const AuditRecord& a = (*audit)[0];
  const AuditRecord& b = (*audit)[1];
  EXPECT_LT(a.seq, b.seq);
  EXPECT_NE(a.seq, 99);
  EXPECT_EQ(a.migration_id, first.migration_id);
  EXPECT_EQ(a.action, "apply");
  EXPECT_EQ(a.file, "20251201000000_AddPriority.sql");
  EXPECT_EQ(a.sha256, std::string(64, 'a'));
  EXPECT_EQ(a.applied_at, "2026-12-01T10:00:00Z");
  EXPECT_EQ(a.duration_ms, 1234);
  EXPECT_EQ(a.agent_version, "0.1.0");
  EXPECT_EQ(a.snapshot, "20261201T095959.000Z-abc");
  EXPECT_EQ(a.outcome, "applied");
  EXPECT_EQ(a.applied_by, "ops@db1");
  EXPECT_EQ(a.detail, "");
  EXPECT_EQ(b.action, "rollback");
  EXPECT_EQ(b.sha256, "");
  EXPECT_EQ(b.duration_ms, 56);
  EXPECT_EQ(b.outcome, "rolled_back");
  EXPECT_EQ(b.detail, "down file");
}

TEST_F(HistoryTest, AuditAppendFailsWithoutTable) {
  SqliteDb db = Open("app.db");
  EXPECT_FALSE(AppendAudit(db, Record("20251201000000_AddPriority", "apply", 1)).ok());
}

TEST(CurrentUserAtHost, IsUserAtHost) {
  std::string who = CurrentUserAtHost();
  size_t at = who.find('@');
  ASSERT_NE(at, std::string::npos) << who;
  EXPECT_GT(at, 0u);
  EXPECT_LT(at + 1, who.size());
}

}  // namespace
}  // namespace aura::migrations
