// IdempotentScript run by the real sqlite3 shell: the first run migrates, a second run stops at
// the guard with exit status 1 and changes nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "migrations/idempotent_script.h"
#include "tests/migrations/apply_fixture.h"

namespace aura::migrations {
namespace {

using testing::ApplyTest;
using testing::ShellResult;

constexpr const char* kA = "20250101000000_CreateItems";
constexpr const char* kB = "20250201000000_AddItemOwner";

class ScriptTest : public ApplyTest {
 protected:
  void SetUp() override {
    ApplyTest::SetUp();
    if (HasFatalFailure()) return;
    Exec(
        "CREATE TABLE \"Owners\" (\"Id\" INTEGER PRIMARY KEY, \"Name\" TEXT NOT NULL);"
        "INSERT INTO \"Owners\" VALUES (1, 'ann'), (2, 'bob');");
    WriteFile(std::string(kA) + ".sql",
              "CREATE TABLE \"Items\" (\"Id\" INTEGER PRIMARY KEY, \"Name\" TEXT);\n"
              "INSERT INTO \"Items\" (\"Name\") VALUES ('one'), ('two');\n");
    WriteFile(std::string(kB) + ".sql",
              "ALTER TABLE \"Items\" ADD \"OwnerId\" INTEGER NULL REFERENCES \"Owners\" (\"Id\") "
              "ON DELETE CASCADE;\n"
              "UPDATE \"Items\" SET \"OwnerId\" = 1;\n"
              "CREATE INDEX \"IX_Items_OwnerId\" ON \"Items\" (\"OwnerId\");\n");
  }
  std::string Script(const std::vector<Migration>& pending) {
    return IdempotentScript(pending, {.product_version = "8.0.11", .header = "test\nscript"});
  }
};

TEST_F(ScriptTest, SecondRunInTheShellChangesNothing) {
  const std::string script = Script(Load());
  ShellResult first = RunShell(db_, script);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(History(), (std::vector<std::string>{kA, kB}));
  EXPECT_NE(TableSql("Items").find("\"OwnerId\""), std::string::npos);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM \"Items\" WHERE \"OwnerId\" = 1"), 2);
  const std::string after_first = Checksum();

  ShellResult second = RunShell(db_, script);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("already applied"), std::string::npos) << second.err;
  EXPECT_EQ(Checksum(), after_first);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM \"__EFMigrationsHistory\""), 2);
}

TEST_F(ScriptTest, DatabaseWithPartOfTheScriptAppliedIsLeftAlone) {
  ApplyOptions o = Options();
  o.to = kA;
  ASSERT_EQ(ApplyMigrations(Load(), o).outcome, "applied");
  const std::string before = Checksum();
  ShellResult run = RunShell(db_, Script(Load()));  // both migrations, kA already applied
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("already applied"), std::string::npos) << run.err;
  EXPECT_EQ(Checksum(), before);
  EXPECT_EQ(History(), std::vector<std::string>{kA});
}

// Regression: the prologue created __EFMigrationsHistory before BEGIN IMMEDIATE, so a run that
// stopped at a guard still left an empty history table behind ("nothing was changed" was false).
TEST_F(ScriptTest, FailedRunOnAFreshDatabaseLeavesNoHistoryTable) {
  WriteFile("20250301000000_OrphanItems.sql", "UPDATE \"Items\" SET \"OwnerId\" = 99;\n");
  const std::string before = Checksum();
  ShellResult run = RunShell(db_, Script(Load()));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.err.find("foreign_key_check failed"), std::string::npos) << run.err;
  EXPECT_EQ(Checksum(), before);
  EXPECT_EQ(TableSql("__EFMigrationsHistory"), "");
}

}  // namespace
}  // namespace aura::migrations
