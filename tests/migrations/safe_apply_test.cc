// ApplyMigrations end to end on a real WAL database: a failure anywhere before COMMIT changes
// nothing, EF Core's parent rebuild keeps its cascade children (and the same SQL in the sqlite3
// shell does not), the data-loss guard, dry runs, and the automatic restore after a failed
// post-check.
#include "migrations/safe_apply.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/migrations/apply_fixture.h"
#include "tests/support/test_env.h"

namespace aura::migrations {
namespace {

using testing::ApplyTest;
using testing::ShellResult;

constexpr const char* kInitialId = "20250101000000_Initial";
constexpr const char* kInitialSql = R"(CREATE TABLE "Projects" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Projects" PRIMARY KEY,
    "Title" TEXT NOT NULL,
    "Failed" INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE "Scenes" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Scenes" PRIMARY KEY,
    "ProjectId" INTEGER NOT NULL REFERENCES "Projects" ("Id") ON DELETE CASCADE,
    "Text" TEXT NOT NULL
);
CREATE INDEX "IX_Scenes_ProjectId" ON "Scenes" ("ProjectId");
)";

// Five statements; the k-th may be made to fail.
constexpr const char* kReshapeId = "20250201000000_Reshape";
const std::vector<std::string> kReshape = {
    R"(CREATE TABLE "Tags" ("Id" INTEGER NOT NULL PRIMARY KEY, "Name" TEXT NOT NULL))",
    R"(INSERT INTO "Tags" ("Name") VALUES ('red'), ('blue'))",
    R"(ALTER TABLE "Projects" ADD "Priority" INTEGER NOT NULL DEFAULT 0)",
    R"(UPDATE "Projects" SET "Priority" = 2 WHERE "Id" = 1)",
    R"(CREATE INDEX "IX_Projects_Priority" ON "Projects" ("Priority"))",
};

std::string Join(const std::vector<std::string>& statements) {
  std::string out;
  for (const std::string& s : statements) out += s + ";\n";
  return out;
}

// EF Core's rebuild of Projects (to add a NOT NULL column without a default, say), with its
// foreign_keys pragmas; `where` filters the copy.
std::string RebuildProjects(const std::string& where = "") {
  return R"(CREATE TABLE "ef_temp_Projects" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Projects" PRIMARY KEY,
    "Title" TEXT NOT NULL,
    "Failed" INTEGER NOT NULL DEFAULT 0,
    "Stage" TEXT NOT NULL DEFAULT ''
);
INSERT INTO "ef_temp_Projects" ("Id", "Title", "Failed")
SELECT "Id", "Title", "Failed" FROM "Projects")" +
         where + R"(;
PRAGMA foreign_keys = 0;
DROP TABLE "Projects";
ALTER TABLE "ef_temp_Projects" RENAME TO "Projects";
PRAGMA foreign_keys = 1;
)";
}

class SafeApplyTest : public ApplyTest {
 protected:
  void SetUp() override {
    ApplyTest::SetUp();
    if (HasFatalFailure()) return;
    ApplyReport r = Apply({Parse(kInitialId, kInitialSql)});
    ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
    Seed(db_);
    seam_->labels.clear();
  }
  // Three projects (one failed), two scenes each.
  void Seed(const std::string& path) {
    Exec(R"(INSERT INTO "Projects" ("Id", "Title", "Failed") VALUES (1, 'one', 0), (2, 'two', 1),
              (3, 'three', 0);
            INSERT INTO "Scenes" ("ProjectId", "Text") SELECT "Id", 'a' FROM "Projects";
            INSERT INTO "Scenes" ("ProjectId", "Text") SELECT "Id", 'b' FROM "Projects";)",
         path);
  }
  Migration Initial() { return Parse(kInitialId, kInitialSql); }
  // Size of the -wal file, 0 when there is none.
  uintmax_t WalBytes() {
    std::error_code ec;
    uintmax_t n = std::filesystem::file_size(db_ + "-wal", ec);
    return ec ? 0 : n;
  }

  // Asserts a refusal that left the database as `checksum` with only the initial migration.
  void ExpectRefusedUnchanged(const ApplyReport& r, const std::string& checksum) {
    EXPECT_EQ(r.outcome, "refused");
    EXPECT_EQ(r.status.code(), Code::kRefused) << r.status.ToString();
    EXPECT_TRUE(r.applied.empty());
    EXPECT_EQ(Checksum(), checksum);
    EXPECT_EQ(History(), std::vector<std::string>{kInitialId});
    EXPECT_TRUE(StrayFiles().empty()) << StrayFiles().front();
  }
};

TEST_F(SafeApplyTest, LiveFailureAtEveryStatementLeavesTheDatabaseUnchanged) {
  const std::string before = Checksum();
  Migration reshape = Parse(kReshapeId, Join(kReshape));
  ASSERT_EQ(reshape.up.size(), kReshape.size());
  for (int k = 0; k < static_cast<int>(kReshape.size()); ++k) {
    SCOPED_TRACE("failing statement " + std::to_string(k));
    ApplyOptions o = Options();
    std::vector<int> seen;
    o.live_statement_hook = [&](int i) {
      seen.push_back(i);
      return i == k ? IOError("injected failure") : Status::Ok();
    };
    ApplyReport r = ApplyMigrations({Initial(), reshape}, o);
    ExpectRefusedUnchanged(r, before);
    EXPECT_NE(r.status.message().find(kReshapeId), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("injected failure"), std::string::npos);
    // The rehearsal passed; the live apply ran statements 0..k and stopped.
    EXPECT_EQ(seen.size(), static_cast<size_t>(k + 1));
    EXPECT_EQ(TableSql("Tags"), "");
  }
  // Without the hook the same migration applies.
  ApplyReport ok = Apply({Initial(), reshape});
  ASSERT_EQ(ok.outcome, "applied") << ok.status.ToString();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM Tags"), 2);
  EXPECT_EQ(QueryInt("SELECT Priority FROM Projects WHERE Id = 1"), 2);
}

TEST_F(SafeApplyTest, BadSqlAtEveryStatementIsRefusedByTheRehearsal) {
  const std::string before = Checksum();
  for (size_t k = 0; k < kReshape.size(); ++k) {
    SCOPED_TRACE("bad statement " + std::to_string(k));
    std::vector<std::string> statements = kReshape;
    statements[k] = R"(INSERT INTO "NoSuchTable" ("X") VALUES (1))";
    ApplyOptions o = Options();
    int live_statements = 0;
    o.live_statement_hook = [&](int) {
      ++live_statements;
      return Status::Ok();
    };
    ApplyReport r = ApplyMigrations({Initial(), Parse(kReshapeId, Join(statements))}, o);
    ExpectRefusedUnchanged(r, before);
    EXPECT_NE(r.status.message().find("rehearsal"), std::string::npos) << r.status.message();
    EXPECT_NE(r.status.message().find("NoSuchTable"), std::string::npos) << r.status.message();
    EXPECT_EQ(live_statements, 0);  // the live database was never touched
  }
}

TEST_F(SafeApplyTest, EfRebuildOfACascadeParentKeepsEveryChild) {
  Exec("PRAGMA foreign_keys=ON");
  ApplyReport r = Apply({Initial(), Parse("20250301000000_RebuildProjects", RebuildProjects())});
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM Projects"), 3);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM Scenes"), 6);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM pragma_foreign_key_check"), 0);
  EXPECT_NE(TableSql("Projects").find("\"Stage\""), std::string::npos);
}

TEST_F(SafeApplyTest, SameRebuildInTheSqliteShellLosesTheChildren) {
  // A second database like the live one, migrated by hand the way an operator might.
  std::string other = dir_ + "/by-hand.db";
  Exec("VACUUM INTO '" + other + "'");
  Exec("PRAGMA journal_mode=WAL", other);
  ShellResult shell =
      RunShell(other, "PRAGMA foreign_keys=ON;\nBEGIN;\n" + RebuildProjects() + "COMMIT;\n");
  ASSERT_EQ(shell.exit_code, 0) << shell.err;
  EXPECT_EQ(QueryInt("SELECT count(*) FROM Scenes"), 6);  // the live database: untouched
  auto db = SqliteDb::Open(other, SQLITE_OPEN_READONLY, 5000);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM Projects"), 3);
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM Scenes"), 0);  // the trap: cascaded away
}

TEST_F(SafeApplyTest, RebuildThatKeepsOnlySomeRowsIsRefusedUnlessAllowed) {
  const std::string before = Checksum();
  std::vector<Migration> ms = {
      Initial(), Parse("20250301000000_RebuildProjects", RebuildProjects(" WHERE \"Failed\" = 0"))};
  ApplyReport r = ApplyMigrations(ms, Options());
  ExpectRefusedUnchanged(r, before);
  EXPECT_NE(r.status.message().find("\"Projects\" went from 3 to 2 rows"), std::string::npos)
      << r.status.message();
  EXPECT_NE(r.status.message().find("--allow-data-loss Projects"), std::string::npos);

  // Allowed, the skipped project's scenes are orphans: foreign_key_check still refuses.
  ApplyOptions o = Options();
  o.allow_data_loss = {"projects"};  // names compare as SQLite does
  r = ApplyMigrations(ms, o);
  ExpectRefusedUnchanged(r, before);
  EXPECT_NE(r.status.message().find("foreign_key_check"), std::string::npos) << r.status.message();

  // With the orphans deleted too (a DELETE names Scenes, so that loss is explained), it applies.
  ms[1] = Parse("20250301000000_RebuildProjects",
                RebuildProjects(" WHERE \"Failed\" = 0") +
                    "DELETE FROM \"Scenes\" WHERE \"ProjectId\" NOT IN (SELECT \"Id\" FROM "
                    "\"Projects\");\n");
  EXPECT_EQ(ApplyMigrations(ms, Options()).status.code(), Code::kRefused);
  r = ApplyMigrations(ms, o);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM Projects"), 2);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM Scenes"), 4);
}

TEST_F(SafeApplyTest, TriggerThatDeletesAnotherTablesRowsIsRefusedUnlessAllowed) {
  const std::string before = Checksum();
  std::vector<Migration> ms = {Initial(), Parse("20250301000000_FailedCleanup", R"(
CREATE TRIGGER "TR_Projects_Failed" AFTER UPDATE OF "Failed" ON "Projects"
WHEN NEW."Failed" = 1
BEGIN
    DELETE FROM "Scenes" WHERE "ProjectId" = NEW."Id";
END;
UPDATE "Projects" SET "Failed" = 1 WHERE "Id" = 3;
)")};
  ApplyReport r = ApplyMigrations(ms, Options());
  ExpectRefusedUnchanged(r, before);
  EXPECT_NE(r.status.message().find("\"Scenes\" went from 6 to 4 rows"), std::string::npos)
      << r.status.message();

  ApplyOptions o = Options();
  o.allow_data_loss = {"Scenes"};
  r = ApplyMigrations(ms, o);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(QueryInt("SELECT count(*) FROM Scenes"), 4);
}

TEST_F(SafeApplyTest, DroppedTableWithRowsIsRefusedUnlessAllowed) {
  Exec(
      "CREATE TABLE Notes(Id INTEGER PRIMARY KEY, Body TEXT); INSERT INTO Notes(Body) "
      "VALUES('x'), ('y'); CREATE TABLE Scratch(Id INTEGER PRIMARY KEY);");
  const std::string before = Checksum();
  std::vector<Migration> ms = {Initial(),
                               Parse("20250301000000_DropNotes", "DROP TABLE \"Notes\";\n")};
  ApplyReport r = ApplyMigrations(ms, Options());
  ExpectRefusedUnchanged(r, before);
  EXPECT_NE(r.status.message().find("\"Notes\" (2 rows)"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find("--allow-data-loss Notes"), std::string::npos);

  // Another table named does not let it through.
  ApplyOptions o = Options();
  o.allow_data_loss = {"Scenes"};
  r = ApplyMigrations(ms, o);
  ExpectRefusedUnchanged(r, before);

  o.allow_data_loss = {"Notes"};
  r = ApplyMigrations(ms, o);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(TableSql("Notes"), "");
  EXPECT_EQ(r.dropped_tables, std::vector<std::string>{"Notes"});

  // An empty table may go without asking.
  r = Apply({Initial(), ms[1], Parse("20250302000000_DropScratch", "DROP TABLE Scratch;")});
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
}

TEST_F(SafeApplyTest, DryRunChangesNoByteAndTakesNoSnapshot) {
  // Every writer closed: the WAL is checkpointed (a read-only reader may leave it empty).
  ASSERT_EQ(WalBytes(), 0u);
  const std::string bytes = aura::testing::FileSha256(db_);
  const std::string before = Checksum();

  ApplyOptions o = Options();
  o.dry_run = true;
  ApplyReport r = ApplyMigrations({Initial(), Parse(kReshapeId, Join(kReshape))}, o);
  EXPECT_EQ(r.outcome, "dry_run") << r.status.ToString();
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.plan.pending.size(), 1u);
  EXPECT_TRUE(r.applied.empty());
  EXPECT_TRUE(r.snapshot.empty());
  EXPECT_TRUE(seam_->labels.empty());
  EXPECT_EQ(aura::testing::FileSha256(db_), bytes);
  EXPECT_EQ(WalBytes(), 0u);  // nothing committed
  EXPECT_EQ(Checksum(), before);
  EXPECT_TRUE(StrayFiles().empty()) << StrayFiles().front();

  // A dry run of a refused migration reports the refusal, still without a snapshot.
  r = ApplyMigrations({Initial(), Parse("20250301000000_Bad", "DROP TABLE \"Scenes\";")}, o);
  EXPECT_EQ(r.outcome, "refused");
  EXPECT_EQ(r.status.code(), Code::kRefused);
  EXPECT_TRUE(seam_->labels.empty());
  EXPECT_EQ(aura::testing::FileSha256(db_), bytes);
}

TEST_F(SafeApplyTest, FailedPostCheckRestoresThePreMigrationSnapshot) {
  const std::string before = Checksum();
  ApplyOptions o = Options();
  o.post_checks = {"SELECT count(*) FROM Tags WHERE Name = 'green'"};
  bool committed = false;
  o.after_commit_hook = [&](const std::string& path) {
    // The migration really committed before the check ran.
    auto db = SqliteDb::Open(path, SQLITE_OPEN_READONLY, 5000);
    committed = db.ok() && db->QueryInt("SELECT count(*) FROM Tags").ok();
  };
  ApplyReport r = ApplyMigrations({Initial(), Parse(kReshapeId, Join(kReshape))}, o);
  EXPECT_TRUE(committed);
  EXPECT_EQ(r.outcome, "restored");
  EXPECT_EQ(r.status.code(), Code::kRefused) << r.status.ToString();
  EXPECT_NE(r.status.message().find("post-check"), std::string::npos) << r.status.message();
  EXPECT_NE(r.status.message().find(r.snapshot), std::string::npos);
  ASSERT_EQ(seam_->labels.size(), 1u);
  EXPECT_EQ(seam_->restores, std::vector<std::string>{r.snapshot});
  EXPECT_EQ(Checksum(), before);
  EXPECT_EQ(History(), std::vector<std::string>{kInitialId});
  EXPECT_TRUE(StrayFiles().empty()) << StrayFiles().front();

  // A literal false check does the same.
  o.post_checks = {"SELECT 0"};
  o.after_commit_hook = nullptr;
  r = ApplyMigrations({Initial(), Parse(kReshapeId, Join(kReshape))}, o);
  EXPECT_EQ(r.outcome, "restored");
  EXPECT_EQ(r.status.code(), Code::kRefused);
  EXPECT_EQ(Checksum(), before);
}

TEST_F(SafeApplyTest, FailedPreCommitAssertionChangesNothing) {
  const std::string before = Checksum();
  ApplyOptions o = Options();
  o.assertions = {"SELECT count(*) = 3 FROM Tags"};
  ApplyReport r = ApplyMigrations({Initial(), Parse(kReshapeId, Join(kReshape))}, o);
  ExpectRefusedUnchanged(r, before);
  EXPECT_NE(r.status.message().find("assertion"), std::string::npos) << r.status.message();
  EXPECT_TRUE(seam_->restores.empty());
}

}  // namespace
}  // namespace aura::migrations
