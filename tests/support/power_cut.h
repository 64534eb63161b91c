// PowerCutTest: the loop of the power-cut tests (tests/backup/power_cut_*_test.cc) and the checks
// after each cut. A run has three folders:
//   app/   the source database, which the application (this test) changes; not modelled (SQLite
//          makes its own commits durable)
//   disk/  what the power cut rewrites (LostWritesDisk): the repository (a local target), the
//          spool, the compactor's scratch folder and cache, key files, the key retirement scratch
//   out/   restores
// An operation is run once uncut to count its durable steps N, then, for each k of StepsToCut(N),
// on a fresh copy of the same starting state with the power cut at step k; after each cut the
// disk is rewritten as after a reboot and the test checks what a user relies on: the repository
// opens, verifies without a broken reference, and restores to a point at least as new as the last
// one the operation acknowledged; and the agent, run again, finishes the job.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "backup/pitr_restore.h"
#include "backup/repository.h"
#include "backup/restore.h"
#include "backup/storage/local_storage.h"
#include "common/clock.h"
#include "common/file_io_seam.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "integrity/verify.h"
#include "tests/support/lost_writes.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::testing {

// Which of `n` durable steps to cut at: every one when there are at most `max_cuts`; otherwise the
// first and last six and evenly spaced ones between.
inline std::vector<uint64_t> StepsToCut(uint64_t n, uint64_t max_cuts) {
  std::set<uint64_t> steps;
  if (n <= max_cuts) {
    for (uint64_t k = 1; k <= n; ++k) steps.insert(k);
    return {steps.begin(), steps.end()};
  }
  constexpr uint64_t kEdge = 6;
  for (uint64_t k = 1; k <= kEdge; ++k) {
    steps.insert(k);
    steps.insert(n + 1 - k);
  }
  const uint64_t middle = max_cuts - 2 * kEdge;
  for (uint64_t i = 1; i <= middle; ++i) steps.insert(kEdge + i * (n - 2 * kEdge) / (middle + 1));
  return {steps.begin(), steps.end()};
}

// Copies the tree `from` to `to` (which must not exist), keeping modes and modification times
// (prune reads segment ages from them).
inline void CopyTree(const std::string& from, const std::string& to) {
  struct stat st {};
  ASSERT_EQ(::lstat(from.c_str(), &st), 0) << from;
  if (S_ISDIR(st.st_mode)) {
    ASSERT_EQ(::mkdir(to.c_str(), st.st_mode & 07777), 0) << to;
    for (const std::string& name : ListDirectory(from))
      CopyTree(from + "/" + name, to + "/" + name);
    ASSERT_EQ(::chmod(to.c_str(), st.st_mode & 07777), 0);
    return;
  }
  if (!S_ISREG(st.st_mode)) return;
  std::filesystem::copy_file(from, to);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, to.c_str(), times, 0), 0);
  ASSERT_EQ(::chmod(to.c_str(), st.st_mode & 07777), 0);
}

inline constexpr uint64_t kPowerCutSeed = 3;

class PowerCutTest : public ::testing::Test {
 protected:
  // The source every run starts from: an Aura-like database in WAL mode with the workload's table,
  // checkpointed so that the file alone holds it; made once per test binary.
  static const std::string& TemplateDatabase() {
    static TempDir* dir = new TempDir();  // lives as long as the process
    static const std::string path = [] {
      const std::string p = *dir / "initial.db";
      EXPECT_TRUE(testtools::GenerateAuraDb({p, 1u << 20, kPowerCutSeed, true}).ok());
      auto db = SqliteDb::Open(p, SQLITE_OPEN_READWRITE, 5000);
      EXPECT_TRUE(db.ok());
      EXPECT_TRUE(testtools::PrepareWorkload(*db).ok());
      EXPECT_TRUE(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
      return p;
    }();
    return path;
  }

  // A fresh run from the template database (start == nullptr) or from a copy of the run folder
  // `start` (its app/ and disk/, as a prepared starting state).
  void NewRun(const TempDir* start = nullptr) {
    app_.reset();
    run_ = std::make_unique<TempDir>();
    if (start != nullptr) {
      CopyTree(*start / "app", Path("app"));
      CopyTree(*start / "disk", Path("disk"));
    } else {
      ASSERT_EQ(::mkdir(Path("app").c_str(), 0700), 0);
      ASSERT_EQ(::mkdir(Path("disk").c_str(), 0700), 0);
      CopyFile(TemplateDatabase(), App());
    }
    ASSERT_EQ(::mkdir(Path("out").c_str(), 0700), 0);
    auto app = SqliteDb::Open(App(), SQLITE_OPEN_READWRITE, 5000);
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    app_ = std::make_unique<SqliteDb>(std::move(app).value());
    ASSERT_TRUE(app_->Exec("PRAGMA journal_mode=WAL").ok());
  }

  std::string Path(const std::string& name) const { return *run_ / name; }
  std::string App() const { return Path("app/live.db"); }
  std::string Disk() const { return Path("disk"); }
  std::string Repo() const { return Path("disk/repo"); }
  std::string Spool() const { return Path("disk/spool"); }
  std::string Scratch() const { return Path("disk/scratch"); }

  // The application commits workload step `step`.
  void Commit(uint64_t step) {
    Status s = testtools::ApplyWorkloadStep(*app_, kPowerCutSeed, step);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string Source() { return *integrity::LogicalChecksumOfFile(App()); }

  // Runs `op` on the modelled disk with the power cut at durable step `k` (0: never), then
  // rewrites the disk as the reboot finds it. Every object of the operation must be gone when
  // `op` returns (the process died with the machine). Returns the number of durable steps seen.
  uint64_t RunCut(uint64_t k, const std::function<void()>& op) {
    LostWritesDisk disk({Disk()});
    disk.CutAt(k);
    {
      ScopedFileIoObserver installed(&disk);
      op();
    }
    if (k > 0) {
      EXPECT_TRUE(disk.power_is_out()) << "the operation took fewer than " << k << " steps";
    }
    last_cut_ = disk.cut_step();
    const uint64_t steps = disk.durable_steps();
    Status s = disk.ApplyPowerCut();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return steps;
  }

  // `op` killed (SIGKILL: the page cache stays) at durable step `k`, then `rerun` to the end, then
  // the power cut: what `rerun` acknowledged must not rest on what the killed run left unsynced.
  void RunKillThenCut(uint64_t k, const std::function<void()>& op,
                      const std::function<void()>& rerun) {
    LostWritesDisk disk({Disk()});
    disk.CutAt(k);
    {
      ScopedFileIoObserver installed(&disk);
      op();
      EXPECT_TRUE(disk.power_is_out()) << "the operation took fewer than " << k << " steps";
      last_cut_ = disk.cut_step();
      disk.AfterKill();
      rerun();
    }
    Status s = disk.ApplyPowerCut();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }

  // Cuts `op` at each step StepsToCut picks, each on a fresh run from `start` (see NewRun), and
  // calls `check` after each cut; `n` is the uncut run's count. Returns the number of cuts.
  int CutEach(const std::string& what, uint64_t n, uint64_t max_cuts, const TempDir* start,
              const std::function<void()>& op, const std::function<void()>& check) {
    const std::vector<uint64_t> steps = StepsToCut(n, max_cuts);
    for (uint64_t k : steps) {
      SCOPED_TRACE(what + ": power cut at durable step " + std::to_string(k) + " of " +
                   std::to_string(n));
      NewRun(start);
      RunCut(k, op);
      SCOPED_TRACE("the power went out at " + last_cut_);
      check();
      if (::testing::Test::HasFailure()) break;  // one broken state is enough to read
    }
    std::cout << "[power cut] " << what << ": " << n << " durable steps, " << steps.size()
              << " cuts\n";
    return static_cast<int>(steps.size());
  }

  // The same with a kill at each step and the power cut after `rerun`.
  int KillEachThenCut(const std::string& what, uint64_t n, uint64_t max_cuts, const TempDir* start,
                      const std::function<void()>& op, const std::function<void()>& rerun,
                      const std::function<void()>& check) {
    const std::vector<uint64_t> steps = StepsToCut(n, max_cuts);
    for (uint64_t k : steps) {
      SCOPED_TRACE(what + ": killed at durable step " + std::to_string(k) + " of " +
                   std::to_string(n) + ", run again, then the power cut");
      NewRun(start);
      RunKillThenCut(k, op, rerun);
      SCOPED_TRACE("killed at " + last_cut_);
      check();
      if (::testing::Test::HasFailure()) break;
    }
    std::cout << "[power cut] " << what << ", killed then cut: " << n << " durable steps, "
              << steps.size() << " kills\n";
    return static_cast<int>(steps.size());
  }

  static backup::KeySource NoEncryption() {
    backup::KeySource none;
    none.kind = backup::KeySource::Kind::kNone;
    return none;
  }
  static backup::KeySource KeyFile(const std::string& path) {
    backup::KeySource k;
    k.kind = backup::KeySource::Kind::kKeyFile;
    k.key_file = path;
    return k;
  }

  // The repository as the reboot left it; nullptr (with kNotFound in `status`) if there is none.
  std::shared_ptr<backup::Repository> OpenRepo(const backup::KeySource& keys,
                                               Status* status = nullptr) {
    auto repo = backup::Repository::Open(std::make_shared<backup::LocalStorage>(Repo()), keys);
    if (status != nullptr) *status = repo.status();
    if (!repo.ok()) return nullptr;
    return std::shared_ptr<backup::Repository>(std::move(repo).value().release());
  }
  std::shared_ptr<backup::Repository> OpenRepoForWrite(const backup::KeySource& keys) {
    auto repo = backup::Repository::OpenForWrite(std::make_shared<backup::LocalStorage>(Repo()),
                                                 keys, clock_);
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    if (!repo.ok()) return nullptr;
    return std::shared_ptr<backup::Repository>(std::move(repo).value().release());
  }

  // Verification found nothing wrong: no object damaged or missing, no chain broken. `gaps_ok`:
  // WAL that no snapshot leads to is accepted (an interrupted prune deletes the base first).
  static void ExpectSound(backup::Repository& repo, bool gaps_ok = false) {
    auto report = integrity::VerifyRepository(repo, {});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    for (const integrity::ObjectProblem& p : report->bad) {
      if (gaps_ok && p.kind == "gap") continue;
      ADD_FAILURE() << p.kind << " " << p.name << ": " << p.error.ToString();
    }
  }

  // The logical checksum of a restore to `point` (an error's text if it failed).
  std::string Restored(backup::Repository& repo, const backup::PointInTime& point) {
    const std::string target = Path("out/r" + std::to_string(++restores_) + ".db");
    auto r = backup::RestoreToPoint(repo, "live", point, target, {});
    if (!r.ok()) return "restore failed: " + r.status().ToString();
    return *integrity::LogicalChecksumOfFile(target);
  }
  std::string RestoredLatest(backup::Repository& repo) {
    return Restored(repo, {backup::PointInTime::Kind::kLatest});
  }
  std::string RestoredAt(backup::Repository& repo, uint64_t txid) {
    return Restored(repo, {backup::PointInTime::Kind::kTxid, txid});
  }
  std::string RestoredSnapshot(backup::Repository& repo, const backup::SnapshotRef& ref) {
    const std::string target = Path("out/r" + std::to_string(++restores_) + ".db");
    auto r = backup::RestoreSnapshot(repo, ref, target, {});
    if (!r.ok()) return "restore failed: " + r.status().ToString();
    return *integrity::LogicalChecksumOfFile(target);
  }

  std::unique_ptr<TempDir> run_;
  std::unique_ptr<SqliteDb> app_;
  FakeClock clock_{SystemClock::Instance().Now()};
  std::string last_cut_;
  int restores_ = 0;
};

}  // namespace aura::testing
