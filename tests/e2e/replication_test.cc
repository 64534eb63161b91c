// Continuous WAL shipping with the real binaries: `aura-agent replicate` following a database
// that a separate writer process commits to, restores at many transactions and times, a TRUNCATE
// checkpoint while the agent is stopped, and the agent killed with SIGKILL again and again.
//
// The writer is deterministic: the source after its step k is rebuilt by replaying steps 1..k on
// a copy of the initial database, and every restore must equal that replay exactly.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "common/clock.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/support/workload.h"
#include "tests/tools/aura_dataset.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;
using Clock = std::chrono::system_clock;

constexpr uint64_t kSeed = aura::testing::kWorkloadSeed;
using aura::testing::Writer;

class ReplicationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "initial.db", "4", "--seed", "2"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    {
      auto db = SqliteDb::Open(dir_ / "initial.db", SQLITE_OPEN_READWRITE, 1000);
      ASSERT_TRUE(testtools::PrepareWorkload(*db).ok());
    }
    aura::testing::CopyFile(dir_ / "initial.db", dir_ / "live.db");
    ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "k"}).exit_code, 0);
  }

  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args);
  }

  std::vector<std::string> ReplicateArgs(double seconds = 0) {
    std::vector<std::string> a = {
        AURA_AGENT_BIN, "replicate",   "--db",          dir_ / "live.db",
        "--to",         dir_ / "repo", "--key-file",    dir_ / "k",
        "--name",       "live",        "--status-file", dir_ / "status.json",
        "--poll-ms",    "2",           "--segment-ms",  "10"};
    if (seconds > 0) {
      a.push_back("--run-seconds");
      a.push_back(std::to_string(seconds));
    }
    return a;
  }

  json ReplStatus() {
    auto text = ReadFileToString(dir_ / "status.json");
    return text.ok() ? json::parse(*text) : json();
  }

  // Waits until the running replicator has uploaded everything up to at least `txid`.
  void WaitUploaded(uint64_t txid) {
    for (int i = 0; i < 1500; ++i) {
      json s = ReplStatus();
      if (!s.is_null() && s["uploaded_txid"].get<uint64_t>() >= txid) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "replication did not reach txid " << txid << ": " << ReplStatus().dump();
  }

  uint64_t StepOf(const std::string& path) { return aura::testing::WorkloadStepOf(path); }
  std::string Expected(uint64_t k) { return replay_.Expected(k); }

  // Restores with `flags` and returns the workload step the result is at, after checking that
  // it equals the source at that step exactly.
  uint64_t RestoreAndCheck(std::vector<std::string> flags, const std::string& name) {
    std::vector<std::string> args = {"restore",   "--from",     dir_ / "repo", "--to",
                                     dir_ / name, "--key-file", dir_ / "k",    "--json"};
    args.insert(args.end(), flags.begin(), flags.end());
    ProcessResult r = Agent(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;  // includes PRAGMA integrity_check
    if (r.exit_code != 0) return 0;
    uint64_t step = StepOf(dir_ / name);
    EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / name), Expected(step))
        << name << " is not the source as of step " << step;
    return step;
  }

  // `restore --follow` of the repository into standby.db, with `extra` flags.
  std::vector<std::string> FollowArgs(std::vector<std::string> extra) {
    std::vector<std::string> a = {
        AURA_AGENT_BIN, "restore",           "--follow",   "--from",   dir_ / "repo",
        "--to",         dir_ / "standby.db", "--key-file", dir_ / "k", "--name",
        "live",         "--poll-interval",   "50ms",       "--check",  "none"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  // Promotes standby.db and returns the workload step it holds, after checking that it equals
  // the source at that step exactly and at the txid promotion reports.
  uint64_t PromoteAndCheck(uint64_t expected_txid) {
    ProcessResult p = Agent({"restore", "--promote", "--to", dir_ / "standby.db", "--json"});
    EXPECT_EQ(p.exit_code, 0) << p.out << p.err;
    if (p.exit_code != 0) return 0;
    EXPECT_EQ(json::parse(p.out)["txid"].get<uint64_t>(), expected_txid) << p.out;
    EXPECT_FALSE(std::filesystem::exists(dir_ / "standby.db.aura-standby"));
    uint64_t step = StepOf(dir_ / "standby.db");
    EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "standby.db"), Expected(step))
        << "the promoted standby is not the source as of step " << step;
    return step;
  }

  // The txid of the generation snapshot, from the listing.
  std::vector<json> Snapshots() {
    ProcessResult l = Agent({"list", "--from", dir_ / "repo", "--json"});
    EXPECT_EQ(l.exit_code, 0) << l.out << l.err;
    std::vector<json> out;
    json listed = json::parse(l.out);
    for (const json& s : listed["snapshots"]) out.push_back(s);
    return out;
  }

  TempDir dir_;
  aura::testing::WorkloadReplay replay_{dir_ / "initial.db", dir_ / "replay.db"};
};

TEST_F(ReplicationE2eTest, RandomizedWorkloadRestoresExactlyAtManyTransactionsAndTimes) {
  ChildProcess agent(ReplicateArgs());
  for (int i = 0; i < 500 && ReplStatus().is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(ReplStatus().is_null()) << "replicate did not start";
  const uint64_t base = ReplStatus()["spooled_txid"].get<uint64_t>();
  // The application also holds a long read transaction the whole time.
  auto reader = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READONLY, 1000);
  ASSERT_TRUE(reader->Exec("BEGIN").ok());
  ASSERT_TRUE(reader->QueryInt("SELECT count(*) FROM ProjectStates").ok());
  // Checkpoints left to the agent and a short busy timeout: the WAL grows past the restart
  // threshold, and the agent's brief write lock must never stall the application.
  Writer writer(dir_ / "live.db", 1,
                {"--autocheckpoint", "0", "--busy-timeout", "100", "--max-blocked-ms", "1000"});
  writer.WaitFor(1500);
  writer.Stop();
  ASSERT_TRUE(reader->Exec("COMMIT").ok());
  const uint64_t steps = writer.last();  // txids: step k is base + k
  WaitUploaded(base + steps);
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait().exit_code, 0);

  // Every txid is one step: no gap, no duplicate.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 8; ++i) {
    uint64_t step = 1 + rng() % steps;
    uint64_t got =
        RestoreAndCheck({"--txid", std::to_string(base + step)}, "tx" + std::to_string(i) + ".db");
    EXPECT_EQ(got, step);
  }
  EXPECT_EQ(RestoreAndCheck({"--latest"}, "latest.db"), steps);
  // Times: the restored step committed at or before the time asked for, and the next one after
  // it (allowing for the agent observing commits up to a poll interval late).
  auto commit_times = writer.times();
  for (int i = 0; i < 4; ++i) {
    uint64_t step = 50 + rng() % (steps - 100);
    Clock::time_point at = commit_times[step] + (commit_times[step + 1] - commit_times[step]) / 2;
    uint64_t got = RestoreAndCheck({"--at", FormatRfc3339(at)}, "at" + std::to_string(i) + ".db");
    // The agent stamps a commit when it reads it (a poll, 2 ms here, plus its own work: under
    // ThreadSanitizer that work alone took up to 120 ms).
    const auto late = std::chrono::milliseconds(50) * aura::testing::kSanitizerSlowdown;
    EXPECT_LE(commit_times[got], at + std::chrono::milliseconds(50)) << "step " << got;
    EXPECT_GT(commit_times[got + 1], at - late) << "step " << got;
  }
}

TEST_F(ReplicationE2eTest, TruncateCheckpointWhileStoppedStartsANewGeneration) {
  {
    ChildProcess agent(ReplicateArgs());
    for (int i = 0; i < 500 && ReplStatus().is_null(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    Writer writer(dir_ / "live.db", 1);
    writer.WaitFor(60);
    writer.Stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    agent.Signal(SIGTERM);
    ASSERT_EQ(agent.Wait().exit_code, 0);
  }
  const uint64_t first_gen_steps = StepOf(dir_ / "live.db");
  // A standby of the first generation.
  ProcessResult seeded = RunProcess(FollowArgs({"--once"}));
  ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
  // While the agent is stopped the application commits and checkpoints with TRUNCATE.
  ASSERT_EQ(RunProcess({AURA_WRITER_BIN, "--db", dir_ / "live.db", "--seed", std::to_string(kSeed),
                        "--start", std::to_string(first_gen_steps + 1), "--count", "30"})
                .exit_code,
            0);
  {
    auto db = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READWRITE, 1000);
    ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  ProcessResult second = RunProcess(ReplicateArgs(1.5));
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_NE(second.err.find("starting generation"), std::string::npos) << second.err;
  json s = ReplStatus();
  EXPECT_EQ(s["generations_started"], 1);
  EXPECT_EQ(s["gaps_detected"], 1);
  std::vector<json> snaps = Snapshots();
  ASSERT_EQ(snaps.size(), 2u);
  EXPECT_NE(snaps[0]["generation"], snaps[1]["generation"]);
  EXPECT_EQ(RestoreAndCheck({"--latest"}, "latest.db"), first_gen_steps + 30);
  // The standby notices the new generation and reseeds from it.
  ProcessResult followed = RunProcess(FollowArgs({"--once"}));
  ASSERT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_NE(followed.err.find("reseeding"), std::string::npos) << followed.err;
  EXPECT_EQ(PromoteAndCheck(snaps[1]["txid"].get<uint64_t>()), first_gen_steps + 30);
  // The first generation still restores exactly.
  uint64_t base = snaps[0]["txid"].get<uint64_t>();
  EXPECT_EQ(RestoreAndCheck({"--txid", std::to_string(base + 25)}, "old.db"), 25u);
}

TEST_F(ReplicationE2eTest, SigkillTwentyTimesResumesWithoutGapOrDuplicate) {
  // The application leaves checkpoints to the agent (wal_autocheckpoint=0), as recommended for
  // continuous replication: then nothing can reset the WAL while the agent is down.
  Writer writer(dir_ / "live.db", 1, {"--autocheckpoint", "0", "--interval-ms", "1"});
  std::mt19937_64 rng(3);
  for (int i = 0; i < 20; ++i) {
    ChildProcess agent(ReplicateArgs());
    std::this_thread::sleep_for(std::chrono::milliseconds(60 + rng() % 300));
    agent.Signal(SIGKILL);
    agent.Wait();
  }
  // A last, clean run: it catches up while the writer finishes, then stops with SIGTERM.
  ChildProcess final_run(ReplicateArgs());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  writer.Stop();
  const uint64_t steps = StepOf(dir_ / "live.db");
  std::vector<json> snaps = Snapshots();
  ASSERT_EQ(snaps.size(), 1u) << "a restart must resume, not start a generation: "
                              << snaps.back()["label"];
  // The writer started first: the generation snapshot stands at some step s0.
  const uint64_t base = snaps[0]["txid"].get<uint64_t>();
  const uint64_t s0 = RestoreAndCheck({"--txid", std::to_string(base)}, "base.db");
  WaitUploaded(base + steps - s0);
  final_run.Signal(SIGTERM);
  ProcessResult done = final_run.Wait();
  ASSERT_EQ(done.exit_code, 0) << done.err;
  EXPECT_EQ(ReplStatus()["generations_started"], 0) << done.err;
  // Segments tile the txids exactly: contiguous, no overlap.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "repo/live/wal")) {
    std::string n = e.path().filename().string();
    if (n.size() == 37 && e.path().parent_path().filename() == "0") {
      ranges.emplace_back(std::stoull(n.substr(0, 16), nullptr, 16),
                          std::stoull(n.substr(17, 16), nullptr, 16));
    }
  }
  std::sort(ranges.begin(), ranges.end());
  ASSERT_FALSE(ranges.empty());
  EXPECT_EQ(ranges.front().first, base + 1);
  for (size_t i = 1; i < ranges.size(); ++i) {
    EXPECT_EQ(ranges[i].first, ranges[i - 1].second + 1) << "gap or overlap at " << i;
  }
  EXPECT_EQ(ranges.back().second, base + steps - s0);
  // Every txid is exactly one step of the writer.
  EXPECT_EQ(RestoreAndCheck({"--latest"}, "latest.db"), steps);
  for (int i = 0; i < 4; ++i) {
    uint64_t step = s0 + 1 + rng() % (steps - s0);
    EXPECT_EQ(
        RestoreAndCheck({"--txid", std::to_string(base + step - s0)}, "k" + std::to_string(i)),
        step);
  }
}

// The follower is SIGKILLed again and again while the source commits and ships; each restart
// resumes from the standby's last verified point (finishing a half-done apply), and the
// promoted standby is the source at its last shipped transaction.
TEST_F(ReplicationE2eTest, StandbyFollowerKilledAtRandomPointsPromotesToTheLastShippedTxid) {
  ChildProcess agent(ReplicateArgs());
  for (int i = 0; i < 500 && ReplStatus().is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(ReplStatus().is_null()) << "replicate did not start";
  const uint64_t base = ReplStatus()["spooled_txid"].get<uint64_t>();
  Writer writer(dir_ / "live.db", 1, {"--interval-ms", "2"});
  writer.WaitFor(20);
  WaitUploaded(base + 20);
  std::mt19937_64 rng(11);
  int kills = 0;
  for (int i = 0; i < 8; ++i) {
    ChildProcess follower(FollowArgs({}));
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 400));
    follower.Signal(SIGKILL);
    follower.Wait();
    ++kills;
  }
  writer.Stop();
  const uint64_t steps = writer.last();
  WaitUploaded(base + steps);
  ProcessResult caught_up = RunProcess(FollowArgs({"--once", "--json"}));
  ASSERT_EQ(caught_up.exit_code, 0) << caught_up.err;
  EXPECT_EQ(PromoteAndCheck(base + steps), steps) << kills << " kills";
  agent.Signal(SIGTERM);
  EXPECT_EQ(agent.Wait().exit_code, 0);
}

// A running follower is stopped by promotion itself.
TEST_F(ReplicationE2eTest, PromotionStopsARunningFollower) {
  ProcessResult shipped = RunProcess(ReplicateArgs(1.0));
  ASSERT_EQ(shipped.exit_code, 0) << shipped.err;
  const uint64_t txid = ReplStatus()["uploaded_txid"].get<uint64_t>();
  ChildProcess follower(FollowArgs({}));
  for (int i = 0; i < 500 && !std::filesystem::exists(dir_ / "standby.db.aura-standby"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(PromoteAndCheck(txid), 0u);
  EXPECT_EQ(follower.Wait().exit_code, 0) << "the follower stops cleanly on SIGTERM";
}

// The standby's argument and input errors: the documented exit codes, nothing created.
TEST_F(ReplicationE2eTest, StandbyArgumentErrorsHaveTheirExitCodesAndCreateNothing) {
  ProcessResult shipped = RunProcess(ReplicateArgs(0.5));
  ASSERT_EQ(shipped.exit_code, 0) << shipped.err;
  std::vector<std::string> with_latest = FollowArgs({"--latest"});
  with_latest.erase(with_latest.begin());
  EXPECT_EQ(Agent(with_latest).exit_code, 2);
  EXPECT_EQ(Agent({"restore", "--once", "--to", dir_ / "standby.db"}).exit_code, 2);
  EXPECT_EQ(Agent({"restore", "--follow", "--promote", "--to", dir_ / "standby.db"}).exit_code, 2);
  ProcessResult not_standby = Agent({"restore", "--promote", "--to", dir_ / "live.db", "--json"});
  EXPECT_EQ(not_standby.exit_code, 4) << not_standby.out;
  EXPECT_NE(not_standby.out.find("is not a standby"), std::string::npos) << not_standby.out;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "standby.db"));
  // An existing database is not replaced without --force.
  std::vector<std::string> over_live = FollowArgs({"--once"});
  over_live[6] = dir_ / "live.db";
  ProcessResult refused = RunProcess(over_live);
  EXPECT_EQ(refused.exit_code, 9) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "live.db.aura-standby"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "live.db.aura-standby.lock"));
}

// A damaged segment: `--once` fails with exit 5 naming it, and the standby stays at the point
// before it, which promotes exactly.
TEST_F(ReplicationE2eTest, StandbyRefusesADamagedSegmentAndStaysAtItsLastVerifiedPoint) {
  ChildProcess agent(ReplicateArgs());
  for (int i = 0; i < 500 && ReplStatus().is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(ReplStatus().is_null()) << "replicate did not start";
  const uint64_t base = ReplStatus()["spooled_txid"].get<uint64_t>();
  ProcessResult seeded = RunProcess(FollowArgs({"--once"}));
  ASSERT_EQ(seeded.exit_code, 0) << seeded.err;
  const uint64_t at = json::parse(*ReadFileToString(dir_ / "standby.db.aura-standby"))["txid"];
  ASSERT_EQ(RunProcess({AURA_WRITER_BIN, "--db", dir_ / "live.db", "--seed", std::to_string(kSeed),
                        "--start", "1", "--count", "5", "--autocheckpoint", "0"})
                .exit_code,
            0);
  WaitUploaded(base + 5);
  agent.Signal(SIGTERM);
  ASSERT_EQ(agent.Wait().exit_code, 0);
  std::string damaged;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "repo/live/wal")) {
    const std::string n = e.path().filename().string();
    if (n.size() == 37 && std::stoull(n.substr(0, 16), nullptr, 16) == at + 1) damaged = e.path();
  }
  ASSERT_FALSE(damaged.empty()) << "no segment after txid " << at;
  std::string bytes = *ReadFileToString(damaged);
  bytes[bytes.size() / 2] ^= 0x10;
  ASSERT_TRUE(WriteFileAtomic(damaged, bytes).ok());
  ProcessResult followed = RunProcess(FollowArgs({"--once", "--json"}));
  EXPECT_EQ(followed.exit_code, 5) << followed.out << followed.err;
  EXPECT_NE(followed.out.find("stays at txid " + std::to_string(at)), std::string::npos)
      << followed.out;
  EXPECT_EQ(PromoteAndCheck(at), StepOf(dir_ / "standby.db"));
}

}  // namespace
}  // namespace aura
