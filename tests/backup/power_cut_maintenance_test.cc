// Power cuts with lost writes (tests/support/power_cut.h) during the jobs that rewrite a
// repository: compaction, prune (retention) and key retirement. None of them adds a restore
// point, so after a cut at any durable step every point the repository restored before must
// still restore exactly, verification must find no broken reference, and the job, run again,
// must finish.
#include <gtest/gtest.h>

#include <map>

#include "agent/config.h"
#include "agent/jobs.h"
#include "backup/compactor.h"
#include "backup/key_retirement.h"
#include "backup/keyring.h"
#include "backup/replicator.h"
#include "backup/snapshot.h"
#include "tests/support/power_cut.h"

namespace aura::testing {
namespace {

class PowerCutMaintenanceTest : public PowerCutTest {
 protected:
  // The starting state in `start_`: a repository (encrypted with a key file at `key_file`, a path
  // under the run's folder, when given) holding a generation snapshot and `commits` WAL segments
  // `apart` in fake time, the uploaded level-0 files kept in the compactor's cache as the daemon
  // keeps them; then, when `snapshots` > 0, that many plain snapshots, a commit before each.
  void Prepare(int commits, std::chrono::seconds apart, int snapshots,
               const std::string& key_file = "") {
    key_file_ = key_file;
    NewRun();
    if (!key_file_.empty()) {
      ASSERT_TRUE(CreateDirectories(DirName(Path(key_file_)), 0700).ok());
      auto a = backup::CreateKeyFile(Path(key_file_));
      ASSERT_TRUE(a.ok()) << a.status().ToString();
      key_a_ = a->id;
    }
    auto repo = OpenRepoForWrite(Keys());
    ASSERT_NE(repo, nullptr);
    Ship(repo, commits, apart);
    for (int i = 0; i < snapshots; ++i) {
      clock_.Advance(std::chrono::minutes(1));
      Commit(++step_);
      backup::SnapshotOptions o;
      o.database_name = "live";
      o.clock = &clock_;
      auto snap = backup::TakeSnapshot(App(), *repo, o);
      ASSERT_TRUE(snap.ok()) << snap.status().ToString();
      snapshots_.emplace_back(snap->ref, Source());
    }
    if (!key_file_.empty()) {
      ASSERT_TRUE(backup::AddKeyToFile(Path(key_file_)).ok());
    }
    app_.reset();
    CopyTree(Path("app"), start_ / "app");
    CopyTree(Disk(), start_ / "disk");
    prepared_at_ = clock_.Now();
  }

  // The repository's keys in the current run, as its key file is now.
  backup::KeySource Keys() const {
    return key_file_.empty() ? NoEncryption() : KeyFile(Path(key_file_));
  }

  void Ship(const std::shared_ptr<backup::Repository>& repo, int commits,
            std::chrono::seconds apart) {
    backup::ReplicatorOptions o;
    o.db_path = App();
    o.database = "live";
    o.spool_dir = Spool();
    o.segment_max_age = std::chrono::milliseconds(0);
    o.clock = &clock_;
    backup::Replicator r(o, repo);
    backup::Compactor c(repo, "live", Scratch(), &clock_);
    r.KeepUploaded(
        [&c](const std::string& path, const backup::SegmentHeader& h) { c.Adopt(path, h); });
    truth_[1] = Source();
    ASSERT_TRUE(r.Start().ok());
    for (int i = 0; i < commits; ++i) {
      clock_.Advance(apart);
      Commit(++step_);
      ASSERT_TRUE(r.Step().ok());
      ASSERT_TRUE(r.Flush().ok());  // a segment per commit, whatever the timing
      ASSERT_TRUE(r.Upload().ok());
      ASSERT_EQ(r.status().uploaded_txid, 1 + step_) << "one commit, one transaction";
      truth_[1 + step_] = Source();
    }
    last_txid_ = 1 + step_;
  }

  // Every point this test checks restores exactly: the latest, and the txids in `txids`.
  void ExpectRestores(backup::Repository& repo, const std::string& latest,
                      const std::vector<uint64_t>& txids) {
    EXPECT_EQ(RestoredLatest(repo), latest) << "latest";
    for (uint64_t t : txids) EXPECT_EQ(RestoredAt(repo, t), truth_.at(t)) << "txid " << t;
  }

  TempDir start_;
  std::string key_file_;  // relative to the run's folder; empty: no encryption
  TimePoint prepared_at_{};
  uint64_t step_ = 0;
  uint64_t last_txid_ = 0;
  backup::KeyId key_a_ = 0;
  std::map<uint64_t, std::string> truth_;  // txid -> the source's checksum after it
  std::vector<std::pair<backup::SnapshotRef, std::string>> snapshots_;  // plain, with the source
};

// Compaction two hours after twelve commits ten seconds apart: level-1 windows of three
// segments (their level-0 inputs deleted), then level 2 and level 3.
TEST_F(PowerCutMaintenanceTest, CompactionNeverLosesARestorePoint) {
  Prepare(12, std::chrono::seconds(10), 0);
  auto compact = [&] {
    clock_.Set(prepared_at_ + std::chrono::hours(2));
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    backup::Compactor c(repo, "live", Scratch(), &clock_);
    (void)c.Run();
  };
  const std::vector<uint64_t> points = {2, 5, 8, last_txid_};
  auto check = [&] {
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    ExpectSound(*repo);
    ExpectRestores(*repo, truth_.at(last_txid_), points);
    // Run again, compaction finishes and every point still restores.
    backup::Compactor c(repo, "live", Scratch(), &clock_);
    auto again = c.Run();
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ExpectSound(*repo);
    ExpectRestores(*repo, truth_.at(last_txid_), points);
  };
  NewRun(&start_);
  const uint64_t n = RunCut(0, compact);
  {
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    auto segments = repo->ListSegments("live");
    ASSERT_TRUE(segments.ok());
    for (const backup::SegmentRef& s : *segments) {
      EXPECT_NE(s.level, 0) << "the uncut run merged every level-0 segment: " << s.Name();
    }
  }
  check();
  ASSERT_GT(n, 10u);
  CutEach("compaction", n, 40, &start_, compact, check);
}

// Prune with keep_last 2 and no point-in-time window: the generation snapshot, the oldest plain
// snapshot and every WAL segment go, manifests first.
TEST_F(PowerCutMaintenanceTest, PruneNeverLeavesAListedSnapshotWithoutItsData) {
  Prepare(4, std::chrono::seconds(30), 3);
  agent::DatabaseConfig db;
  db.name = "live";
  db.path = App();
  db.keep_last = 2;
  db.continuous = false;
  auto prune = [&] {
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    (void)agent::RunPrune(*repo, db, {}, prepared_at_, false);
  };
  const std::string& newest = snapshots_.back().second;
  auto check = [&] {
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    // An interrupted prune may leave WAL whose base snapshot it already deleted: a gap, which
    // the next prune removes. Nothing listed may miss an object.
    ExpectSound(*repo, /*gaps_ok=*/true);
    EXPECT_EQ(RestoredLatest(*repo), newest);
    for (size_t i = 1; i < snapshots_.size(); ++i) {
      EXPECT_EQ(RestoredSnapshot(*repo, snapshots_[i].first), snapshots_[i].second);
    }
    auto again = agent::RunPrune(*repo, db, {}, prepared_at_, false);
    ASSERT_TRUE(again.ok()) << again.status().ToString();
    ExpectSound(*repo);
    EXPECT_EQ(RestoredLatest(*repo), newest);
    auto snapshots = repo->ListSnapshots("live");
    auto segments = repo->ListSegments("live");
    ASSERT_TRUE(snapshots.ok() && segments.ok());
    EXPECT_EQ(snapshots->size(), 2u);
    EXPECT_TRUE(segments->empty());
  };
  NewRun(&start_);
  const uint64_t n = RunCut(0, prune);
  check();
  ASSERT_GT(n, 5u);
  CutEach("prune", n, 40, &start_, prune, check);
}

// Key retirement of key A (which sealed everything) under key B, then A dropped from the key
// file, as `aura-agent key retire --drop-from-key-file` does.
TEST_F(PowerCutMaintenanceTest, KeyRetirementAlwaysLeavesTheKeyFileAbleToRestoreEverything) {
  Prepare(4, std::chrono::seconds(30), 1, "disk/keys/k");
  auto retire_options = [&] {
    backup::RetireOptions o;
    o.retire = key_a_;
    o.database = "live";
    o.scratch_dir = Scratch() + "/retire";
    return o;
  };
  auto retire = [&] {
    auto repo = OpenRepo(Keys());
    ASSERT_NE(repo, nullptr);
    if (backup::RetireKey(*repo, retire_options()).ok()) {
      (void)backup::RemoveKeyFromFile(Path(key_file_), key_a_);
    }
  };
  const std::vector<uint64_t> points = {2, last_txid_};
  const std::string& newest = snapshots_.back().second;
  auto check = [&] {
    auto ring = backup::Keyring::LoadFile(Path(key_file_));
    ASSERT_TRUE(ring.ok()) << "the key file after the cut: " << ring.status().ToString();
    auto repo = OpenRepo(Keys());
    ASSERT_NE(repo, nullptr);
    ExpectSound(*repo);
    ExpectRestores(*repo, newest, points);
    if (ring->Find(key_a_) != nullptr) {
      auto again = backup::RetireKey(*repo, retire_options());
      ASSERT_TRUE(again.ok()) << again.status().ToString();
      ASSERT_TRUE(backup::RemoveKeyFromFile(Path(key_file_), key_a_).ok());
    }
    auto only_new = OpenRepo(Keys());
    ASSERT_NE(only_new, nullptr);
    ASSERT_EQ(only_new->keyring().keys().size(), 1u);
    ExpectSound(*only_new);
    ExpectRestores(*only_new, newest, points);
  };
  NewRun(&start_);
  const uint64_t n = RunCut(0, retire);
  check();
  ASSERT_GT(n, 10u);
  CutEach("key retirement", n, 30, &start_, retire, check);
}

}  // namespace
}  // namespace aura::testing
