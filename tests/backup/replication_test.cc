// WAL shipping through the library: the follower, the replicator and point-in-time restore, with
// real SQLite files and the application writing on its own connection.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <map>
#include <thread>

#include "backup/compactor.h"
#include "backup/pitr_restore.h"
#include "backup/replicator.h"
#include "backup/storage/fault_storage.h"
#include "backup/storage/local_storage.h"
#include "common/file_io_seam.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

TEST(WalFollower, ABadFrameAtTheTailIsNeverShipped) {
  TempDir dir;
  ASSERT_TRUE(aura::testing::MakeTestDb(dir / "f.db", true, 400).ok());
  auto whole = ScanWal(dir / "f.db-wal");
  ASSERT_TRUE(whole.ok());
  ASSERT_GT(whole->last_commit_frame, 2u);
  // Damage the checksum of the last commit frame: its transaction must not be shipped.
  std::string wal = *ReadFileToString(dir / "f.db-wal");
  wal[WalFrameOffset(whole->header.page_size, whole->last_commit_frame) + 20] ^= 0x10;
  ASSERT_TRUE(WriteFileAtomic(dir / "f.db-wal", wal).ok());
  auto follower = WalFollower::Open(dir / "f.db", 1000);
  ASSERT_TRUE(follower.ok()) << follower.status().ToString();
  FollowPosition pos;
  uint64_t last_commit = 0;
  int txns = 0;
  auto r = (*follower)->Poll(pos, true, [&](const WalTxn& t) {
    last_commit = t.commit_frame;
    ++txns;
    return Status::Ok();
  });
  ASSERT_TRUE(r.ok());
  EXPECT_GT(txns, 0);
  EXPECT_LT(last_commit, whole->last_commit_frame);
  EXPECT_EQ(pos.frame, last_commit);
}

TEST(WalFollower, RefusesARollbackJournalDatabaseWithTheFix) {
  TempDir dir;
  ASSERT_TRUE(aura::testing::MakeTestDb(dir / "j.db", false, 10).ok());
  auto follower = WalFollower::Open(dir / "j.db", 1000);
  EXPECT_EQ(follower.status().code(), Code::kUnsupported);
  EXPECT_NE(follower.status().message().find("journal_mode=WAL"), std::string::npos);
}

class ReplicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto made = testtools::GenerateAuraDb({dir_ / "initial.db", 2u << 20, 3, true});
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    aura::testing::CopyFile(dir_ / "initial.db", dir_ / "live.db");
    local_ = std::make_shared<LocalStorage>(dir_ / "repo");
    faulty_ = std::make_shared<FaultStorage>(local_);
    KeySource none;
    none.kind = KeySource::Kind::kNone;
    repo_ = std::shared_ptr<Repository>(
        Repository::OpenForWrite(faulty_, none, SystemClock::Instance()).value().release());
    auto app = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READWRITE, 5000);
    ASSERT_TRUE(app.ok());
    app_ = std::make_unique<SqliteDb>(std::move(app).value());
    ASSERT_TRUE(testtools::PrepareWorkload(*app_).ok());
  }

  ReplicatorOptions Options() {
    ReplicatorOptions o;
    o.db_path = dir_ / "live.db";
    o.database = "live";
    o.spool_dir = spool_.empty() ? dir_ / "spool" : spool_;
    o.segment_max_age = std::chrono::milliseconds(0);
    return o;
  }

  // Options with a fake clock and a generation rotated every 24 hours.
  ReplicatorOptions RotatingDaily(const FakeClock& clock) {
    ReplicatorOptions o = Options();
    o.clock = &clock;
    o.generation_max_age = std::chrono::hours(24);
    return o;
  }

  // Commits steps [from, to] as the application, with the replicator stepping in between.
  void Commit(uint64_t from, uint64_t to, Replicator* r, bool upload) {
    for (uint64_t s = from; s <= to; ++s) {
      auto t0 = std::chrono::steady_clock::now();
      ASSERT_TRUE(testtools::ApplyWorkloadStep(*app_, 9, s).ok());
      max_commit_ = std::max(max_commit_, std::chrono::steady_clock::now() - t0);
      if (r != nullptr) {
        (void)r->Step();
        if (upload) (void)r->Upload();
      }
    }
  }

  std::string SourceChecksum() { return *integrity::LogicalChecksumOfFile(dir_ / "live.db"); }

  std::string RestoredChecksum(const PointInTime& p, const std::string& name) {
    auto r = RestoreToPoint(*repo_, "live", p, dir_ / name, {});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return "restore failed";
    return *integrity::LogicalChecksumOfFile(dir_ / name);
  }

  TempDir dir_;
  std::string spool_;
  std::shared_ptr<LocalStorage> local_;
  std::shared_ptr<FaultStorage> faulty_;
  std::shared_ptr<Repository> repo_;
  std::unique_ptr<SqliteDb> app_;
  std::chrono::steady_clock::duration max_commit_{};
};

TEST_F(ReplicationTest, ShippedTransactionsRestoreExactly) {
  Replicator r(Options(), repo_);
  ASSERT_TRUE(r.Start().ok());
  Commit(1, 60, &r, true);
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  const std::string at60 = SourceChecksum();
  EXPECT_EQ(r.status().spooled_txid, r.status().uploaded_txid);
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), at60);
  EXPECT_EQ(r.status().generations_started, 1u);
}

TEST_F(ReplicationTest, SecondReplicatorOnTheSameSpoolIsRefused) {
  Replicator first(Options(), repo_);
  ASSERT_TRUE(first.Start().ok());
  Replicator second(Options(), repo_);
  Status s = second.Start();
  EXPECT_EQ(s.code(), Code::kBusy);
  EXPECT_NE(s.message().find("already replicating"), std::string::npos) << s.ToString();
}

// Regression (issue 14): a Start refused because of the database (rollback journal, missing)
// left the spool folder and its lock file beside it; so did a Start that failed later on.
TEST_F(ReplicationTest, ARefusedStartLeavesNoSpoolBehind) {
  ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "j.db", false, 10).ok());
  ReplicatorOptions journal = Options();
  journal.db_path = dir_ / "j.db";
  journal.spool_dir = dir_ / "j-spool";
  Replicator refused(journal, repo_);
  EXPECT_EQ(refused.Start().code(), Code::kUnsupported);
  EXPECT_FALSE(PathExists(journal.spool_dir));
  ReplicatorOptions missing = journal;
  missing.db_path = dir_ / "absent.db";
  Replicator absent(missing, repo_);
  EXPECT_FALSE(absent.Start().ok());
  EXPECT_FALSE(PathExists(journal.spool_dir));

  faulty_->FailNth(StorageOp::kList, 1, Unavailable("target unreachable (injected)"), true);
  Replicator unreachable(Options(), repo_);
  EXPECT_EQ(unreachable.Start().code(), Code::kUnavailable);
  EXPECT_FALSE(PathExists(dir_ / "spool")) << "a spool this start created";
  faulty_->Clear();
  ASSERT_TRUE(CreateDirectories(dir_ / "spool", 0700).ok());
  faulty_->FailNth(StorageOp::kList, 1, Unavailable("target unreachable (injected)"), true);
  {
    Replicator again(Options(), repo_);
    EXPECT_EQ(again.Start().code(), Code::kUnavailable);
  }
  EXPECT_TRUE(PathExists(dir_ / "spool")) << "a spool that was there stays";
  faulty_->Clear();
  Replicator ok(Options(), repo_);
  Status started = ok.Start();
  EXPECT_TRUE(started.ok()) << started.ToString();
}

TEST_F(ReplicationTest, UnwritableTargetNeverBlocksWritersAndCatchesUp) {
  Replicator r(Options(), repo_);
  ASSERT_TRUE(r.Start().ok());
  faulty_->FailNth(StorageOp::kCreate, 1, Unavailable("target unreachable (injected)"), true);
  Commit(1, 80, &r, true);
  ReplicationStatus s = r.status();
  EXPECT_GT(s.pending_txns + (s.spooled_txid - s.uploaded_txid), 0u);
  EXPECT_NE(s.last_error.find("unreachable"), std::string::npos) << s.last_error;
  // The writer never waited for the agent (a commit takes milliseconds, not the busy timeout).
  EXPECT_LT(max_commit_, std::chrono::seconds(2));
  faulty_->Clear();
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  EXPECT_EQ(r.status().uploaded_txid, r.status().spooled_txid);
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), SourceChecksum());
  EXPECT_EQ(r.status().generations_started, 1u) << "an outage must not cost a generation";
}

TEST_F(ReplicationTest, FullSpoolPausesShippingAndResumesWithoutAGap) {
  ReplicatorOptions o = Options();
  o.spool_max_bytes = 1;  // full after the first segment
  Replicator r(o, repo_);
  ASSERT_TRUE(r.Start().ok());
  Commit(1, 40, &r, /*upload=*/false);
  EXPECT_NE(r.status().last_error.find("spool"), std::string::npos);
  EXPECT_LT(max_commit_, std::chrono::seconds(2));
  // Uploads resume: the spool empties, shipping continues from where it paused.
  for (int round = 0; round < 100; ++round) {
    ASSERT_TRUE(r.Upload().ok());
    (void)r.Step();
  }
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), SourceChecksum());
  EXPECT_EQ(r.status().generations_started, 1u);
}

TEST_F(ReplicationTest, AnOldGenerationIsReplacedByAFreshSnapshotAndBothRestore) {
  FakeClock clock(SystemClock::Instance().Now());
  Replicator r(RotatingDaily(clock), repo_);
  ASSERT_TRUE(r.Start().ok());
  Commit(1, 10, &r, true);
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  const uint64_t txid10 = r.status().spooled_txid;
  const std::string at10 = SourceChecksum();
  const uint64_t first_generation = r.status().generation;

  clock.Advance(std::chrono::hours(23));
  Commit(11, 12, &r, true);
  EXPECT_EQ(r.status().generation, first_generation) << "not yet 24 hours old";

  clock.Advance(std::chrono::hours(2));
  Commit(13, 20, &r, true);
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  EXPECT_EQ(r.status().generations_started, 2u);
  EXPECT_NE(r.status().generation, first_generation);
  auto snaps = repo_->ListSnapshots("live");
  ASSERT_TRUE(snaps.ok());
  EXPECT_EQ(snaps->size(), 2u) << "the new generation starts with a fresh snapshot";
  // Every point restores: the newest from the fresh snapshot, the old ones from the first.
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), SourceChecksum());
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kTxid, txid10, {}}, "t10.db"), at10);

  // No second rotation until the new generation is itself 24 hours old.
  clock.Advance(std::chrono::hours(1));
  Commit(21, 22, &r, true);
  EXPECT_EQ(r.status().generations_started, 2u);
}

TEST_F(ReplicationTest, AnIdleDatabaseKeepsItsGeneration) {
  FakeClock clock(SystemClock::Instance().Now());
  Replicator r(RotatingDaily(clock), repo_);
  ASSERT_TRUE(r.Start().ok());
  clock.Advance(std::chrono::hours(48));
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the idle shortcut
    ASSERT_TRUE(r.Step().ok());
  }
  EXPECT_EQ(r.status().generations_started, 1u) << "nothing committed: no WAL to free";
}

TEST_F(ReplicationTest, AFailedRotationKeepsShippingAndIsRetriedLater) {
  FakeClock clock(SystemClock::Instance().Now());
  Replicator r(RotatingDaily(clock), repo_);
  ASSERT_TRUE(r.Start().ok());
  Commit(1, 5, &r, true);
  clock.Advance(std::chrono::hours(25));
  faulty_->FailNth(StorageOp::kCreate, 1, Unavailable("the bucket is down"), /*persistent=*/true);
  Commit(6, 15, &r, /*upload=*/false);  // the rotation's snapshot fails; commits keep spooling
  EXPECT_EQ(r.status().generations_started, 1u);
  EXPECT_NE(r.status().last_error.find("rotating the generation"), std::string::npos)
      << r.status().last_error;
  EXPECT_GT(r.status().spooled_txid, 10u);
  faulty_->Clear();
  ASSERT_TRUE(r.Upload().ok());
  Commit(16, 17, &r, true);
  EXPECT_EQ(r.status().generations_started, 1u) << "not retried before 10 minutes";
  clock.Advance(std::chrono::minutes(11));
  Commit(18, 20, &r, true);
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  EXPECT_EQ(r.status().generations_started, 2u);
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), SourceChecksum());
}

TEST_F(ReplicationTest, DiskFullInTheSpoolPausesShippingWithoutBlockingWriters) {
  TempDir mount_point;
  if (::mount("tmpfs", mount_point.path().c_str(), "tmpfs", 0, "size=256k") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root); the spool-limit test covers "
                    "the same path";
  }
  spool_ = mount_point / "spool";
  {
    ReplicatorOptions o = Options();
    o.segment_max_bytes = 48 * 1024;
    Replicator r(o, repo_);
    ASSERT_TRUE(r.Start().ok());
    Commit(1, 60, &r, /*upload=*/false);  // the 256 KiB spool fills: ENOSPC
    EXPECT_NE(r.status().last_error.find("disk full"), std::string::npos) << r.status().last_error;
    EXPECT_LT(max_commit_, std::chrono::seconds(2));
    // Space comes back as uploads drain the spool; shipping catches up segment by segment.
    for (int round = 0; round < 400; ++round) {
      ASSERT_TRUE(r.Upload().ok());
      (void)r.Step();
    }
    Status flushed = r.Flush();
    ASSERT_TRUE(flushed.ok()) << flushed.ToString();
    ASSERT_TRUE(r.Upload().ok());
    EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), SourceChecksum());
  }
  ::umount2(mount_point.path().c_str(), MNT_DETACH);
}

// Fails the next `n` renames into `folder` as a full disk would (the spool's final rename of a
// segment).
class FailRenamesInto : public FileIoObserver {
 public:
  FailRenamesInto(std::string folder, int n) : folder_(std::move(folder)), left_(n) {}
  Status Before(const FileOpEvent& e) override {
    if (e.op != FileOp::kRename || e.to.find(folder_) != 0 || left_ == 0) return Status::Ok();
    --left_;
    return IOError("rename: No space left on device (injected)");
  }

 private:
  std::string folder_;
  std::atomic<int> left_;
};

// Found by the chaos soak: a segment that could not be spooled (disk full) was rolled back with
// the page hashes put back after the page count, so a page the segment had added and then
// changed came back; the next segment's checksum_before no longer matched the chain and every
// restore past it failed ("checksum before mismatch").
TEST_F(ReplicationTest, ARolledBackSegmentThatGrewTheDatabaseBrokeTheChain) {
  ReplicatorOptions o = Options();
  o.segment_max_age = std::chrono::hours(1);  // one open segment for all three commits
  Replicator r(o, repo_);
  ASSERT_TRUE(r.Start().ok());
  ASSERT_TRUE(app_->Exec("CREATE TABLE Growth(v BLOB)").ok());
  ASSERT_TRUE(r.Step().ok());
  ASSERT_TRUE(app_->Exec("INSERT INTO Growth VALUES (zeroblob(3000))").ok());  // a new page
  ASSERT_TRUE(r.Step().ok());
  ASSERT_TRUE(app_->Exec("UPDATE Growth SET v = randomblob(3000)").ok());  // that page again
  ASSERT_TRUE(r.Step().ok());
  {
    FailRenamesInto full(o.spool_dir, 1);
    ScopedFileIoObserver installed(&full);
    Status cut = r.Flush();
    ASSERT_FALSE(cut.ok()) << "the injected full disk did not reach the spool";
  }
  ASSERT_TRUE(r.Flush().ok());  // the same transactions, read again from the WAL
  ASSERT_TRUE(r.Upload().ok());
  Commit(1, 5, &r, true);  // and the chain goes on from there
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), SourceChecksum());
}

TEST_F(ReplicationTest, RestoresToEveryTransaction) {
  Replicator r(Options(), repo_);
  ASSERT_TRUE(r.Start().ok());
  const uint64_t base = r.status().spooled_txid;
  std::vector<std::string> expected;
  for (uint64_t s = 1; s <= 30; ++s) {
    Commit(s, s, &r, true);
    expected.push_back(SourceChecksum());
  }
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  // Step s is txid base + s (the workload table predates the generation snapshot).
  for (uint64_t s = 1; s <= 30; s += 7) {
    PointInTime p{PointInTime::Kind::kTxid, base + s, {}};
    EXPECT_EQ(RestoredChecksum(p, "t" + std::to_string(s) + ".db"), expected[s - 1]) << s;
  }
}

TEST_F(ReplicationTest, DamagedSegmentFailsTheRestoreAndLeavesNothing) {
  Replicator r(Options(), repo_);
  ASSERT_TRUE(r.Start().ok());
  Commit(1, 20, &r, true);
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  auto segs = repo_->ListSegments("live");
  ASSERT_TRUE(segs.ok() && !segs->empty());
  std::string path = dir_ / ("repo/" + segs->back().Name());
  std::string bytes = *ReadFileToString(path);
  bytes[bytes.size() - 30] ^= 0x01;
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  auto restored = RestoreToPoint(*repo_, "live", {PointInTime::Kind::kLatest}, dir_ / "out.db", {});
  EXPECT_EQ(restored.status().code(), Code::kCorruption) << restored.status().ToString();
  EXPECT_NE(restored.status().message().find(segs->back().Name()), std::string::npos);
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
  // Points before the damaged segment still restore.
  PointInTime before{PointInTime::Kind::kTxid, segs->back().first_txid - 1, {}};
  EXPECT_TRUE(RestoreToPoint(*repo_, "live", before, dir_ / "before.db", {}).ok());
}

// An idle database must not cost a repository listing every few seconds forever.
TEST_F(ReplicationTest, CompactionRunsOnlyWhenItCanFindWork) {
  FakeClock clock(SystemClock::Instance().Now());
  Compactor c(repo_, "live", dir_ / "scratch", &clock);
  const int lists = faulty_->Calls(StorageOp::kList);
  auto ran = [&](uint64_t uploaded) {
    const uint64_t before = c.runs();
    EXPECT_TRUE(c.RunIfDue(uploaded).ok());
    return c.runs() > before;
  };
  EXPECT_TRUE(ran(0)) << "the first call looks";
  EXPECT_FALSE(ran(0));
  clock.Advance(std::chrono::seconds(11));
  EXPECT_FALSE(ran(0)) << "nothing uploaded: no reason to look again soon";
  EXPECT_TRUE(ran(3)) << "uploads: look";
  clock.Advance(std::chrono::seconds(5));
  EXPECT_FALSE(ran(4)) << "at most every 10 s";
  clock.Advance(std::chrono::seconds(6));
  EXPECT_TRUE(ran(4));
  // Quiet: windows still close for a while (up to the 1 h level), checked every 5 minutes.
  clock.Advance(std::chrono::minutes(4));
  EXPECT_FALSE(ran(4));
  clock.Advance(std::chrono::minutes(2));
  EXPECT_TRUE(ran(4));
  int looks = 0;
  for (int minute = 0; minute < 180; ++minute) {
    clock.Advance(std::chrono::minutes(1));
    looks += ran(4) ? 1 : 0;
  }
  EXPECT_GE(looks, 11) << "every window of the last upload gets its turn";
  EXPECT_LE(looks, 14) << "then nothing can close: no more runs";
  EXPECT_FALSE(ran(4));
  EXPECT_EQ(faulty_->Calls(StorageOp::kList), lists + 1)
      << "the index is listed once, at the first run";
}

// The request budget (issue 13): in steady shipping compaction reads nothing back from the
// target (inputs from the local cache, existence from its index), lists once, and deletes the
// merged level-0 segments with one batch request per run; every restore point still restores.
TEST_F(ReplicationTest, SteadyCompactionReadsNothingBackAndBatchesItsDeletes) {
  FakeClock clock(SystemClock::Instance().Now());
  ReplicatorOptions o = Options();
  o.clock = &clock;
  Replicator r(o, repo_);
  ASSERT_TRUE(r.Start().ok());
  Compactor c(repo_, "live", dir_ / "scratch", &clock);
  r.KeepUploaded([&c](const std::string& path, const SegmentHeader& h) { c.Adopt(path, h); });
  ASSERT_TRUE(c.Run().ok());  // the first run lists
  const uint64_t base = r.status().spooled_txid;
  std::map<uint64_t, std::string> expected;
  const int opens = faulty_->Calls(StorageOp::kOpen), stats = faulty_->Calls(StorageOp::kStat),
            lists = faulty_->Calls(StorageOp::kList), deletes = faulty_->Calls(StorageOp::kDelete);
  int written = 0;
  for (uint64_t s = 1; s <= 480; ++s) {  // 80 minutes, a commit every 10 s
    clock.Advance(std::chrono::seconds(10));
    Commit(s, s, &r, true);
    if (s % 47 == 0) expected[base + s] = SourceChecksum();
    auto w = c.RunIfDue(r.status().segments_uploaded);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    written += *w;
  }
  EXPECT_EQ(faulty_->Calls(StorageOp::kOpen), opens) << "no object was read back";
  EXPECT_EQ(faulty_->Calls(StorageOp::kStat), stats) << "no existence check";
  EXPECT_EQ(faulty_->Calls(StorageOp::kList), lists) << "no listing after the first run";
  EXPECT_EQ(faulty_->Calls(StorageOp::kDelete), deletes) << "no one-by-one deletes";
  EXPECT_GT(written, 160) << "level 1 every 30 s, level 2 every 5 min, level 3 every hour";
  EXPECT_LE(faulty_->Calls(StorageOp::kDeleteMany), written) << "one batch per run at most";
  auto segs = repo_->ListSegments("live");
  ASSERT_TRUE(segs.ok());
  int per_level[4] = {0, 0, 0, 0};
  for (const SegmentRef& s : *segs) ++per_level[s.level];
  EXPECT_LE(per_level[0], 5) << "only the open window's level-0 segments are left";
  EXPECT_GE(per_level[3], 1);
  for (const auto& [txid, checksum] : expected) {
    EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kTxid, txid, {}}, "t" + std::to_string(txid)),
              checksum)
        << txid;
  }
  // The cache holds only what a later merge still needs: no level-0 copies of merged windows.
  int cached_level0 = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "scratch/cache")) {
    if (e.is_regular_file() && e.path().parent_path().filename() == "0") ++cached_level0;
  }
  EXPECT_LE(cached_level0, per_level[0]);
}

// A compactor whose cache is gone (a new host, a wiped spool) falls back to reading the target
// and produces the same segments.
TEST_F(ReplicationTest, CompactionWithoutItsCacheReadsTheTargetInstead) {
  FakeClock clock(SystemClock::Instance().Now());
  ReplicatorOptions o = Options();
  o.clock = &clock;
  Replicator r(o, repo_);
  ASSERT_TRUE(r.Start().ok());
  Compactor c(repo_, "live", dir_ / "scratch", &clock);
  r.KeepUploaded([&c](const std::string& path, const SegmentHeader& h) { c.Adopt(path, h); });
  for (uint64_t s = 1; s <= 60; ++s) {
    clock.Advance(std::chrono::seconds(10));
    Commit(s, s, &r, true);
  }
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  const std::string latest = SourceChecksum();
  std::filesystem::remove_all(dir_ / "scratch");
  clock.Advance(std::chrono::hours(2));
  const int opens = faulty_->Calls(StorageOp::kOpen);
  Compactor fresh(repo_, "live", dir_ / "scratch", &clock);
  auto w = fresh.Run();
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_GT(*w, 0);
  EXPECT_GT(faulty_->Calls(StorageOp::kOpen), opens) << "inputs came from the target";
  auto segs = repo_->ListSegments("live");
  ASSERT_TRUE(segs.ok());
  for (const SegmentRef& s : *segs) EXPECT_NE(s.level, 0) << s.Name();
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), latest);
}

TEST_F(ReplicationTest, CompactionKeepsEveryRestorePointAndShortensTheChain) {
  FakeClock clock(SystemClock::Instance().Now());
  ReplicatorOptions o = Options();
  o.clock = &clock;
  std::map<uint64_t, std::string> expected;  // txid -> source checksum
  uint64_t base = 0;
  {
    Replicator r(o, repo_);
    ASSERT_TRUE(r.Start().ok());
    base = r.status().spooled_txid;
    for (uint64_t s = 1; s <= 500; ++s) {
      clock.Advance(std::chrono::seconds(9));  // 75 minutes of history
      Commit(s, s, &r, true);
      if (s % 61 == 0) expected[base + s] = SourceChecksum();
    }
    ASSERT_TRUE(r.Flush().ok());
    ASSERT_TRUE(r.Upload().ok());
  }
  const std::string latest = SourceChecksum();
  auto before = PlanRestore(*repo_, "live", {PointInTime::Kind::kLatest});
  ASSERT_TRUE(before.ok());
  clock.Advance(std::chrono::hours(1));
  Compactor c(repo_, "live", dir_ / "scratch", &clock);
  auto written = c.Run();
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_GT(*written, 0);
  auto segs = repo_->ListSegments("live");
  int per_level[4] = {0, 0, 0, 0};
  for (const SegmentRef& s : *segs) ++per_level[s.level];
  EXPECT_EQ(per_level[0], 0) << "level 0 is merged into level 1";
  EXPECT_GT(per_level[1], 100);
  EXPECT_GT(per_level[2], 10);
  EXPECT_GE(per_level[3], 1);
  EXPECT_EQ(*Compactor(repo_, "live", dir_ / "scratch", &clock).Run(), 0) << "idempotent";
  auto after = PlanRestore(*repo_, "live", {PointInTime::Kind::kLatest});
  ASSERT_TRUE(after.ok());
  EXPECT_LT(after->chain.size() * 10, before->chain.size())
      << before->chain.size() << " segments before, " << after->chain.size() << " after";
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest.db"), latest);
  for (const auto& [txid, checksum] : expected) {
    EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kTxid, txid, {}}, "t" + std::to_string(txid)),
              checksum)
        << txid;
  }
  // A restart after compaction (level 0 gone) resumes the same generation.
  Replicator again(o, repo_);
  ASSERT_TRUE(again.Start().ok());
  EXPECT_EQ(again.status().generations_started, 0u);
  Commit(501, 510, &again, true);
  ASSERT_TRUE(again.Flush().ok());
  ASSERT_TRUE(again.Upload().ok());
  EXPECT_EQ(RestoredChecksum({PointInTime::Kind::kLatest}, "latest2.db"), SourceChecksum());
}

}  // namespace
}  // namespace aura::backup
