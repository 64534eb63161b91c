// The chaos soak (docs/RELIABILITY.md, "Chaos soak"): writers commit continuously to three
// databases while the harness, in a random order for AURA_SOAK_SECONDS (default 90), SIGKILLs
// and restarts the agent, makes the S3 server unreachable and then slow (the fault proxy), fills
// the spool's disk (a tmpfs), applies a migration through the daemon and corrupts a stored
// object. Along the way it restores one database and compares it with the deterministic
// workload's replay; at the end every database restores, from every target, at its last shipped
// transaction to exactly the source's state; the corruption was reported by a drill; the agent
// never exited but by the kills. The counts go to AURA_SOAK_REPORT (a JSON file) if set.
//
//   scripts/soak [SECONDS]      a longer run (see docs/RELIABILITY.md)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "tests/soak/soak_harness.h"

namespace aura::soak {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

class ChaosSoak : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string missing = aura::testing::MotoServer::Missing();
    if (!missing.empty()) GTEST_SKIP() << missing;
    disk_ = std::make_unique<SmallDisk>(dir_ / "state", 192);
    if (!disk_->mounted()) counts_.disk_full_skipped = disk_->error();
    world_ = std::make_unique<SoakWorld>(dir_.path());
    ASSERT_TRUE(world_->moto().ready());
    MakeDatabases();
  }

  void TearDown() override {
    for (SoakDb& d : dbs_) d.writer.reset();
    world_.reset();  // kills the agent before the tmpfs goes
    disk_.reset();
  }

  void MakeDatabases() {
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "initial.db", "2", "--seed", "2"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    {
      auto db = SqliteDb::Open(dir_ / "initial.db", SQLITE_OPEN_READWRITE, 1000);
      ASSERT_TRUE(testtools::PrepareWorkload(*db).ok());
    }
    ASSERT_EQ(world_->Agent({"key", "generate", "--out", dir_ / "k"}).exit_code, 0);
    fs::create_directories(dir_ / "mig");
    fs::copy_file(Examples() / "20251110000000_InitialCreate.sql",
                  dir_ / "mig/20251110000000_InitialCreate.sql");
    // alpha ships to both targets; beta takes the migration; gamma's object gets corrupted.
    dbs_.push_back({"alpha", {"s3", "local"}, "", nullptr});
    dbs_.push_back({"beta",
                    {"s3"},
                    "migrations = { dir = \"" + (dir_ / "mig") + "\", auto_apply = true }\n",
                    nullptr});
    dbs_.push_back({"gamma", {"local"}, "", nullptr});
    for (const SoakDb& d : dbs_) aura::testing::CopyFile(dir_ / "initial.db", Db(d.name));
    const int other_minute = aura::testing::MinuteHalfAnHourAway();
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", world_->Config(dbs_, other_minute)).ok());
  }

  static fs::path Examples() { return fs::path(AURA_SOURCE_DIR) / "examples/migrations"; }
  std::string Db(const std::string& name) const { return dir_ / (name + ".db"); }

  void StartWriters() {
    for (SoakDb& d : dbs_) {
      d.writer = std::make_unique<aura::testing::Writer>(
          Db(d.name), 1,
          std::vector<std::string>{"--interval-ms", "40", "--max-blocked-ms", "20000"});
    }
  }

  // One line per fault on stdout (ctest -V, scripts/soak), with the time since the start.
  void Note(const std::string& what) {
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    std::printf("soak %7.1f s: %s\n", t, what.c_str());
    std::fflush(stdout);
  }

  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  void Pause(int min_ms, int max_ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(min_ms + Pick(max_ms - min_ms + 1)));
  }

  // --- the faults -------------------------------------------------------------------------

  void KillAndRestart() {
    world_->ExpectAlive("before kill " + std::to_string(counts_.kills + 1));
    world_->Kill();
    ++counts_.kills;
    Pause(0, 1500);
    world_->Start();
  }

  void Outage() {
    world_->proxy().SetMode(aura::testing::FaultProxy::Mode::kRefuse);
    ++counts_.outages;
    Pause(2000, 6000);
    world_->proxy().SetMode(aura::testing::FaultProxy::Mode::kPass);
  }

  void SlowServer() {
    world_->proxy().SetDelay(std::chrono::milliseconds(200 + Pick(1300)));
    world_->proxy().SetMode(aura::testing::FaultProxy::Mode::kDelay);
    ++counts_.slow_spells;
    Pause(3000, 6000);
    world_->proxy().SetMode(aura::testing::FaultProxy::Mode::kPass);
  }

  // Fills the spool's disk for a few seconds; shipping must pause, not fail, and resume.
  void DiskFull() {
    if (!disk_->mounted()) return CheckRestore();
    const std::string filler = dir_ / "state/filler";
    const uint64_t filled = disk_->Fill(filler);
    Note("  filled the spool's disk with " + std::to_string(filled >> 10) + " KiB");
    ++counts_.disk_full_spells;
    // The fill stops at the first write the disk refuses (ENOSPC), never at its own cap; the free
    // space read afterwards is not checked: the agent frees some as it drains (seen after 320 s).
    EXPECT_LT(filled, disk_->max_bytes()) << "the fill stopped before the disk was full";
    Pause(2000, 5000);
    world_->ExpectAlive("with the spool's disk full");
    fs::remove(filler);
    Note("  freed the spool's disk");
  }

  // Restores alpha from one of its targets while the writers go on: it must equal the source
  // as it was at the restored transaction (the workload's replay of that step).
  void CheckRestore() {
    const std::string target = Pick(2) == 0 ? "s3" : "local";
    std::string error;
    auto txid = world_->RestoreLatest("alpha", target, dir_ / "check.db", &error);
    if (!txid) {
      ++counts_.mismatches;
      ADD_FAILURE() << "alpha could not be restored from " << target << ": " << error;
      return;
    }
    ++counts_.restores_checked;
    const uint64_t step = aura::testing::WorkloadStepOf(dir_ / "check.db");
    if (*integrity::LogicalChecksumOfFile(dir_ / "check.db") != replay_.Expected(step)) {
      ++counts_.mismatches;
      ADD_FAILURE() << "alpha restored from " << target << " at txid " << *txid
                    << " is not the source as of step " << step;
    }
  }

  void Migration();
  void Corruption();
  void FinalChecks();
  void RunFaults(std::chrono::seconds duration);

  aura::testing::TempDir dir_;
  std::unique_ptr<SmallDisk> disk_;
  std::unique_ptr<SoakWorld> world_;
  std::vector<SoakDb> dbs_;
  SoakCounts counts_;
  const std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::mt19937_64 rng_{static_cast<uint64_t>(EnvInt("AURA_SOAK_SEED", 1))};
  aura::testing::WorkloadReplay replay_{dir_ / "initial.db", dir_ / "replay.db"};
};

// A migration file dropped into beta's folder: the daemon applies it while the writer commits.
void ChaosSoak::Migration() {
  fs::copy_file(Examples() / "20251201090000_AddProjectPriority.sql",
                dir_ / "mig/20251201090000_AddProjectPriority.sql");
  json last;
  const bool done = WaitUntil(
      [&] {
        world_->ExpectAlive("during the migration");
        last = world_->DbStatus("beta")["migrations"]["last"];
        return !last.is_null() && last.value("outcome", "") == "applied";
      },
      90s);
  ASSERT_TRUE(done) << last.dump(2) << world_->LogTail();
  ++counts_.migrations;
}

// Damages gamma's newest snapshot in the local folder, asks for a drill, which must report it,
// then takes a fresh snapshot so that restores go on from a sound base.
void ChaosSoak::Corruption() {
  std::vector<fs::path> data;
  for (const auto& e : fs::directory_iterator(dir_ / "repo/gamma/snapshots")) {
    if (e.path().extension() == ".data") data.push_back(e.path());
  }
  ASSERT_FALSE(data.empty()) << "gamma has no snapshot yet";
  const fs::path victim = *std::max_element(data.begin(), data.end());
  {
    std::fstream f(victim, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(victim) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(victim) / 2));
    c = static_cast<char>(c ^ 0x5a);
    f.write(&c, 1);
  }
  ++counts_.corruptions;
  auto post = [&](const std::string& what) {
    return aura::testing::UnixHttp(world_->Socket(), "POST", "/v1/databases/gamma/" + what).status;
  };
  ASSERT_TRUE(WaitUntil([&] { return post("drill") == 202; }, 60s));
  json drill;
  ASSERT_TRUE(WaitUntil(
      [&] {
        drill = world_->DbStatus("gamma")["last_drill"];
        return !drill.is_null() && drill.value("outcome", "") != "";
      },
      120s))
      << world_->LogTail();
  EXPECT_EQ(drill["outcome"], "fail")
      << "the drill did not notice " << victim << ": " << drill.dump(2);
  if (drill["outcome"] == "fail") ++counts_.corruptions_reported;
  ASSERT_TRUE(WaitUntil([&] { return post("backup?policy=hourly") == 202; }, 60s));
  ASSERT_TRUE(WaitUntil(
      [&] {
        json s = world_->DbStatus("gamma")["last_snapshot"];
        return !s.is_null() && s.value("policy", "") == "hourly" && s.value("result", "") == "ok";
      },
      120s))
      << world_->LogTail();
}

constexpr const char* kFaultNames[] = {"kill and restart", "S3 outage", "slow S3",
                                       "spool disk full", "restore check"};

void ChaosSoak::RunFaults(std::chrono::seconds duration) {
  const auto start = std::chrono::steady_clock::now();
  bool migrated = false, corrupted = false;
  while (std::chrono::steady_clock::now() - start < duration && !HasFailure()) {
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (!migrated && elapsed > duration / 4) {
      Note("migration");
      Migration();
      migrated = true;
    } else if (!corrupted && elapsed > duration / 2) {
      Note("corruption");
      Corruption();
      corrupted = true;
    } else {
      const int fault = Pick(5);
      Note(kFaultNames[fault]);
      switch (fault) {
        case 0:
          KillAndRestart();
          break;
        case 1:
          Outage();
          break;
        case 2:
          SlowServer();
          break;
        case 3:
          DiskFull();
          break;
        default:
          CheckRestore();
          break;
      }
    }
    world_->ExpectAlive("between faults");
    Pause(500, 2000);
  }
}

// Writers stopped: every database, from every target, restores at its last shipped transaction
// to exactly the source's state now.
void ChaosSoak::FinalChecks() {
  Note("final checks");
  for (SoakDb& d : dbs_) {
    counts_.transactions += d.writer->last();
    d.writer->Stop();
  }
  for (const SoakDb& d : dbs_) {
    for (const std::string& t : d.targets) {
      uint64_t shipped = 0;
      const bool caught_up = WaitUntil(
          [&] {
            auto [spooled, uploaded] = world_->Shipped(d.name, t);
            std::this_thread::sleep_for(1s);
            shipped = uploaded;
            return spooled > 0 && uploaded == spooled &&
                   world_->Shipped(d.name, t).second == uploaded;
          },
          180s);
      ASSERT_TRUE(caught_up) << d.name << " to " << t << ": " << world_->DbStatus(d.name).dump(2);
      const std::string restored = dir_ / ("final-" + d.name + "-" + t + ".db");
      std::string error;
      auto txid = world_->RestoreLatest(d.name, t, restored, &error);
      ASSERT_TRUE(txid.has_value()) << d.name << " from " << t << ": " << error;
      ++counts_.restores_checked;
      const bool same = *txid == shipped && *integrity::LogicalChecksumOfFile(restored) ==
                                                *integrity::LogicalChecksumOfFile(Db(d.name));
      if (!same) ++counts_.mismatches;
      EXPECT_TRUE(same) << d.name << " from " << t << " restored at txid " << *txid << " (shipped "
                        << shipped << ") is not the source";
    }
  }
}

TEST_F(ChaosSoak, EveryDatabaseRestoresExactlyAfterKillsOutagesFullDiskMigrationAndCorruption) {
  const auto duration = std::chrono::seconds(std::max(40, EnvInt("AURA_SOAK_SECONDS", 90)));
  const auto t0 = std::chrono::steady_clock::now();
  world_->Start();
  ASSERT_FALSE(HasFatalFailure());
  StartWriters();
  // Every database has shipped to every target before the first fault.
  for (const SoakDb& d : dbs_) {
    for (const std::string& t : d.targets) {
      ASSERT_TRUE(WaitUntil([&] { return world_->Shipped(d.name, t).second > 0; }, 60s))
          << d.name << " to " << t << ": " << world_->DbStatus(d.name).dump(2);
    }
  }
  RunFaults(duration);
  ASSERT_FALSE(HasFailure()) << world_->LogTail();
  FinalChecks();
  world_->ExpectAlive("at the end");
  EXPECT_EQ(world_->Stop(), 0) << world_->LogTail();
  counts_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(counts_.mismatches, 0);
  EXPECT_EQ(counts_.corruptions_reported, counts_.corruptions);
  EXPECT_EQ(counts_.migrations, 1);
  const std::string report = counts_.ToJson().dump(2);
  std::printf("chaos soak: %s\n", report.c_str());
  if (const char* out = std::getenv("AURA_SOAK_REPORT"); out != nullptr && *out != '\0') {
    EXPECT_TRUE(WriteFileAtomic(out, report + "\n").ok());
  }
}

}  // namespace
}  // namespace aura::soak
