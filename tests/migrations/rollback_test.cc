// RollbackMigrations on a real WAL database: by down files (schema, history and audit), and by
// the pre-migration snapshot (only with yes; the database is what it was before that apply).
#include "migrations/rollback.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/migrations/apply_fixture.h"

namespace aura::migrations {
namespace {

using testing::ApplyTest;

constexpr const char* kA = "20250101000000_CreateItems";
constexpr const char* kB = "20250201000000_AddItemSize";
constexpr const char* kC = "20250301000000_AddItemIndex";

class RollbackTest : public ApplyTest {
 protected:
  void SetUp() override {
    ApplyTest::SetUp();
    if (HasFatalFailure()) return;
    WriteFile(std::string(kA) + ".sql",
              "CREATE TABLE \"Items\" (\"Id\" INTEGER PRIMARY KEY, \"Name\" TEXT);\n"
              "INSERT INTO \"Items\" (\"Name\") VALUES ('one'), ('two');\n");
    WriteFile(std::string(kA) + ".down.sql", "DROP TABLE \"Items\";\n");
    WriteFile(std::string(kB) + ".sql",
              "ALTER TABLE \"Items\" ADD \"Size\" INTEGER NOT NULL DEFAULT 0;\n"
              "UPDATE \"Items\" SET \"Size\" = 5;\n");
    WriteFile(std::string(kB) + ".down.sql", "ALTER TABLE \"Items\" DROP COLUMN \"Size\";\n");
  }
  RollbackOptions Rollback(const std::string& target) {
    RollbackOptions o;
    o.database = db_;
    o.target = target;
    o.snapshots = seam_.get();
    o.scratch_dir = dir_;
    return o;
  }
  std::vector<AuditRecord> AuditOf(const std::string& action) {
    std::vector<AuditRecord> out;
    for (const AuditRecord& a : Audit()) {
      if (a.action == action) out.push_back(a);
    }
    return out;
  }
};

TEST_F(RollbackTest, ByDownFilesRestoresSchemaHistoryAndAudits) {
  ApplyOptions only_a = Options();
  only_a.to = kA;
  ASSERT_EQ(ApplyMigrations(Load(), only_a).outcome, "applied");
  const std::string items_a = TableSql("Items");
  ASSERT_EQ(ApplyMigrations(Load(), Options()).outcome, "applied");
  ASSERT_NE(TableSql("Items"), items_a);
  seam_->labels.clear();

  RollbackReport r = RollbackMigrations(Load(), Rollback(kA));
  ASSERT_EQ(r.outcome, "rolled_back") << r.status.ToString();
  EXPECT_TRUE(r.status.ok());
  EXPECT_EQ(r.method, "down_files");
  EXPECT_EQ(r.rolled_back, std::vector<std::string>{kB});
  EXPECT_EQ(seam_->labels.size(), 1u);  // the pre-rollback snapshot
  EXPECT_EQ(TableSql("Items"), items_a);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM \"Items\""), 2);
  EXPECT_EQ(History(), std::vector<std::string>{kA});
  std::vector<AuditRecord> rb = AuditOf("rollback");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0].migration_id, kB);
  EXPECT_EQ(rb[0].outcome, "rolled_back");
  EXPECT_EQ(rb[0].file, std::string(kB) + ".down.sql");
  EXPECT_EQ(rb[0].snapshot, r.snapshot);

  // Everything, newest first.
  ASSERT_EQ(ApplyMigrations(Load(), Options()).outcome, "applied");
  r = RollbackMigrations(Load(), Rollback("0"));
  ASSERT_EQ(r.outcome, "rolled_back") << r.status.ToString();
  EXPECT_EQ(r.rolled_back, (std::vector<std::string>{kB, kA}));
  EXPECT_EQ(TableSql("Items"), "");
  EXPECT_TRUE(History().empty());
  EXPECT_EQ(AuditOf("rollback").size(), 3u);

  // Nothing left to undo.
  EXPECT_EQ(RollbackMigrations(Load(), Rollback("0")).outcome, "nothing_to_do");
}

TEST_F(RollbackTest, BySnapshotNeedsYesThenRestoresThePreMigrationState) {
  WriteFile(std::string(kC) + ".sql", "CREATE INDEX \"IX_Items_Name\" ON \"Items\" (\"Name\");\n");
  ApplyOptions to_b = Options();
  to_b.to = kB;
  ASSERT_EQ(ApplyMigrations(Load(), to_b).outcome, "applied");
  Exec("INSERT INTO \"Items\" (\"Name\") VALUES ('three')");  // the application's write
  const std::string before_c = Checksum();
  ApplyReport applied = ApplyMigrations(Load(), Options());  // kC has no down file
  ASSERT_EQ(applied.outcome, "applied") << applied.status.ToString();
  ASSERT_FALSE(applied.snapshot.empty());
  Exec("INSERT INTO \"Items\" (\"Name\") VALUES ('four')");  // lost by the rollback
  const std::string after_c = Checksum();

  RollbackReport r = RollbackMigrations(Load(), Rollback(kB));
  EXPECT_EQ(r.outcome, "needs_yes");
  EXPECT_EQ(r.method, "snapshot");
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument) << r.status.ToString();
  EXPECT_NE(r.status.message().find("--yes"), std::string::npos);
  EXPECT_NE(r.status.message().find(applied.snapshot), std::string::npos);
  EXPECT_EQ(Checksum(), after_c);
  EXPECT_TRUE(seam_->restores.empty());

  RollbackOptions yes = Rollback(kB);
  yes.yes = true;
  r = RollbackMigrations(Load(), yes);
  ASSERT_EQ(r.outcome, "rolled_back") << r.status.ToString();
  EXPECT_EQ(r.snapshot, applied.snapshot);
  EXPECT_EQ(seam_->restores, std::vector<std::string>{applied.snapshot});
  EXPECT_EQ(History(), (std::vector<std::string>{kA, kB}));
  EXPECT_EQ(QueryInt("SELECT count(*) FROM \"Items\""), 3);
  std::vector<AuditRecord> rb = AuditOf("rollback");
  ASSERT_EQ(rb.size(), 1u);
  EXPECT_EQ(rb[0].migration_id, kC);
  // Apart from that audit row, the database is the one from before kC was applied.
  std::string copy = dir_ + "/without-rollback-audit.db";
  Exec("VACUUM INTO '" + copy + "'");
  Exec("DELETE FROM \"__AuraMigrationsAudit\" WHERE \"Action\" = 'rollback'", copy);
  EXPECT_EQ(Checksum(copy), before_c);
}

TEST_F(RollbackTest, DryRunAndUnknownTargetChangeNothing) {
  ASSERT_EQ(ApplyMigrations(Load(), Options()).outcome, "applied");
  seam_->labels.clear();
  const std::string before = Checksum();
  RollbackOptions dry = Rollback("0");
  dry.dry_run = true;
  RollbackReport r = RollbackMigrations(Load(), dry);
  EXPECT_EQ(r.outcome, "dry_run");
  EXPECT_EQ(r.rolled_back, (std::vector<std::string>{kB, kA}));
  r = RollbackMigrations(Load(), Rollback("NoSuchMigration"));
  EXPECT_EQ(r.status.code(), Code::kInvalidArgument);
  EXPECT_EQ(Checksum(), before);
  EXPECT_TRUE(seam_->labels.empty());
}

}  // namespace
}  // namespace aura::migrations
