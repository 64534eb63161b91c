// Repository verification and restore drills against real repositories: snapshots (full and
// incremental) and WAL shipped by a real Replicator from a database a real writer changes,
// compacted by the real Compactor, then damaged on disk the way storage rot or an operator's
// mistake would.
#include <gtest/gtest.h>

#include <random>

#include "backup/compactor.h"
#include "backup/pitr_restore.h"
#include "backup/replicator.h"
#include "backup/snapshot.h"
#include "backup/storage/fault_storage.h"
#include "backup/storage/local_storage.h"
#include "common/file_io.h"
#include "integrity/drill.h"
#include "integrity/logical_checksum.h"
#include "integrity/verify.h"
#include "tests/support/replicated_repo.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::integrity {
namespace {

using aura::testing::TempDir;
using backup::SegmentRef;

class VerifyTest : public aura::testing::ReplicatedRepoTest {
 protected:
  VerifyReport Verify() {
    auto r = VerifyRepository(*repo_, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }

  static const ObjectProblem* Find(const VerifyReport& r, const std::string& object,
                                   const std::string& kind) {
    for (const ObjectProblem& p : r.bad) {
      if (p.name == object && p.kind == kind) return &p;
    }
    return nullptr;
  }

  static std::string Problems(const VerifyReport& r) {
    std::string out;
    for (const ObjectProblem& p : r.bad)
      out += p.kind + " " + p.name + ": " + p.error.message() + "\n";
    return out;
  }
};

TEST_F(VerifyTest, AHealthyReplicatedAndCompactedRepositoryIsAllGood) {
  Ship(40, true);
  VerifyReport r = Verify();
  EXPECT_TRUE(r.ok()) << Problems(r);
  EXPECT_GE(r.snapshots, 1);
  const size_t all = Segments(1).size() + Segments(2).size() + Segments(3).size();
  EXPECT_FALSE(Segments(1).empty());
  EXPECT_FALSE(Segments(2).empty());
  EXPECT_EQ(r.segments, static_cast<int>(all)) << "every segment at every level is read";
}

// Regression: verify read no WAL segment, so a flipped byte passed as "all good" and only the
// restore found it.
TEST_F(VerifyTest, AFlippedByteInAWalSegmentIsFoundAndNamed) {
  Ship(20, false);
  auto segs = Segments(0);
  ASSERT_GT(segs.size(), 5u);
  const SegmentRef victim = segs[segs.size() / 2];
  FlipByte(victim.Name());
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(Find(r, victim.Name(), "damaged"), nullptr) << Problems(r);
  const ObjectProblem* gap = nullptr;
  for (const ObjectProblem& p : r.bad) gap = p.kind == "gap" ? &p : gap;
  ASSERT_NE(gap, nullptr) << "the transactions after it cannot be restored:\n" << Problems(r);
  EXPECT_NE(gap->error.message().find("breaks after txid " + std::to_string(victim.first_txid - 1)),
            std::string::npos)
      << gap->error.message();
  // And the restore agrees: it fails naming the segment and the newest point before it, which
  // then restores when asked for explicitly.
  auto restored = backup::RestoreToPoint(*repo_, "live", {}, dir_ / "out.db", {});
  EXPECT_EQ(restored.status().code(), Code::kCorruption);
  const uint64_t intact = victim.first_txid - 1;
  EXPECT_NE(restored.status().message().find(victim.Name()), std::string::npos);
  EXPECT_NE(restored.status().message().find("--txid " + std::to_string(intact)), std::string::npos)
      << restored.status().message();
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
  auto older = backup::RestoreToPoint(
      *repo_, "live", {backup::PointInTime::Kind::kTxid, intact, {}}, dir_ / "older.db", {});
  EXPECT_TRUE(older.ok()) << older.status().ToString();
}

TEST_F(VerifyTest, AFlippedByteInACompactedSegmentIsFoundAndNamed) {
  Ship(40, true);
  auto segs = Segments(2);
  ASSERT_FALSE(segs.empty());
  FlipByte(segs.front().Name());
  VerifyReport r = Verify();
  EXPECT_NE(Find(r, segs.front().Name(), "damaged"), nullptr) << Problems(r);
}

TEST_F(VerifyTest, AMissingSegmentIsAGapNamingWhereTheChainBreaks) {
  Ship(20, false);
  auto segs = Segments(0);
  ASSERT_GT(segs.size(), 5u);
  const SegmentRef gone = segs[3];
  ASSERT_TRUE(repo_->storage().Delete(gone.Name()).ok());
  VerifyReport r = Verify();
  EXPECT_NE(Find(r, segs[4].Name(), "gap"), nullptr) << Problems(r);
}

TEST_F(VerifyTest, ASegmentSwappedForAnotherIsFound) {
  Ship(20, false);
  auto segs = Segments(0);
  ASSERT_GT(segs.size(), 5u);
  // The bytes of one segment stored under another's name (a botched copy, a malicious swap).
  aura::testing::CopyFile(dir_ / ("repo/" + segs[2].Name()), dir_ / ("repo/" + segs[4].Name()));
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  bool named = false;
  for (const ObjectProblem& p : r.bad) named = named || p.name == segs[4].Name();
  EXPECT_TRUE(named) << Problems(r);
}

// Regression: a deleted base manifest passed verify, which listed the base's data as an orphan,
// and prune deletes orphans after a day: the increment became unrestorable.
TEST_F(VerifyTest, ADeletedIncrementalBaseManifestIsAnErrorNotAnOrphan) {
  backup::PageState pages;
  backup::SnapshotOptions o;
  o.database_name = "live";
  o.pages = &pages;
  auto full = backup::TakeSnapshot(dir_ / "live.db", *repo_, o);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  ASSERT_TRUE(testtools::ApplyWorkloadStep(*app_, 3, ++step_).ok());
  o.base = full->ref.id;
  auto inc = backup::TakeSnapshot(dir_ / "live.db", *repo_, o);
  ASSERT_TRUE(inc.ok()) << inc.status().ToString();
  ASSERT_EQ(inc->manifest.summary.kind, "incremental");
  EXPECT_TRUE(Verify().ok());

  ASSERT_TRUE(repo_->storage().Delete(full->ref.ManifestName()).ok());
  VerifyReport r = Verify();
  EXPECT_FALSE(r.ok());
  const ObjectProblem* p = Find(r, full->ref.ManifestName(), "missing-base");
  ASSERT_NE(p, nullptr) << Problems(r);
  EXPECT_NE(p->error.message().find(inc->ref.id), std::string::npos) << p->error.message();
  EXPECT_TRUE(r.orphans.empty()) << "the base's data is needed, not an orphan: " << r.orphans[0];
}

class DrillTest : public VerifyTest {
 protected:
  DrillReport Drill(std::vector<std::string> assertions = {}, bool random = false,
                    uint64_t seed = 0) {
    DrillOptions o;
    o.database = "live";
    o.scratch_dir = dir_ / "scratch-drill";
    o.assertions = std::move(assertions);
    o.random_point = random;
    o.seed = seed;
    o.source_path = dir_ / "live.db";
    return RunRestoreDrill(*repo_, o);
  }
};

TEST_F(DrillTest, AHealthyRepositoryPassesAndReportsRtoAndRpo) {
  Ship(15, false);
  DrillReport r = Drill({"SELECT count(*) > 0 FROM WorkloadTicks"});
  ASSERT_TRUE(r.passed()) << DrillOutcomeName(r.outcome) << ": " << r.reason;
  EXPECT_GT(r.txid, 0u) << "the newest replicated transaction";
  EXPECT_GT(r.rto_seconds, 0);
  ASSERT_TRUE(r.rpo_seconds.has_value()) << "the source is readable";
  EXPECT_GE(*r.rpo_seconds, 0);
  std::string checks;
  for (const std::string& c : r.checks) checks += c + "; ";
  EXPECT_NE(checks.find("integrity_check ok"), std::string::npos) << checks;
  EXPECT_NE(checks.find("foreign_key_check ok"), std::string::npos) << checks;
  EXPECT_NE(checks.find("SELECT count(*) > 0 FROM WorkloadTicks"), std::string::npos) << checks;
  EXPECT_FALSE(PathExists(dir_ / "scratch-drill/drill.db")) << "the copy is deleted";
}

TEST_F(DrillTest, AFalseAssertionFailsWithTheAssertionsText) {
  Ship(5, false);
  DrillReport r = Drill({"SELECT count(*) = 123456 FROM WorkloadTicks"});
  EXPECT_EQ(r.outcome, DrillOutcome::kFail);
  EXPECT_NE(r.reason.find("SELECT count(*) = 123456 FROM WorkloadTicks"), std::string::npos)
      << r.reason;
}

TEST_F(DrillTest, AForeignKeyViolationFailsTheDrillNamingTheTable) {
  // foreign_key_check runs beside integrity_check, on its own connection: it must still decide.
  ASSERT_TRUE(app_->Exec("INSERT INTO SceneStates(Id, ProjectId, SceneIndex, ScriptText, "
                         "DurationSeconds, IsCompleted, CreatedAt) VALUES('orphan-scene', "
                         "'no-such-project', 0, 'x', 1.0, 0, '2026-12-01')")
                  .ok());
  Ship(2, false);
  DrillReport r = Drill({"SELECT count(*) > 0 FROM SceneStates"});
  EXPECT_EQ(r.outcome, DrillOutcome::kFail) << r.reason;
  EXPECT_NE(r.reason.find("foreign_key_check: table SceneStates"), std::string::npos) << r.reason;
  EXPECT_FALSE(PathExists(dir_ / "scratch-drill/drill.db")) << "the copy is deleted";
}

TEST_F(DrillTest, ADamagedSegmentFailsTheDrillNamingIt) {
  Ship(10, false);
  auto segs = Segments(0);
  ASSERT_FALSE(segs.empty());
  FlipByte(segs.back().Name());
  DrillReport r = Drill();
  EXPECT_EQ(r.outcome, DrillOutcome::kFail) << r.reason;
  EXPECT_NE(r.reason.find(segs.back().Name()), std::string::npos) << r.reason;
}

TEST_F(DrillTest, WithTheTargetDownTheDrillIsInconclusiveNeverAPass) {
  Ship(5, false);
  for (backup::StorageOp op : {backup::StorageOp::kList, backup::StorageOp::kOpen}) {
    faulty_->FailNth(op, 1, Unavailable("connection refused (injected)"), true);
  }
  DrillReport r = Drill();
  EXPECT_EQ(r.outcome, DrillOutcome::kInconclusive) << DrillOutcomeName(r.outcome) << r.reason;
  EXPECT_NE(r.reason.find("connection refused"), std::string::npos) << r.reason;
}

TEST_F(DrillTest, RandomPointsAcrossSnapshotsAndTransactionsAllPass) {
  Ship(12, false);
  backup::SnapshotOptions o;
  o.database_name = "live";
  o.label = "hourly";
  ASSERT_TRUE(backup::TakeSnapshot(dir_ / "live.db", *repo_, o).ok());
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    DrillReport r = Drill({}, true, seed);
    EXPECT_TRUE(r.passed()) << "seed " << seed << ": " << r.reason;
    EXPECT_EQ(r.point, "random");
  }
}

// Every kind of stored object, damaged every way: verify finds it, a drill fails naming it, and a
// restore of the newest state either refuses or produces exactly the source's database.
class CorruptionMatrix
    : public VerifyTest,
      public ::testing::WithParamInterface<std::tuple<std::string, std::string>> {
 protected:
  // The object of `kind`, and another of the same kind to swap in.
  std::pair<std::string, std::string> Pick(const std::string& kind) {
    if (kind == "snapshot-data" || kind == "manifest") {
      auto refs = repo_->ListSnapshots("live");
      EXPECT_TRUE(refs.ok() && refs->size() >= 2);
      if (!refs.ok() || refs->size() < 2) return {};
      const auto& a = refs->back();  // the generation snapshot (taken last, at Start)
      const auto& b = refs->front();
      return kind == "manifest" ? std::pair{a.ManifestName(), b.ManifestName()}
                                : std::pair{a.DataName(), b.DataName()};
    }
    const int level = kind.back() - '0';
    auto segs = Segments(level);
    EXPECT_GE(segs.size(), 1u) << kind;
    if (segs.empty()) return {};
    auto all = repo_->ListSegments("live");
    const SegmentRef& victim = segs[segs.size() / 2];
    for (const SegmentRef& other : all.value()) {
      if (other.Name() != victim.Name()) return {victim.Name(), other.Name()};
    }
    return {victim.Name(), ""};
  }

  void Damage(const std::string& how, const std::string& object, const std::string& other) {
    const std::string path = dir_ / ("repo/" + object);
    if (how == "flip") return FlipByte(object);
    if (how == "delete") {
      ASSERT_TRUE(repo_->storage().Delete(object).ok());
      return;
    }
    std::string bytes = how == "swap" ? *ReadFileToString(dir_ / ("repo/" + other))
                                      : ReadFileToString(path)->substr(0, 100);
    ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  }
};

TEST_P(CorruptionMatrix, VerifyFindsItAndNoRestoreReturnsWrongData) {
  const auto& [kind, how] = GetParam();
  backup::SnapshotOptions so;
  so.database_name = "live";
  so.label = "hourly";
  ASSERT_TRUE(backup::TakeSnapshot(dir_ / "live.db", *repo_, so).ok());  // a second snapshot
  clock_.Advance(std::chrono::seconds(5));
  Ship(60, true);
  auto [object, other] = Pick(kind);
  ASSERT_FALSE(object.empty());
  Damage(how, object, other);

  VerifyReport r = Verify();
  bool named = false;
  for (const ObjectProblem& p : r.bad) named = named || p.name == object;
  if (how == "delete" && kind != "segment-2" && kind != "segment-3") {
    EXPECT_TRUE(!r.ok() || !r.orphans.empty()) << object << "\n" << Problems(r);
  } else if (how == "delete") {
    // A compacted segment only shortens chains: every transaction is still in level 1, so
    // nothing restorable is lost and verify has nothing to report; the restore below proves it.
  } else {
    EXPECT_TRUE(named) << how << " " << object << " not named:\n" << Problems(r);
  }

  // A drill fails whenever verify found a problem, naming the (first) object, even when the
  // restore path it takes does not need that object.
  DrillOptions drill;
  drill.database = "live";
  drill.scratch_dir = dir_ / "drill";
  DrillReport d = RunRestoreDrill(*repo_, drill);
  if (!r.ok()) {
    EXPECT_EQ(d.outcome, DrillOutcome::kFail) << how << " " << object << ": " << d.reason;
    EXPECT_NE(d.reason.find(r.bad.front().name), std::string::npos) << d.reason;
  }

  // The newest state: a restore either refuses or gives the source exactly as it is now.
  const std::string source_now = Source();
  auto restored = backup::RestoreToPoint(*repo_, "live", {}, dir_ / "latest.db", {});
  if (restored.ok()) {
    EXPECT_EQ(*LogicalChecksumOfFile(dir_ / "latest.db"), source_now)
        << how << " " << object << ": the restore returned other data";
  } else {
    EXPECT_NE(restored.status().code(), Code::kOk);
  }
}

INSTANTIATE_TEST_SUITE_P(
    EveryObjectEveryWay, CorruptionMatrix,
    ::testing::Combine(::testing::Values("snapshot-data", "manifest", "segment-1", "segment-2",
                                         "segment-3"),
                       ::testing::Values("flip", "truncate", "delete", "swap")),
    [](const ::testing::TestParamInfo<std::tuple<std::string, std::string>>& p) {
      std::string n = std::get<0>(p.param) + "_" + std::get<1>(p.param);
      for (char& c : n) c = c == '-' ? '_' : c;
      return n;
    });

}  // namespace
}  // namespace aura::integrity

namespace aura::integrity {
namespace {

// Randomized: point-in-time restores at many transactions, through compacted and per-transaction
// segments, each compared with the source as it was at that transaction.
TEST_F(VerifyTest, RestoresAtRandomTransactionsEqualTheSourceThenEvenAfterCompaction) {
  {
    backup::Replicator r(ShippingOptions(), repo_);
    ASSERT_TRUE(r.Start().ok());
    ShipRecording(r, 60, std::chrono::seconds(30));
    ASSERT_TRUE(r.Flush().ok());
    ASSERT_TRUE(r.Upload().ok());
  }
  const std::map<uint64_t, std::string>& truth = truth_;
  clock_.Advance(std::chrono::hours(2));
  ASSERT_TRUE(backup::Compactor(repo_, "live", dir_ / "scratch", &clock_).Run().ok());
  ASSERT_FALSE(Segments(3).empty());
  std::mt19937_64 rng(42);
  std::vector<uint64_t> txids;
  for (const auto& [txid, checksum] : truth) txids.push_back(txid);
  for (int i = 0; i < 25; ++i) {
    const uint64_t txid = txids[rng() % txids.size()];
    const std::string out = dir_ / ("at-" + std::to_string(i) + ".db");
    auto restored = backup::RestoreToPoint(*repo_, "live",
                                           {backup::PointInTime::Kind::kTxid, txid, {}}, out, {});
    ASSERT_TRUE(restored.ok()) << txid << ": " << restored.status().ToString();
    EXPECT_EQ(restored->txid, txid);
    EXPECT_EQ(*LogicalChecksumOfFile(out), truth.at(txid))
        << "txid " << txid << " via " << restored->source;
  }
}

}  // namespace
}  // namespace aura::integrity
