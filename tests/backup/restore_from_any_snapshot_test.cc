// One restore plan: every snapshot of a continuous database (generation or policy, full or
// incremental) stands at a txid, so point-in-time chains start from any of them; the plan takes
// the cheapest path, and a damaged base is passed over (and named) instead of failing a restore
// another path can do. Real replicator, compactor and writer; ground truth recorded per commit.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "backup/page_state.h"
#include "backup/pitr_restore.h"
#include "backup/snapshot.h"
#include "integrity/drill.h"
#include "tests/support/replicated_repo.h"

namespace aura::backup {
namespace {

class AnySnapshotRestore : public aura::testing::ReplicatedRepoTest {
 protected:
  // Commits 5 s apart: several per 30 s compaction window.
  void ShipRecording(Replicator& r, int commits) {
    ReplicatedRepoTest::ShipRecording(r, commits, std::chrono::seconds(5));
  }

  // A policy snapshot taken by the replicator at its position (full, or incremental on `base`).
  SnapshotResult PolicySnapshot(Replicator& r, const std::string& base) {
    SnapshotOptions o;
    o.database_name = "live";
    o.label = "hourly";
    o.clock = &clock_;
    o.pages = &pages_;
    o.base = base;
    auto s = r.SnapshotHere(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? *s : SnapshotResult{};
  }

  // A generation with a full and an incremental policy snapshot inside it, compacted.
  void BuildRepository() {
    // Start 2 s after a 30 s compaction window boundary, so the policy snapshots (after commits
    // 5 s apart) fall inside level-1 windows, whatever the real time is.
    const int64_t window_us = 30 * 1000000;
    const int64_t us = ToUnixMicros(clock_.Now());
    clock_.Advance(std::chrono::microseconds(window_us - us % window_us + 2 * 1000000));
    Replicator r(ShippingOptions(), repo_);
    ASSERT_TRUE(r.Start().ok());
    truth_[r.status().spooled_txid] = Source();
    ShipRecording(r, 15);
    full_ = PolicySnapshot(r, "");
    ShipRecording(r, 15);
    incremental_ = PolicySnapshot(r, full_.ref.id);
    ShipRecording(r, 15);
    ASSERT_TRUE(r.Flush().ok());
    ASSERT_TRUE(r.Upload().ok());
    clock_.Advance(std::chrono::hours(2));
    ASSERT_TRUE(Compactor(repo_, "live", dir_ / "scratch", &clock_).Run().ok());
    ASSERT_FALSE(Segments(3).empty());
    ASSERT_TRUE(Segments(0).empty()) << "level 0 is compacted away: chains enter level 1 mid-way";
  }

  Result<RestoreResult> RestoreTxid(uint64_t txid, const std::string& name) {
    return RestoreToPoint(*repo_, "live", {PointInTime::Kind::kTxid, txid, {}}, dir_ / name, {});
  }

  PageState pages_;
  SnapshotResult full_, incremental_;
};

// The follow-up of the daemon issue: policy snapshots of a shipped database recorded no WAL
// position, so chains could start only from the generation snapshot, however old.
TEST_F(AnySnapshotRestore, PolicySnapshotsTakenWhileShippingStandAtTheTxidShipped) {
  BuildRepository();
  ASSERT_TRUE(full_.manifest.replication.has_value());
  ASSERT_TRUE(incremental_.manifest.replication.has_value());
  EXPECT_EQ(full_.manifest.summary.kind, "full");
  EXPECT_EQ(incremental_.manifest.summary.kind, "incremental");
  const uint64_t at = incremental_.manifest.summary.txid;
  EXPECT_EQ(full_.manifest.summary.txid + 15, at);
  // Restoring the snapshot alone gives the source exactly as it was at its txid.
  auto alone = RestoreSnapshot(*repo_, incremental_.ref, dir_ / "alone.db", {});
  ASSERT_TRUE(alone.ok()) << alone.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "alone.db"), truth_[at]);

  auto plan = PlanRestore(*repo_, "live", {PointInTime::Kind::kTxid, at + 3, {}});
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->base.id, incremental_.ref.id) << plan->why;
  ASSERT_FALSE(plan->chain.empty());
  EXPECT_LE(plan->chain.front().first_txid, at) << "entered mid-way into a level-1 segment";
  auto restored = RestoreTxid(at + 3, "after.db");
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "after.db"), truth_[at + 3]);
}

// Randomized: restores at many random txids across snapshots of every kind and compacted
// segments, each equal to the source at that commit; several different bases get used.
TEST_F(AnySnapshotRestore, RandomTxidsRestoreExactlyFromWhicheverSnapshotIsCheapest) {
  BuildRepository();
  std::vector<uint64_t> txids;
  for (const auto& [txid, sum] : truth_) txids.push_back(txid);
  std::mt19937_64 rng(7);
  std::set<std::string> bases;
  for (int i = 0; i < 30; ++i) {
    const uint64_t txid = txids[rng() % txids.size()];
    const std::string name = "at-" + std::to_string(i) + ".db";
    auto restored = RestoreTxid(txid, name);
    ASSERT_TRUE(restored.ok()) << txid << ": " << restored.status().ToString();
    EXPECT_EQ(restored->txid, txid);
    EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / name), truth_[txid])
        << "txid " << txid << " via " << restored->source;
    bases.insert(restored->snapshot);
  }
  EXPECT_GE(bases.size(), 2u) << "the generation snapshot and policy snapshots serve as bases";
}

TEST_F(AnySnapshotRestore, ADamagedCheapestBaseIsPassedOverAndNamedButFailsADrill) {
  BuildRepository();
  const uint64_t end = incremental_.manifest.summary.txid + 3;
  const PointInTime point{PointInTime::Kind::kTxid, end, {}};
  auto plan = PlanRestore(*repo_, "live", point);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  const SnapshotRef victim = plan->base;
  ASSERT_TRUE(victim.id == full_.ref.id || victim.id == incremental_.ref.id)
      << plan->why << " full " << full_.ref.id << " inc " << incremental_.ref.id;
  FlipByte(victim.DataName());
  auto restored = RestoreToPoint(*repo_, "live", point, dir_ / "latest.db", {});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->txid, end);
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "latest.db"), truth_[end]);
  EXPECT_NE(restored->snapshot, victim.id);
  EXPECT_NE(restored->why.find("snapshot " + victim.id), std::string::npos) << restored->why;

  // The newest state does not need the damaged snapshot; the drill still fails, naming it.
  integrity::DrillOptions o;
  o.database = "live";
  o.scratch_dir = dir_ / "drill";
  integrity::DrillReport drill = integrity::RunRestoreDrill(*repo_, o);
  EXPECT_EQ(drill.outcome, integrity::DrillOutcome::kFail) << drill.reason;
  EXPECT_NE(drill.reason.find(victim.id), std::string::npos) << drill.reason;
}

// A snapshot taken outside the replicator stands at the shipped end only while the database still
// equals it; once the application moved on, it records no position (and --latest prefers it as
// the newer plain snapshot).
TEST_F(AnySnapshotRestore, ASnapshotOutsideShippingStandsAtTheEndOnlyWhileTheDatabaseEqualsIt) {
  {
    Replicator r(ShippingOptions(), repo_);
    ASSERT_TRUE(r.Start().ok());
    ShipRecording(r, 5);
    ASSERT_TRUE(r.Flush().ok());
    ASSERT_TRUE(r.Upload().ok());
  }
  auto end = FindReplicatedEnd(*repo_, "live");
  ASSERT_TRUE(end.ok() && end->has_value());
  EXPECT_EQ((*end)->point.txid, truth_.rbegin()->first);
  auto take = [&] {
    SnapshotOptions o;
    o.database_name = "live";
    o.clock = &clock_;
    DatabaseChecksum sum;
    o.checksum = &sum;
    o.replication_if_equal = (*end)->point;
    clock_.Advance(std::chrono::seconds(1));
    return TakeSnapshot(dir_ / "live.db", *repo_, o).value();
  };
  SnapshotResult same = take();
  ASSERT_TRUE(same.manifest.replication.has_value());
  EXPECT_EQ(same.manifest.summary.txid, (*end)->point.txid);
  ASSERT_TRUE(testtools::ApplyWorkloadStep(*app_, 3, ++step_).ok());
  SnapshotResult moved = take();
  EXPECT_FALSE(moved.manifest.replication.has_value());
  EXPECT_EQ(moved.manifest.summary.txid, 0u);
  auto restored = RestoreToPoint(*repo_, "live", {}, dir_ / "latest.db", {});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->snapshot, moved.ref.id);
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "latest.db"), Source());
}

}  // namespace
}  // namespace aura::backup
