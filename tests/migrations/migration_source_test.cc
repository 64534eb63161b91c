#include "migrations/migration_source.h"

#include <gtest/gtest.h>

#include <fstream>

#include "../support/test_env.h"
#include "common/hashing.h"

namespace aura::migrations {
namespace {

// What `dotnet ef migrations script` (EF Core 8, SQLite) writes for two migrations, the second a
// table rebuild that renames a column.
constexpr std::string_view kEfScript = R"(CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" TEXT NOT NULL
);

BEGIN TRANSACTION;

CREATE TABLE "ProjectStates" (
    "Id" TEXT NOT NULL CONSTRAINT "PK_ProjectStates" PRIMARY KEY,
    "Title" TEXT NOT NULL
);

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20251110120000_InitialCreate', '8.0.11');

COMMIT;

BEGIN TRANSACTION;

CREATE TABLE "ef_temp_ProjectStates" (
    "Id" TEXT NOT NULL CONSTRAINT "PK_ProjectStates" PRIMARY KEY,
    "Name" TEXT NOT NULL
);

INSERT INTO "ef_temp_ProjectStates" ("Id", "Name")
SELECT "Id", "Title"
FROM "ProjectStates";

COMMIT;

PRAGMA foreign_keys = 0;

BEGIN TRANSACTION;

DROP TABLE "ProjectStates";

ALTER TABLE "ef_temp_ProjectStates" RENAME TO "ProjectStates";

COMMIT;

PRAGMA foreign_keys = 1;

BEGIN TRANSACTION;

CREATE INDEX "IX_ProjectStates_Name" ON "ProjectStates" ("Name");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20251201090000_RenameTitle', '8.0.11');

COMMIT;
)";

std::string Replace(std::string_view text, std::string_view from, std::string_view to) {
  std::string s(text);
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

void WriteFile(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(IsMigrationId, AcceptsEfIdsOnly) {
  EXPECT_TRUE(IsMigrationId("20251110120000_InitialCreate"));
  EXPECT_TRUE(IsMigrationId("20251110120000_Add_Col2"));
  EXPECT_FALSE(IsMigrationId("20251110120000_"));
  EXPECT_FALSE(IsMigrationId("2025111012000_Short"));
  EXPECT_FALSE(IsMigrationId("20251110120000-Dash"));
  EXPECT_FALSE(IsMigrationId("20251110120000_Bad-Name"));
  EXPECT_FALSE(IsMigrationId("2025111012000X_Name"));
}

TEST(ParseEfScript, SplitsTheEfCoreScriptIntoItsMigrations) {
  auto r = ParseEfScript(kEfScript, "script.sql");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  const Migration& first = (*r)[0];
  EXPECT_EQ(first.id, "20251110120000_InitialCreate");
  EXPECT_EQ(first.name, "InitialCreate");
  EXPECT_EQ(first.file, "script.sql");
  EXPECT_TRUE(first.from_script);
  ASSERT_EQ(first.up.size(), 1u);
  EXPECT_EQ(first.up[0].line, 8);
  EXPECT_EQ(first.line, 8);
  EXPECT_EQ(first.up[0].sql.substr(0, 29), "CREATE TABLE \"ProjectStates\" ");

  const Migration& second = (*r)[1];
  EXPECT_EQ(second.id, "20251201090000_RenameTitle");
  ASSERT_EQ(second.up.size(), 5u);
  EXPECT_EQ(second.up[0].line, 20);
  EXPECT_EQ(second.up[1].line, 25);
  EXPECT_EQ(second.up[1].sql,
            "INSERT INTO \"ef_temp_ProjectStates\" (\"Id\", \"Name\")\nSELECT \"Id\", "
            "\"Title\"\nFROM \"ProjectStates\"");
  EXPECT_EQ(second.up[2].sql, "DROP TABLE \"ProjectStates\"");
  EXPECT_EQ(second.up[2].line, 35);
  EXPECT_EQ(second.up[3].line, 37);
  EXPECT_EQ(second.up[4].sql,
            "CREATE INDEX \"IX_ProjectStates_Name\" ON \"ProjectStates\" (\"Name\")");
  EXPECT_EQ(second.up[4].line, 45);
  EXPECT_EQ(second.line, 20);
  EXPECT_EQ(first.sha256.size(), 64u);
  EXPECT_NE(first.sha256, second.sha256);
}

TEST(ParseEfScript, ChecksumCoversOnlyTheMigrationsOwnRegion) {
  auto base = ParseEfScript(kEfScript, "s.sql");
  ASSERT_TRUE(base.ok());
  auto again = ParseEfScript(kEfScript, "other-name.sql");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*base)[0].sha256, (*again)[0].sha256);
  EXPECT_EQ((*base)[1].sha256, (*again)[1].sha256);

  // The first migration's region: from the file's start to the end of its history INSERT.
  std::string prefix(kEfScript.substr(0, kEfScript.find("'8.0.11');") + 10));
  EXPECT_EQ((*base)[0].sha256, HexEncode(Sha256::Of(prefix)));

  // One byte in the second migration (Title -> Titla in the SELECT list) changes only it.
  auto edited = ParseEfScript(
      Replace(kEfScript, "SELECT \"Id\", \"Title\"", "SELECT \"Id\", \"Titla\""), "s.sql");
  ASSERT_TRUE(edited.ok());
  EXPECT_EQ((*edited)[0].sha256, (*base)[0].sha256);
  EXPECT_NE((*edited)[1].sha256, (*base)[1].sha256);

  // One byte in the first migration changes only it.
  auto first_edit = ParseEfScript(Replace(kEfScript, "\"Title\" TEXT", "\"Titlf\" TEXT"), "s.sql");
  ASSERT_TRUE(first_edit.ok());
  EXPECT_NE((*first_edit)[0].sha256, (*base)[0].sha256);
  EXPECT_EQ((*first_edit)[1].sha256, (*base)[1].sha256);
}

TEST(ParseEfScript, ByteOrderMarkAndCrLfLineEnds) {
  std::string crlf;
  for (char c : kEfScript) {
    if (c == '\n') crlf.push_back('\r');
    crlf.push_back(c);
  }
  auto r = ParseEfScript("\xEF\xBB\xBF" + crlf, "script.sql");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  ASSERT_EQ((*r)[1].up.size(), 5u);
  EXPECT_EQ((*r)[1].up[2].sql, "DROP TABLE \"ProjectStates\"");
  EXPECT_EQ((*r)[1].up[4].line, 45);
}

TEST(ParseEfScript, RefusesStrayCommitWithFileAndLine) {
  std::string text =
      Replace(kEfScript, "PRAGMA foreign_keys = 1;", "PRAGMA foreign_keys = 1;\nCOMMIT;");
  auto r = ParseEfScript(text, "script.sql");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_EQ(r.status().message().rfind("script.sql:42: COMMIT without a BEGIN", 0), 0u)
      << r.status().message();
}

TEST(ParseEfScript, RefusesBeginNeverCommitted) {
  std::string text(kEfScript);
  text += "\nBEGIN TRANSACTION;\n";
  auto r = ParseEfScript(text, "script.sql");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_NE(r.status().message().find("script.sql:52: BEGIN TRANSACTION is never committed"),
            std::string::npos)
      << r.status().message();
}

TEST(ParseEfScript, RefusesStatementsAfterTheLastHistoryInsert) {
  std::string text(kEfScript);
  text += "\nCREATE TABLE \"Orphan\" (\"Id\" INTEGER);\n";
  auto r = ParseEfScript(text, "script.sql");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_NE(r.status().message().find("script.sql:52: statement belongs to no migration"),
            std::string::npos)
      << r.status().message();
}

TEST(ParseEfScript, RefusesIdsOutOfOrder) {
  std::string text = Replace(kEfScript, "20251201090000_RenameTitle", "20251001090000_RenameTitle");
  auto r = ParseEfScript(text, "script.sql");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_NE(r.status().message().find("script.sql:47:"), std::string::npos) << r.status().message();
}

TEST(ParseEfScript, RefusesRejectedStatementNamingFileAndLine) {
  std::string text = Replace(kEfScript, "PRAGMA foreign_keys = 1;", "VACUUM;");
  auto r = ParseEfScript(text, "20251201_X.sql");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_EQ(r.status().message(),
            "20251201_X.sql:41: VACUUM cannot run inside a transaction; run it separately after "
            "the migration");
}

TEST(ParseMigrationFile, PlainSql) {
  std::string text =
      "-- adds priority\n"
      "ALTER TABLE \"Tasks\" ADD COLUMN \"Priority\" INTEGER NOT NULL DEFAULT 0;\n"
      "CREATE INDEX \"IX_Tasks_Priority\" ON \"Tasks\" (\"Priority\");\n";
  auto r = ParseMigrationFile(text, "/m/20251201000000_AddPriority.sql");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->id, "20251201000000_AddPriority");
  EXPECT_EQ(r->name, "AddPriority");
  EXPECT_EQ(r->file, "/m/20251201000000_AddPriority.sql");
  EXPECT_FALSE(r->from_script);
  ASSERT_EQ(r->up.size(), 2u);
  EXPECT_EQ(r->up[0].line, 2);
  EXPECT_EQ(r->line, 2);
  EXPECT_EQ(r->sha256, HexEncode(Sha256::Of(text)));
}

TEST(ParseMigrationFile, WrappersAndOwnHistoryRowRemoved) {
  std::string text =
      "CREATE TABLE IF NOT EXISTS \"__EFMigrationsHistory\" (\"MigrationId\" TEXT NOT NULL "
      "PRIMARY KEY, \"ProductVersion\" TEXT NOT NULL);\n"
      "BEGIN TRANSACTION;\n"
      "PRAGMA foreign_keys = 0;\n"
      "CREATE TABLE \"Notes\" (\"Id\" INTEGER PRIMARY KEY);\n"
      "INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\")\n"
      "VALUES ('20251201000000_Notes', '8.0.11');\n"
      "COMMIT;\n";
  auto r = ParseMigrationFile(text, "20251201000000_Notes.sql");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->up.size(), 1u);
  EXPECT_EQ(r->up[0].sql, "CREATE TABLE \"Notes\" (\"Id\" INTEGER PRIMARY KEY)");
  EXPECT_EQ(r->up[0].line, 4);
}

TEST(ParseMigrationFile, RefusesHistoryRowForAnotherId) {
  std::string text =
      "CREATE TABLE \"Notes\" (\"Id\" INTEGER);\n"
      "INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\") "
      "VALUES ('20251202000000_Other', '8.0.11');\n";
  auto r = ParseMigrationFile(text, "20251201000000_Notes.sql");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_EQ(r.status().message().rfind("20251201000000_Notes.sql:2: history row for "
                                       "'20251202000000_Other'",
                                       0),
            0u)
      << r.status().message();
}

TEST(ParseMigrationFile, RefusesStrayCommitAndUnterminatedString) {
  auto commit = ParseMigrationFile("SELECT 1;\nCOMMIT;\n", "20251201000000_A.sql");
  ASSERT_FALSE(commit.ok());
  EXPECT_EQ(commit.status().code(), Code::kRefused);
  EXPECT_EQ(commit.status().message().rfind("20251201000000_A.sql:2: COMMIT", 0), 0u);
  auto quote = ParseMigrationFile("SELECT 'x;\n", "20251201000000_A.sql");
  ASSERT_FALSE(quote.ok());
  EXPECT_EQ(quote.status().code(), Code::kRefused);
  EXPECT_EQ(quote.status().message(), "20251201000000_A.sql:1: unterminated string");
}

TEST(ParseDownFile, RemovesItsOwnHistoryDelete) {
  std::string text =
      "BEGIN TRANSACTION;\n"
      "DROP TABLE \"Notes\";\n"
      "DELETE FROM \"__EFMigrationsHistory\" WHERE \"MigrationId\" = '20251201000000_Notes';\n"
      "COMMIT;\n";
  auto r = ParseDownFile(text, "20251201000000_Notes.down.sql", "20251201000000_Notes");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].sql, "DROP TABLE \"Notes\"");
  EXPECT_EQ((*r)[0].line, 2);
  auto other = ParseDownFile(
      "DELETE FROM \"__EFMigrationsHistory\" WHERE \"MigrationId\" = '20251202000000_B';",
      "20251201000000_Notes.down.sql", "20251201000000_Notes");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), Code::kRefused);
}

class LoadMigrationsTest : public ::testing::Test {
 protected:
  std::string Put(const std::string& name, std::string_view text) {
    std::string path = dir_ / name;
    WriteFile(path, text);
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(LoadMigrationsTest, SortsByIdPairsDownFilesAndIgnoresOtherFiles) {
  Put("20251203000000_Third.sql", "CREATE TABLE c (x);");
  Put("20251203000000_Third.down.sql", "DROP TABLE c;");
  Put("script.sql", kEfScript);
  Put("README.md", "not sql; DROP TABLE everything;");
  Put("notes.txt", "VACUUM;");
  auto r = LoadMigrations(dir_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[0].id, "20251110120000_InitialCreate");
  EXPECT_EQ((*r)[1].id, "20251201090000_RenameTitle");
  EXPECT_EQ((*r)[2].id, "20251203000000_Third");
  EXPECT_TRUE((*r)[0].from_script);
  EXPECT_EQ((*r)[0].file, dir_ / "script.sql");
  EXPECT_TRUE((*r)[0].down_file.empty());
  EXPECT_EQ((*r)[2].down_file, dir_ / "20251203000000_Third.down.sql");
  ASSERT_EQ((*r)[2].down.size(), 1u);
  EXPECT_EQ((*r)[2].down[0].sql, "DROP TABLE c");
  EXPECT_EQ((*r)[2].down_sha256, HexEncode(Sha256::Of("DROP TABLE c;")));
}

TEST_F(LoadMigrationsTest, RefusesAnIdDefinedInTwoSourcesNamingBoth) {
  Put("script.sql", kEfScript);
  Put("20251201090000_RenameTitle.sql", "SELECT 1;");
  auto r = LoadMigrations(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_NE(r.status().message().find("20251201090000_RenameTitle"), std::string::npos);
  EXPECT_NE(r.status().message().find(dir_ / "script.sql"), std::string::npos);
  EXPECT_NE(r.status().message().find(dir_ / "20251201090000_RenameTitle.sql"), std::string::npos);
}

TEST_F(LoadMigrationsTest, RefusesDownFileWithoutItsMigration) {
  Put("20251201000000_A.sql", "SELECT 1;");
  Put("20251202000000_B.down.sql", "SELECT 2;");
  auto r = LoadMigrations(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_NE(r.status().message().find("20251202000000_B.down.sql"), std::string::npos);
}

TEST_F(LoadMigrationsTest, RefusesSqlFileThatIsNoMigration) {
  Put("20251201000000_A.sql", "SELECT 1;");
  Put("cleanup.sql", "DELETE FROM t;");
  auto r = LoadMigrations(dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kRefused);
  EXPECT_EQ(r.status().message().rfind(dir_ / "cleanup.sql", 0), 0u) << r.status().message();
}

TEST_F(LoadMigrationsTest, MissingDirectoryIsNotFound) {
  auto r = LoadMigrations(dir_ / "absent");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_F(LoadMigrationsTest, EmptyDirectoryHasNoMigrations) {
  auto r = LoadMigrations(dir_.path());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->empty());
}

}  // namespace
}  // namespace aura::migrations
