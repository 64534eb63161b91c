#include "migrations/sql_text.h"

#include <gtest/gtest.h>

namespace aura::migrations {
namespace {

std::vector<SqlStatement> Split(std::string_view text) {
  auto r = SplitStatements(text, "m.sql");
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<SqlStatement>{};
}

Classified ClassifySql(const std::string& sql) { return Classify(SqlStatement{sql, 1}); }

TEST(SplitStatements, SplitsOnSemicolonsWithLinesAndTrimming) {
  auto st = Split("CREATE TABLE a (x);\n\n  INSERT INTO a VALUES (1) ;\nSELECT 2");
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].sql, "CREATE TABLE a (x)");
  EXPECT_EQ(st[0].line, 1);
  EXPECT_EQ(st[1].sql, "INSERT INTO a VALUES (1)");
  EXPECT_EQ(st[1].line, 3);
  EXPECT_EQ(st[2].sql, "SELECT 2");  // unterminated remainder kept
  EXPECT_EQ(st[2].line, 4);
}

TEST(SplitStatements, TriggerBodyIsOneStatement) {
  auto st = Split(
      "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n"
      "  INSERT INTO log VALUES (1);\n"
      "  DELETE FROM b;\n"
      "END;\n"
      "SELECT 1;");
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].sql.substr(0, 14), "CREATE TRIGGER");
  EXPECT_EQ(st[0].sql.substr(st[0].sql.size() - 3), "END");
  EXPECT_EQ(st[1].sql, "SELECT 1");
  EXPECT_EQ(st[1].line, 5);
}

TEST(SplitStatements, SemicolonsInStringsNamesAndCommentsEndNothing) {
  auto st = Split(
      "INSERT INTO a VALUES ('x;y', 'it''s;');\n"
      "SELECT \"we;ird\", [br;acket], `back;tick` FROM a; -- trailing; comment\n"
      "SELECT 1 /* in ; block */ + 2;");
  ASSERT_EQ(st.size(), 3u);
  EXPECT_EQ(st[0].sql, "INSERT INTO a VALUES ('x;y', 'it''s;')");
  EXPECT_EQ(st[1].sql, "SELECT \"we;ird\", [br;acket], `back;tick` FROM a");
  EXPECT_EQ(st[2].sql, "SELECT 1 /* in ; block */ + 2");
  EXPECT_EQ(st[2].line, 3);
}

TEST(SplitStatements, CommentOnlyStatementsAndTrailingCommentsAreDropped) {
  auto st = Split(
      "-- header comment\n"
      "/* multi\n line */\n"
      "SELECT 1;\n"
      "-- just a comment;\n"
      ";\n"
      "/* trailing */ -- end\n");
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].sql, "SELECT 1");
  EXPECT_EQ(st[0].line, 4);  // the line of its first token, after the comments
}

TEST(SplitStatements, UnterminatedStringNamesFileAndLine) {
  auto r = SplitStatements("SELECT 1;\nINSERT INTO a VALUES ('oops);\n", "x.sql");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "x.sql:2: unterminated string");
}

TEST(SplitStatements, UnterminatedQuotedNameAndComment) {
  auto name = SplitStatements("SELECT 1;\n\nSELECT \"abc;", "x.sql");
  ASSERT_FALSE(name.ok());
  EXPECT_EQ(name.status().message(), "x.sql:3: unterminated quoted name");
  auto comment = SplitStatements("SELECT 1; /* never\nclosed", "x.sql");
  ASSERT_FALSE(comment.ok());
  EXPECT_EQ(comment.status().message(), "x.sql:1: unterminated comment");
}

TEST(Tokenize, KindsAndUnquoting) {
  auto t = Tokenize("INSERT INTO \"We\"\"ird\" ([x], `y`) VALUES ('it''s', 12.5e-3) -- c\n;");
  ASSERT_EQ(t.size(), 15u);
  EXPECT_EQ(t[0].kind, TokenKind::kWord);
  EXPECT_TRUE(t[0].IsKeyword("insert"));
  EXPECT_EQ(t[2].kind, TokenKind::kQuotedName);
  EXPECT_EQ(t[2].text, "We\"ird");
  EXPECT_EQ(t[3].kind, TokenKind::kPunct);
  EXPECT_EQ(t[4].text, "x");
  EXPECT_EQ(t[4].kind, TokenKind::kQuotedName);
  EXPECT_EQ(t[6].text, "y");
  EXPECT_EQ(t[10].kind, TokenKind::kString);
  EXPECT_EQ(t[10].text, "it's");
  EXPECT_EQ(t[12].kind, TokenKind::kNumber);
  EXPECT_EQ(t[12].text, "12.5e-3");
  EXPECT_EQ(t[14].text, ";");
}

TEST(Tokenize, IsNameAndIsKeyword) {
  auto t = Tokenize("select \"select\" 'select' Tbl");
  ASSERT_EQ(t.size(), 4u);
  EXPECT_TRUE(t[0].IsKeyword("SELECT"));
  EXPECT_FALSE(t[1].IsKeyword("SELECT"));  // quoted: a name, never a keyword
  EXPECT_TRUE(t[1].IsName("SELECT"));
  EXPECT_FALSE(t[2].IsName("select"));  // a string is not a name
  EXPECT_TRUE(t[3].IsName("tbl"));
  EXPECT_FALSE(t[3].IsName("tb"));
}

TEST(Classify, TransactionWrappers) {
  EXPECT_EQ(ClassifySql("BEGIN TRANSACTION").kind, StatementKind::kBegin);
  EXPECT_EQ(ClassifySql("begin immediate").kind, StatementKind::kBegin);
  EXPECT_EQ(ClassifySql("COMMIT").kind, StatementKind::kCommit);
  EXPECT_EQ(ClassifySql("END TRANSACTION").kind, StatementKind::kCommit);
  EXPECT_EQ(ClassifySql("SAVEPOINT s").kind, StatementKind::kRun);
  EXPECT_EQ(ClassifySql("RELEASE s").kind, StatementKind::kRun);
  EXPECT_EQ(ClassifySql("ROLLBACK TO s").kind, StatementKind::kRun);
  Classified rollback = ClassifySql("ROLLBACK");
  EXPECT_EQ(rollback.kind, StatementKind::kRejected);
  EXPECT_NE(rollback.reason.find("ROLLBACK"), std::string::npos);
}

TEST(Classify, PragmasAndConnectionStatements) {
  EXPECT_EQ(ClassifySql("PRAGMA foreign_keys = 0").kind, StatementKind::kForeignKeysPragma);
  EXPECT_EQ(ClassifySql("PRAGMA main.FOREIGN_KEYS=1").kind, StatementKind::kForeignKeysPragma);
  EXPECT_EQ(ClassifySql("PRAGMA foreign_key_check").kind, StatementKind::kRun);
  EXPECT_EQ(ClassifySql("PRAGMA user_version = 3").kind, StatementKind::kRun);
  Classified wal = ClassifySql("PRAGMA journal_mode=WAL");
  EXPECT_EQ(wal.kind, StatementKind::kRejected);
  EXPECT_NE(wal.reason.find("journal_mode"), std::string::npos);
  EXPECT_EQ(ClassifySql("PRAGMA writable_schema = 1").kind, StatementKind::kRejected);
  Classified vacuum = ClassifySql("VACUUM");
  EXPECT_EQ(vacuum.kind, StatementKind::kRejected);
  EXPECT_EQ(vacuum.reason,
            "VACUUM cannot run inside a transaction; run it separately after the migration");
  EXPECT_EQ(ClassifySql("ATTACH DATABASE 'x.db' AS x").kind, StatementKind::kRejected);
  EXPECT_EQ(ClassifySql("DETACH x").kind, StatementKind::kRejected);
}

TEST(Classify, HistoryTableStatements) {
  EXPECT_EQ(ClassifySql("CREATE TABLE IF NOT EXISTS \"__EFMigrationsHistory\" (\n"
                        "\"MigrationId\" TEXT NOT NULL CONSTRAINT \"PK___EFMigrationsHistory\" "
                        "PRIMARY KEY,\n\"ProductVersion\" TEXT NOT NULL)")
                .kind,
            StatementKind::kCreateHistory);
  Classified insert = ClassifySql(
      "INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\")\n"
      "VALUES ('20251110120000_InitialCreate', '8.0.11')");
  EXPECT_EQ(insert.kind, StatementKind::kHistoryInsert);
  EXPECT_EQ(insert.migration_id, "20251110120000_InitialCreate");
  EXPECT_EQ(insert.product_version, "8.0.11");
  Classified del = ClassifySql(
      "DELETE FROM \"__EFMigrationsHistory\" WHERE \"MigrationId\" = '20251110120000_X'");
  EXPECT_EQ(del.kind, StatementKind::kHistoryDelete);
  EXPECT_EQ(del.migration_id, "20251110120000_X");
}

TEST(Classify, OtherHistoryAndLockStatementsAreRejected) {
  for (const char* sql : {
           "UPDATE \"__EFMigrationsHistory\" SET \"ProductVersion\" = '9.0.0'",
           "DROP TABLE __EFMigrationsHistory",
           "INSERT INTO \"__EFMigrationsHistory\" VALUES ('20251110120000_A', 1)",
           "INSERT INTO \"__EFMigrationsHistory\" SELECT * FROM other",
           "DELETE FROM \"__EFMigrationsHistory\"",
           "DROP TABLE \"__EFMigrationsLock\"",
           "UPDATE \"__EFMigrationsLock\" SET \"Timestamp\" = 'x'",
       }) {
    Classified c = ClassifySql(sql);
    EXPECT_EQ(c.kind, StatementKind::kRejected) << sql;
    EXPECT_FALSE(c.reason.empty()) << sql;
  }
}

// EF Core 9+'s lock statements, should a script carry them, are the runner's business: skipped,
// never run from the file (the runner takes that lock itself).
TEST(Classify, EfLockStatementsAreHandledByTheRunner) {
  for (const char* sql : {
           "CREATE TABLE IF NOT EXISTS \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
           "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL)",
           "INSERT OR IGNORE INTO \"__EFMigrationsLock\"(\"Id\", \"Timestamp\") VALUES(1, "
           "'2026-12-02T01:02:03.0000000+00:00')",
           "DELETE FROM \"__EFMigrationsLock\"",
       }) {
    EXPECT_EQ(ClassifySql(sql).kind, StatementKind::kEfLock) << sql;
  }
}

TEST(Classify, OrdinaryStatementsRun) {
  EXPECT_EQ(ClassifySql("CREATE TABLE \"Notes\" (\"Id\" INTEGER)").kind, StatementKind::kRun);
  EXPECT_EQ(ClassifySql("INSERT INTO t VALUES ('__EFMigrationsHistory')").kind,
            StatementKind::kRun);  // a string, not the table
  EXPECT_EQ(ClassifySql("CREATE TRIGGER tr AFTER DELETE ON a BEGIN DELETE FROM b; END").kind,
            StatementKind::kRun);
}

}  // namespace
}  // namespace aura::migrations
