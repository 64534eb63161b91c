// Power cuts with lost writes (tests/support/power_cut.h) during the writes that make backups: a
// snapshot into a local target, and WAL shipping (spool, then upload to a local target). After a
// cut at any durable step, the repository restores to a point at least as new as the last one the
// agent acknowledged, and the agent, started again, carries on from there.
#include "tests/support/power_cut.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>

#include "backup/page_state.h"
#include "backup/replicator.h"
#include "backup/snapshot.h"
#include "backup/spool.h"
#include "common/hashing.h"

namespace aura::testing {
namespace {

using backup::PointInTime;

// A fresh target made into a repository, then a full snapshot, an incremental one on it and
// another full one, the application committing before each.
struct SnapshotRun {
  std::vector<std::string> source;  // the source's checksum at each attempt
  std::vector<std::string> ids;     // the acknowledged snapshots
};

class PowerCutSnapshotTest : public PowerCutTest {
 protected:
  void TakeSnapshots(SnapshotRun& run) {
    auto repo = backup::Repository::OpenForWrite(std::make_shared<backup::LocalStorage>(Repo()),
                                                 NoEncryption(), clock_);
    if (!repo.ok()) return;
    backup::PageState pages;
    for (int i = 0; i < 3; ++i) {
      Commit(static_cast<uint64_t>(i + 1));
      run.source.push_back(Source());
      clock_.Advance(std::chrono::minutes(1));
      backup::SnapshotOptions o;
      o.database_name = "live";
      o.clock = &clock_;
      o.pages = &pages;
      if (i == 1) o.base = run.ids.back();
      auto snap = backup::TakeSnapshot(App(), **repo, o);
      if (!snap.ok()) return;  // the power is out
      run.ids.push_back(snap->ref.id);
    }
  }

  // After a kill: a full snapshot of the source as it is now, into the same target.
  void SnapshotAgain(SnapshotRun& run) {
    auto repo = OpenRepoForWrite(NoEncryption());
    ASSERT_NE(repo, nullptr);
    Commit(10);
    run.source.push_back(Source());
    clock_.Advance(std::chrono::minutes(1));  // the newest, whatever the killed run left
    backup::SnapshotOptions o;
    o.database_name = "live";
    o.clock = &clock_;
    auto snap = backup::TakeSnapshot(App(), *repo, o);
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    run.ids.push_back(snap->ref.id);
  }

  void CheckAfterCut(const SnapshotRun& run) {
    Status opened;
    auto repo = OpenRepo(NoEncryption(), &opened);
    if (repo == nullptr) {
      EXPECT_EQ(opened.code(), Code::kNotFound) << opened.ToString();
      EXPECT_TRUE(run.ids.empty()) << "a snapshot was acknowledged in a repository now gone";
    } else {
      CheckSnapshots(*repo, run);
    }
    // Taken again, a snapshot goes in and restores.
    auto again = OpenRepoForWrite(NoEncryption());
    ASSERT_NE(again, nullptr);
    clock_.Advance(std::chrono::minutes(1));  // the newest, whatever the cut left
    backup::SnapshotOptions o;
    o.database_name = "live";
    o.clock = &clock_;
    auto snap = backup::TakeSnapshot(App(), *again, o);
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    EXPECT_EQ(RestoredLatest(*again), Source());
    ExpectSound(*again);
  }

  void CheckSnapshots(backup::Repository& repo, const SnapshotRun& run) {
    ExpectSound(repo);
    // Every acknowledged snapshot is there and restores the source as it was.
    for (size_t i = 0; i < run.ids.size(); ++i) {
      auto ref = repo.FindSnapshot("live", run.ids[i]);
      ASSERT_TRUE(ref.ok()) << "acknowledged snapshot " << run.ids[i] << ": "
                            << ref.status().ToString();
      EXPECT_EQ(RestoredSnapshot(repo, *ref), run.source[i]) << run.ids[i];
    }
    // The latest is the last acknowledged one or a newer attempt.
    auto listed = repo.ListSnapshots("live");
    ASSERT_TRUE(listed.ok());
    if (listed->empty()) {
      EXPECT_TRUE(run.ids.empty());
    } else {
      const std::string latest = RestoredLatest(repo);
      const auto first_allowed = run.source.begin() + static_cast<std::ptrdiff_t>(
                                                          run.ids.empty() ? 0 : run.ids.size() - 1);
      EXPECT_NE(std::find(first_allowed, run.source.end(), latest), run.source.end())
          << "latest restore: " << latest;
    }
  }
};

TEST_F(PowerCutSnapshotTest, EveryCutLeavesTheAcknowledgedSnapshotsRestorable) {
  NewRun();
  SnapshotRun uncut;
  const uint64_t n = RunCut(0, [&] { TakeSnapshots(uncut); });
  ASSERT_EQ(uncut.ids.size(), 3u);
  CheckAfterCut(uncut);
  ASSERT_GT(n, 10u);
  SnapshotRun run;
  CutEach(
      "snapshots into a new local target", n, 60, nullptr,
      [&] {
        run = SnapshotRun{};
        TakeSnapshots(run);
      },
      [&] { CheckAfterCut(run); });
}

TEST_F(PowerCutSnapshotTest, ASnapshotAfterAKillIsDurableWhateverTheKilledRunLeftUnsynced) {
  NewRun();
  SnapshotRun uncut;
  const uint64_t n = RunCut(0, [&] { TakeSnapshots(uncut); });
  ASSERT_EQ(uncut.ids.size(), 3u);
  SnapshotRun killed, rerun;
  KillEachThenCut(
      "snapshots into a new local target", n, 60, nullptr,
      [&] {
        killed = SnapshotRun{};
        TakeSnapshots(killed);
      },
      [&] {
        rerun = SnapshotRun{};
        SnapshotAgain(rerun);
      },
      [&] {
        auto repo = OpenRepo(NoEncryption());
        ASSERT_NE(repo, nullptr) << "the repository the rerun wrote into is gone";
        CheckSnapshots(*repo, rerun);
      });
}

// What shipping acknowledged: status().uploaded_txid (durable in the repository) and
// spooled_txid (durable in the spool), with the source's checksum after each txid.
struct ShipRun {
  uint64_t uploaded = 0;
  uint64_t spooled = 0;
  std::map<uint64_t, std::string> truth;
};

class PowerCutShippingTest : public PowerCutTest {
 protected:
  backup::ReplicatorOptions Options() {
    backup::ReplicatorOptions o;
    o.db_path = App();
    o.database = "live";
    o.spool_dir = Spool();
    o.segment_max_age = std::chrono::milliseconds(0);  // a segment per step
    o.clock = &clock_;
    return o;
  }

  // The starting state: a repository made before the run (durable), the template source.
  void Prepare(const TempDir& start) {
    NewRun();
    ASSERT_NE(OpenRepoForWrite(NoEncryption()), nullptr);
    app_.reset();
    CopyTree(Path("app"), start / "app");
    CopyTree(Disk(), start / "disk");
  }

  // Shipping from a new spool: Start (the generation snapshot stands at txid 1), then six
  // commits, each stepped and uploaded.
  void Ship(ShipRun& run) {
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    backup::Replicator r(Options(), repo);
    run.truth[1] = Source();
    const bool started = r.Start().ok();
    run.uploaded = r.status().uploaded_txid;
    run.spooled = r.status().spooled_txid;
    for (uint64_t step = 1; started && step <= 6; ++step) {
      clock_.Advance(std::chrono::seconds(30));
      Commit(step);
      run.truth[1 + step] = Source();
      Status s = r.Step();
      if (s.ok()) s = r.Flush();  // a segment per commit, whatever the timing
      if (s.ok()) s = r.Upload();
      run.uploaded = r.status().uploaded_txid;
      run.spooled = r.status().spooled_txid;
      if (!s.ok()) break;  // the power is out
    }
  }

  // The furthest txid the spool or the repository holds, as a restarted replicator finds it.
  uint64_t DurableEnd(backup::Repository& repo) {
    uint64_t end = 0;
    auto replicated = backup::FindReplicatedEnd(repo, "live");
    EXPECT_TRUE(replicated.ok()) << replicated.status().ToString();
    if (replicated.ok() && *replicated) end = (*replicated)->point.txid;
    auto spooled = backup::ListSpool(Spool());
    if (spooled.ok() && !spooled->empty()) end = std::max(end, spooled->back().last_txid);
    return end;
  }

  void CheckAfterCut(const ShipRun& run) {
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    ExpectSound(*repo);
    auto snaps = repo->ListSnapshots("live");
    ASSERT_TRUE(snaps.ok());
    if (run.uploaded == 0) {
      EXPECT_LE(snaps->size(), 1u);
    } else {
      // The acknowledged point, exactly; the latest, at least as new.
      EXPECT_EQ(RestoredAt(*repo, run.uploaded), run.truth.at(run.uploaded));
      const std::string latest = RestoredLatest(*repo);
      bool newer = false;
      for (auto it = run.truth.find(run.uploaded); it != run.truth.end(); ++it) {
        newer = newer || it->second == latest;
      }
      EXPECT_TRUE(newer) << "latest restore is older than acknowledged txid " << run.uploaded
                         << ": " << latest;
    }
    EXPECT_GE(DurableEnd(*repo), run.spooled) << "a txid reported durable in the spool is lost";
    Restart(repo);
  }

  // After a kill: the agent started again, two more commits shipped; `run` gets what it
  // acknowledged, with the source's checksum at each txid it spooled.
  void ShipAgain(ShipRun& run) {
    auto repo = OpenRepo(NoEncryption());
    ASSERT_NE(repo, nullptr);
    backup::Replicator r(Options(), repo);
    Status started = r.Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    run.truth[r.status().spooled_txid] = Source();
    for (uint64_t step = 7; step <= 8; ++step) {
      clock_.Advance(std::chrono::seconds(30));
      Commit(step);
      ASSERT_TRUE(r.Step().ok());
      run.truth[r.status().spooled_txid] = Source();
      ASSERT_TRUE(r.Upload().ok());
    }
    ASSERT_TRUE(r.Flush().ok());
    ASSERT_TRUE(r.Upload().ok());
    run.uploaded = r.status().uploaded_txid;
    run.spooled = r.status().spooled_txid;
  }

  // The agent started again ships on from what the disk holds, to the source as it is.
  void Restart(const std::shared_ptr<backup::Repository>& repo) {
    backup::Replicator r(Options(), repo);
    Status started = r.Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    for (uint64_t step = 7; step <= 8; ++step) {
      clock_.Advance(std::chrono::seconds(30));
      Commit(step);
      ASSERT_TRUE(r.Step().ok());
    }
    ASSERT_TRUE(r.Flush().ok());
    Status up = r.Upload();
    ASSERT_TRUE(up.ok()) << up.ToString();
    EXPECT_EQ(RestoredLatest(*repo), Source());
    ExpectSound(*repo);
  }
};

TEST_F(PowerCutShippingTest, EveryCutKeepsTheUploadedAndSpooledTransactions) {
  TempDir start;
  Prepare(start);
  const TimePoint at_start = clock_.Now();
  NewRun(&start);
  ShipRun uncut;
  const uint64_t n = RunCut(0, [&] { Ship(uncut); });
  ASSERT_EQ(uncut.uploaded, 7u);
  CheckAfterCut(uncut);
  ASSERT_GT(n, 10u);
  ShipRun run;
  CutEach(
      "WAL shipping to a local target", n, 60, &start,
      [&] {
        run = ShipRun{};
        clock_.Set(at_start);
        Ship(run);
      },
      [&] { CheckAfterCut(run); });
}

TEST_F(PowerCutShippingTest, ShippingAfterAKillIsDurableWhateverTheKilledRunLeftUnsynced) {
  TempDir start;
  Prepare(start);
  const TimePoint at_start = clock_.Now();
  NewRun(&start);
  ShipRun uncut;
  const uint64_t n = RunCut(0, [&] { Ship(uncut); });
  ShipRun killed, rerun;
  KillEachThenCut(
      "WAL shipping to a local target", n, 60, &start,
      [&] {
        killed = ShipRun{};
        clock_.Set(at_start);
        Ship(killed);
      },
      [&] {
        rerun = ShipRun{};
        ShipAgain(rerun);
      },
      [&] {
        auto repo = OpenRepo(NoEncryption());
        ASSERT_NE(repo, nullptr);
        ExpectSound(*repo);
        ASSERT_TRUE(rerun.truth.count(rerun.uploaded)) << rerun.uploaded;
        EXPECT_EQ(RestoredAt(*repo, rerun.uploaded), rerun.truth.at(rerun.uploaded));
        EXPECT_EQ(RestoredLatest(*repo), rerun.truth.at(rerun.uploaded));
        EXPECT_GE(DurableEnd(*repo), rerun.spooled);
      });
}

}  // namespace
}  // namespace aura::testing

namespace aura::testing {
namespace {

// The local target's two durability rules for folders (local_storage.h), each against the
// lost-writes model with a writer killed at exactly the step that matters.
class PowerCutLocalStorageTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(CreateDirectories(disk_, 0700).ok()); }

  static Status Put(backup::Storage& s, const std::string& name) {
    return backup::PutObject(s, name, AsBytes(std::string_view("object bytes")), {});
  }

  TempDir dir_;
  const std::string disk_ = dir_ / "disk";
};

// Regression: a folder that existed was taken as durable, so one made by a run killed before it
// fsynced the folder's parent lost every object a later run put in it at the next power cut.
TEST_F(PowerCutLocalStorageTest, AFolderAKilledRunMadeIsMadeDurableByTheNextWriteIntoIt) {
  LostWritesDisk disk({disk_});
  // mkdir repo, a, b; then the parents up the chain: a (1), repo (2), disk (3): killed there.
  disk.CutAt(3);
  {
    ScopedFileIoObserver on(&disk);
    backup::LocalStorage killed(disk_ + "/repo");
    EXPECT_EQ(Put(killed, "a/b/first").code(), Code::kIOError);
    ASSERT_TRUE(disk.power_is_out());
    disk.AfterKill();
    backup::LocalStorage rerun(disk_ + "/repo");
    ASSERT_TRUE(Put(rerun, "a/b/second").ok());
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  backup::LocalStorage after(disk_ + "/repo");
  auto listed = after.List("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u) << "the acknowledged object is lost";
  EXPECT_EQ((*listed)[0].name, "a/b/second");
}

// Regression: the replicator resumed from an object a killed run had renamed into place without
// fsyncing its folder; MakeDurable makes such an object survive the power cut.
TEST_F(PowerCutLocalStorageTest, MakeDurableKeepsAnObjectAKilledWriterLeftUnsynced) {
  backup::LocalStorage killed(disk_ + "/repo");
  ASSERT_TRUE(Put(killed, "db/snapshots/old").ok());  // its folders are durable now
  LostWritesDisk disk({disk_});
  disk.CutAt(2);  // the object's fsync (1), then its folder's (2)
  {
    ScopedFileIoObserver on(&disk);
    EXPECT_EQ(Put(killed, "db/snapshots/new").code(), Code::kIOError);
    disk.AfterKill();
    backup::LocalStorage rerun(disk_ + "/repo");
    ASSERT_TRUE(rerun.Stat("db/snapshots/new").ok()) << "visible in the page cache";
    ASSERT_TRUE(rerun.MakeDurable("db/").ok());
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  backup::LocalStorage after(disk_ + "/repo");
  EXPECT_TRUE(after.Stat("db/snapshots/new").ok());
  EXPECT_TRUE(after.Stat("db/snapshots/old").ok());
}

}  // namespace
}  // namespace aura::testing
