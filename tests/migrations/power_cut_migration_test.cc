// Power cuts with lost writes during a safe apply: SQLite's own file operations routed through the
// file-I/O seam by a VFS shim (tests/support/sqlite_vfs_seam.h), the whole test folder modelled
// by the lost-writes double (tests/support/lost_writes.h), the power cut at every durable step of
// ApplyMigrations: the pre-migration snapshot (a copy through the backup API, fsynced), the
// rehearsal copy, the live transaction and what follows COMMIT. After each cut the database opens
// sound and is either migrated completely or exactly as before; an apply that reported "applied"
// is never lost; a snapshot Take returned is there and holds the database as it was; and the apply
// run again finishes.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "tests/migrations/apply_fixture.h"
#include "tests/support/lost_writes.h"
#include "tests/support/sqlite_vfs_seam.h"

namespace aura::migrations {
namespace {

using testing::ApplyTest;

constexpr const char* kInitialId = "20250101000000_Initial";
constexpr const char* kInitialSql = R"(CREATE TABLE "Projects" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Projects" PRIMARY KEY,
    "Title" TEXT NOT NULL
);
CREATE TABLE "Scenes" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Scenes" PRIMARY KEY,
    "ProjectId" INTEGER NOT NULL REFERENCES "Projects" ("Id") ON DELETE CASCADE,
    "Text" TEXT NOT NULL
);
)";
constexpr const char* kReshapeId = "20250201000000_Reshape";
constexpr const char* kReshapeSql =
    R"(CREATE TABLE "Tags" ("Id" INTEGER NOT NULL PRIMARY KEY, "Name" TEXT NOT NULL);
INSERT INTO "Tags" ("Name") VALUES ('red'), ('blue');
ALTER TABLE "Projects" ADD "Priority" INTEGER NOT NULL DEFAULT 0;
UPDATE "Projects" SET "Priority" = 2 WHERE "Id" = 1;
CREATE INDEX "IX_Projects_Priority" ON "Projects" ("Priority");
)";

// The seam's snapshots, and which of them Take returned (acknowledged).
class RecordingSeam final : public SnapshotSeam {
 public:
  explicit RecordingSeam(SnapshotSeam& inner) : inner_(inner) {}
  Result<std::string> Take(const std::string& label) override {
    auto id = inner_.Take(label);
    if (id.ok()) taken.push_back(*id);
    return id;
  }
  Status RestoreToFile(const std::string& id, const std::string& path) override {
    return inner_.RestoreToFile(id, path);
  }
  std::string Describe() const override { return inner_.Describe(); }
  std::vector<std::string> taken;

 private:
  SnapshotSeam& inner_;
};

struct CutRun {
  ApplyReport report;
  std::vector<std::string> snapshots;  // acknowledged
  uint64_t steps = 0;
  std::string cut;
};

class PowerCutMigrationTest : public ApplyTest {
 protected:
  void SetUp() override {
    ApplyTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_EQ(Apply({Initial()}).outcome, "applied");
    Exec(R"(INSERT INTO "Projects" ("Id", "Title") VALUES (1, 'one'), (2, 'two');
            INSERT INTO "Scenes" ("ProjectId", "Text") SELECT "Id", 'a' FROM "Projects";)");
    before_ = Checksum();
    start_ = dir_ + ".start";
    std::filesystem::copy(dir_, start_, std::filesystem::copy_options::recursive);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(start_, ec);
    ApplyTest::TearDown();
  }

  Migration Initial() { return Parse(kInitialId, kInitialSql); }
  Migration Reshape() { return Parse(kReshapeId, kReshapeSql); }

  // The folder as SetUp left it (no connection is open between runs).
  void Reset() {
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      std::filesystem::remove_all(e.path());
    }
    for (const auto& e : std::filesystem::directory_iterator(start_)) {
      std::filesystem::copy(e.path(), std::filesystem::path(dir_) / e.path().filename(),
                            std::filesystem::copy_options::recursive);
    }
  }

  CutRun ApplyWithCut(uint64_t k) {
    CutRun run;
    aura::testing::LostWritesDisk disk({dir_});
    disk.CutAt(k);
    RecordingSeam seam(*seam_);
    {
      ScopedFileIoObserver observed(&disk);
      aura::testing::ScopedSqliteVfsSeam through_the_seam;
      ApplyOptions o = Options();
      o.snapshots = &seam;
      run.report = ApplyMigrations({Initial(), Reshape()}, o);
    }
    run.steps = disk.durable_steps();
    run.cut = disk.cut_step();
    run.snapshots = seam.taken;
    Status s = disk.ApplyPowerCut();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return run;
  }

  void CheckAfterCut(const CutRun& run) {
    {
      auto db = SqliteDb::Open(db_, SQLITE_OPEN_READWRITE, 5000);  // recovers journal or WAL
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      auto check = db->QueryText("PRAGMA integrity_check");
      ASSERT_TRUE(check.ok()) << check.status().ToString();
      EXPECT_EQ(*check, "ok");
    }
    const std::vector<std::string> history = History();
    if (history.size() == 2) {
      EXPECT_EQ(QueryInt("SELECT count(*) FROM Tags"), 2);
      EXPECT_EQ(QueryInt("SELECT Priority FROM Projects WHERE Id = 1"), 2);
      EXPECT_EQ(Audit().size(), 2u);
    } else {
      EXPECT_EQ(history, std::vector<std::string>{kInitialId});
      EXPECT_EQ(Checksum(), before_) << "half a migration";
      EXPECT_NE(run.report.outcome, "applied") << "an applied migration was lost";
    }
    for (const std::string& id : run.snapshots) {
      EXPECT_EQ(Checksum(dir_ + "/snapshots/" + id + ".db"), before_) << "snapshot " << id;
    }
    ApplyReport again = Apply({Initial(), Reshape()});
    EXPECT_TRUE(again.outcome == "applied" || again.outcome == "nothing_pending")
        << again.outcome << ": " << again.status.ToString();
    EXPECT_EQ(History().size(), 2u);
    EXPECT_EQ(QueryInt("SELECT count(*) FROM Tags"), 2);
  }

  std::string before_;
  std::string start_;
};

TEST_F(PowerCutMigrationTest, EveryCutLeavesTheDatabaseMigratedOrAsItWas) {
  CutRun uncut = ApplyWithCut(0);
  ASSERT_EQ(uncut.report.outcome, "applied") << uncut.report.status.ToString();
  ASSERT_GT(uncut.steps, 3u);
  CheckAfterCut(uncut);
  for (uint64_t k = 1; k <= uncut.steps; ++k) {
    SCOPED_TRACE("power cut at durable step " + std::to_string(k) + " of " +
                 std::to_string(uncut.steps));
    Reset();
    CutRun run = ApplyWithCut(k);
    SCOPED_TRACE("the power went out at " + run.cut + "; the apply said " + run.report.outcome +
                 ": " + run.report.status.ToString());
    EXPECT_FALSE(run.cut.empty()) << "the apply took fewer steps";
    CheckAfterCut(run);
    if (HasFailure()) break;
  }
  std::cout << "[power cut] migration (safe apply): " << uncut.steps << " durable steps, "
            << uncut.steps << " cuts\n";
}

}  // namespace
}  // namespace aura::migrations
