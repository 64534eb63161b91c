// The restore plan of --latest: the newest state over every snapshot and segment, whatever kind
// of object holds it.
#include <gtest/gtest.h>

#include "backup/pitr_restore.h"
#include "backup/replicator.h"
#include "backup/snapshot.h"
#include "backup/storage/local_storage.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

class RestorePlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testtools::GenerateAuraDb({dir_ / "live.db", 1u << 20, 6, true}).ok());
    auto app = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READWRITE, 5000);
    ASSERT_TRUE(app.ok());
    app_ = std::make_unique<SqliteDb>(std::move(app).value());
    ASSERT_TRUE(testtools::PrepareWorkload(*app_).ok());
    KeySource none;
    none.kind = KeySource::Kind::kNone;
    repo_ = std::shared_ptr<Repository>(
        Repository::OpenForWrite(std::make_shared<LocalStorage>(dir_ / "repo"), none,
                                 SystemClock::Instance())
            .value()
            .release());
  }

  // WAL shipping of `commits` transactions, then the shipper stops (as when the daemon is).
  void ShipThenStop(int commits) {
    ReplicatorOptions o;
    o.db_path = dir_ / "live.db";
    o.database = "live";
    o.spool_dir = dir_ / "spool";
    o.segment_max_age = std::chrono::milliseconds(0);
    Replicator r(o, repo_);
    ASSERT_TRUE(r.Start().ok());
    Commit(commits, &r);
    ASSERT_TRUE(r.Flush().ok());
    ASSERT_TRUE(r.Upload().ok());
  }

  void Commit(int commits, Replicator* r = nullptr) {
    for (int i = 0; i < commits; ++i) {
      ASSERT_TRUE(testtools::ApplyWorkloadStep(*app_, 4, ++step_).ok());
      if (r != nullptr) {
        ASSERT_TRUE(r->Step().ok());
      }
    }
  }

  // An hourly policy snapshot taken by `aura-agent backup --policy` while nothing ships.
  void PolicySnapshot() {
    SnapshotOptions o;
    o.database_name = "live";
    o.label = "hourly";
    ASSERT_TRUE(TakeSnapshot(dir_ / "live.db", *repo_, o).ok());
  }

  std::string Source() { return *integrity::LogicalChecksumOfFile(dir_ / "live.db"); }

  Result<RestoreResult> RestoreLatest(const std::string& name) {
    return RestoreToPoint(*repo_, "live", {PointInTime::Kind::kLatest}, dir_ / name, {});
  }

  TempDir dir_;
  std::unique_ptr<SqliteDb> app_;
  std::shared_ptr<Repository> repo_;
  uint64_t step_ = 0;
};

// Regression: with shipping stopped and a newer policy snapshot taken, --latest restored the end
// of the WAL and silently dropped every row only the snapshot held.
TEST_F(RestorePlanTest, LatestPrefersASnapshotNewerThanTheEndOfTheWal) {
  ShipThenStop(10);
  const std::string wal_end = Source();
  Commit(5);  // the application keeps writing; nothing ships
  PolicySnapshot();
  const std::string newest = Source();
  ASSERT_NE(newest, wal_end);
  auto r = RestoreLatest("latest.db");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "latest.db"), newest);
  EXPECT_NE(r->why.find("is newer than the last replicated transaction"), std::string::npos)
      << r->why;
  EXPECT_NE(r->why.find("not used: WAL of generation"), std::string::npos) << r->why;
}

// Regression: with the database's wal/ folder gone, --latest restored the generation's first
// snapshot and ignored the newer ones.
TEST_F(RestorePlanTest, LatestWithTheWalGoneUsesTheNewestSnapshot) {
  ShipThenStop(5);
  Commit(3);
  PolicySnapshot();
  Commit(3);
  PolicySnapshot();
  const std::string newest = Source();
  auto segs = repo_->ListSegments("live");
  ASSERT_TRUE(segs.ok());
  ASSERT_FALSE(segs->empty());
  for (const SegmentRef& s : *segs) ASSERT_TRUE(repo_->storage().Delete(s.Name()).ok());
  auto r = RestoreLatest("latest.db");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "latest.db"), newest);
}

TEST_F(RestorePlanTest, LatestIsTheEndOfTheWalWhenItIsNewerThanEverySnapshot) {
  PolicySnapshot();
  ShipThenStop(8);
  const std::string wal_end = Source();
  auto r = RestoreLatest("latest.db");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "latest.db"), wal_end);
  EXPECT_NE(r->why.find("is the newest state"), std::string::npos) << r->why;
}

}  // namespace
}  // namespace aura::backup
