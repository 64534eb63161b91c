#include "migrations/data_loss.h"

#include <gtest/gtest.h>

#include "../support/test_env.h"

namespace aura::migrations {
namespace {

Migration Make(const std::string& id, const std::vector<std::string>& sql) {
  Migration m;
  m.id = id;
  m.name = id.substr(15);
  m.file = id + ".sql";
  int line = 1;
  for (const std::string& s : sql) m.up.push_back({s, line++});
  return m;
}

const TableColumns kProjectStates = {{"ProjectStates", {"Id", "Title"}}};

TEST(FindDestructive, DropTableNotRecreated) {
  TableColumns before = {{"Notes", {"Id", "Body"}}, {"Tasks", {"Id"}}};
  auto found = FindDestructive(
      {Make("20251201000000_DropNotes", {"CREATE INDEX i ON Tasks (Id)", "DROP TABLE notes"})},
      before);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].migration, "20251201000000_DropNotes");
  EXPECT_EQ(found[0].file, "20251201000000_DropNotes.sql");
  EXPECT_EQ(found[0].line, 2);
  EXPECT_EQ(found[0].table, "Notes");  // as the schema spells it
  EXPECT_EQ(found[0].column, "");
  EXPECT_EQ(found[0].what, "DROP TABLE \"Notes\" (not recreated)");
}

TEST(FindDestructive, EfRebuildThatRenamesAColumnCopiesEverything) {
  auto found = FindDestructive(
      {Make("20251201090000_RenameTitle",
            {"CREATE TABLE \"ef_temp_ProjectStates\" (\n\"Id\" TEXT NOT NULL CONSTRAINT "
             "\"PK_ProjectStates\" PRIMARY KEY,\n\"Name\" TEXT NOT NULL)",
             "INSERT INTO \"ef_temp_ProjectStates\" (\"Id\", \"Name\")\nSELECT \"Id\", "
             "\"Title\"\nFROM \"ProjectStates\"",
             "DROP TABLE \"ProjectStates\"",
             "ALTER TABLE \"ef_temp_ProjectStates\" RENAME TO \"ProjectStates\"",
             "CREATE INDEX \"IX_ProjectStates_Name\" ON \"ProjectStates\" (\"Name\")"})},
      kProjectStates);
  EXPECT_TRUE(found.empty()) << found[0].what;
}

TEST(FindDestructive, RebuildAfterRenameIsFollowed) {
  // The renamed table's new column list is what a later rebuild must copy.
  std::vector<Migration> pending = {
      Make("20251201000000_Rename", {"ALTER TABLE ProjectStates RENAME COLUMN Title TO Name",
                                     "ALTER TABLE ProjectStates ADD COLUMN Notes TEXT"}),
      Make("20251202000000_Rebuild",
           {"CREATE TABLE ef_temp_ProjectStates (Id TEXT PRIMARY KEY, Name TEXT)",
            "INSERT INTO ef_temp_ProjectStates (Id, Name) SELECT Id, Name FROM ProjectStates",
            "DROP TABLE ProjectStates",
            "ALTER TABLE ef_temp_ProjectStates RENAME TO ProjectStates"})};
  auto found = FindDestructive(pending, kProjectStates);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].migration, "20251202000000_Rebuild");
  EXPECT_EQ(found[0].line, 2);  // the INSERT ... SELECT that leaves it out
  EXPECT_EQ(found[0].column, "Notes");
  EXPECT_EQ(found[0].what, "rebuild of \"ProjectStates\" does not copy column \"Notes\"");
}

TEST(FindDestructive, RebuildThatDropsAColumn) {
  TableColumns before = {{"ProjectStates", {"Id", "Title", "Archived"}}};
  auto found = FindDestructive(
      {Make("20251201090000_DropArchived",
            {"CREATE TABLE \"ef_temp_ProjectStates\" (\"Id\" TEXT NOT NULL, \"Title\" TEXT, "
             "CONSTRAINT \"PK\" PRIMARY KEY (\"Id\"))",
             "INSERT INTO \"ef_temp_ProjectStates\" (\"Id\", \"Title\") SELECT \"Id\", \"Title\" "
             "FROM \"ProjectStates\"",
             "DROP TABLE \"ProjectStates\"",
             "ALTER TABLE \"ef_temp_ProjectStates\" RENAME TO \"ProjectStates\""})},
      before);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].table, "ProjectStates");
  EXPECT_EQ(found[0].column, "Archived");
  EXPECT_EQ(found[0].what, "rebuild of \"ProjectStates\" does not copy column \"Archived\"");
}

TEST(FindDestructive, SelectStarAndRenameFirstRebuildCopyEverything) {
  TableColumns before = {{"T", {"a", "b", "c"}}};
  auto star =
      FindDestructive({Make("20251201000000_Star",
                            {"CREATE TABLE t_new (a, b, c)", "INSERT INTO t_new SELECT * FROM T",
                             "DROP TABLE T", "ALTER TABLE t_new RENAME TO T"})},
                      before);
  EXPECT_TRUE(star.empty());
  auto rename_first = FindDestructive(
      {Make("20251201000000_Old",
            {"ALTER TABLE T RENAME TO T_old", "CREATE TABLE T (a, b, c)",
             "INSERT INTO T (a, b, c) SELECT a, b, c FROM T_old", "DROP TABLE T_old"})},
      before);
  EXPECT_TRUE(rename_first.empty()) << rename_first[0].what;
}

TEST(FindDestructive, RecreatedEmptyAndHelperTables) {
  TableColumns before = {{"T", {"a"}}};
  auto empty = FindDestructive(
      {Make("20251201000000_Reset", {"DROP TABLE T", "CREATE TABLE T (a, b)"})}, before);
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_EQ(empty[0].what, "DROP TABLE \"T\" (recreated without copying its rows)");
  // A table the migrations create and drop themselves held no earlier rows.
  auto helper = FindDestructive(
      {Make("20251201000000_Helper",
            {"CREATE TABLE scratch (x)", "INSERT INTO scratch VALUES (1)", "DROP TABLE scratch"})},
      before);
  EXPECT_TRUE(helper.empty());
}

TEST(FindDestructive, AlterTableDropColumn) {
  TableColumns before = {{"Tasks", {"Id", "Legacy"}}};
  auto found = FindDestructive(
      {Make("20251201000000_DropLegacy", {"ALTER TABLE \"Tasks\" DROP COLUMN \"legacy\""})},
      before);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].table, "Tasks");
  EXPECT_EQ(found[0].column, "legacy");
  EXPECT_EQ(found[0].what, "ALTER TABLE \"Tasks\" DROP COLUMN \"legacy\"");
}

TEST(DeleteTargets, TopLevelDeletesOnly) {
  auto targets = DeleteTargets(
      {Make("20251201000000_Clean",
            {"DELETE FROM \"Sessions\" WHERE \"Expired\" = 1", "DELETE FROM main.Logs",
             "CREATE TRIGGER tr AFTER DELETE ON a BEGIN DELETE FROM Audit; END",
             "WITH old AS (SELECT 1) DELETE FROM Cache WHERE 1", "INSERT INTO x VALUES (1)"})});
  EXPECT_EQ(targets, (NameSet{"Cache", "Logs", "Sessions"}));
  EXPECT_TRUE(targets.contains("sessions"));
  EXPECT_FALSE(targets.contains("Audit"));
}

TEST(NameLess, OrdersCaseInsensitively) {
  NameLess less;
  EXPECT_TRUE(less("apple", "Banana"));
  EXPECT_FALSE(less("Apple", "apple"));
  EXPECT_FALSE(less("apple", "Apple"));
  EXPECT_TRUE(less("app", "APPLE"));
}

class DatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::OpenOrCreate(dir_ / "app.db", 1000);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    ASSERT_TRUE(db_.Exec("CREATE TABLE \"Parents\" (\"Id\" INTEGER PRIMARY KEY, \"Name\" TEXT);"
                         "CREATE TABLE Children (Id INTEGER PRIMARY KEY, ParentId INTEGER "
                         "REFERENCES Parents(Id) ON DELETE CASCADE, Total AS (Id * 2));"
                         "CREATE TABLE Notes (Id INTEGER PRIMARY KEY AUTOINCREMENT, Body TEXT);"
                         "CREATE VIRTUAL TABLE Search USING fts5(body);"
                         "INSERT INTO Parents VALUES (1, 'a'), (2, 'b');"
                         "INSERT INTO Children (Id, ParentId) VALUES (1, 1), (2, 1), (3, 2);"
                         "INSERT INTO Notes (Body) VALUES ('n');"
                         "INSERT INTO Search VALUES ('hello');")
                    .ok());
  }
  testing::TempDir dir_;
  SqliteDb db_;
};

TEST_F(DatabaseTest, ReadsColumnsOfOrdinaryTablesOnly) {
  auto columns = ReadTableColumns(db_);
  ASSERT_TRUE(columns.ok()) << columns.status().ToString();
  TableColumns expected = {
      {"Children", {"Id", "ParentId"}}, {"Notes", {"Id", "Body"}}, {"Parents", {"Id", "Name"}}};
  EXPECT_EQ(*columns, expected);  // no sqlite_sequence, no Search or its shadow tables
}

TEST_F(DatabaseTest, CountsRowsAndFindsUnexplainedLoss) {
  auto before = CountRows(db_);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_EQ(*before, (RowCounts{{"Children", 3}, {"Notes", 1}, {"Parents", 2}}));

  // A migration deletes one parent (a DELETE it names) and the cascade takes two children (that
  // nothing asked for), then drops Notes.
  std::vector<Migration> pending = {
      Make("20251201000000_Prune", {"DELETE FROM parents WHERE Id = 1", "DROP TABLE Notes"})};
  ASSERT_TRUE(db_.Exec("PRAGMA foreign_keys = ON").ok());
  for (const SqlStatement& st : pending[0].up) ASSERT_TRUE(db_.Exec(st.sql).ok()) << st.sql;
  auto after = CountRows(db_);
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(*after, (RowCounts{{"Children", 1}, {"Parents", 1}}));

  auto loss = UnexplainedRowLoss(*before, *after, DeleteTargets(pending), {});
  ASSERT_EQ(loss.size(), 1u);
  EXPECT_EQ(loss[0].table, "Children");
  EXPECT_EQ(loss[0].before, 3);
  EXPECT_EQ(loss[0].after, 1);
  EXPECT_TRUE(UnexplainedRowLoss(*before, *after, DeleteTargets(pending), {"children"}).empty());
  EXPECT_EQ(DroppedTables(*before, *after), std::vector<std::string>{"Notes"});
}

}  // namespace
}  // namespace aura::migrations
