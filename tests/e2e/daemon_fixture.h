// The daemon as a real process for end-to-end tests: a live Aura-like database with the
// workload's tables, a key, a config writer, the agent started and stopped, and its status
// socket read. Used by daemon_test.cc and standby_daemon_test.cc.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/state_store.h"
#include "common/file_io.h"
#include "integrity/logical_checksum.h"
#include "scheduler/calendar.h"
#include "tests/support/test_env.h"
#include "tests/support/unix_http.h"
#include "tests/support/workload.h"

namespace aura::e2e {

using aura::testing::ChildProcess;
using aura::testing::HttpReply;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TcpHttp;
using aura::testing::TempDir;
using aura::testing::UnixHttp;
using aura::testing::UnixRaw;
using aura::testing::Writer;
using nlohmann::json;
using namespace std::chrono_literals;

using aura::testing::WaitUntil;

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "initial.db", "3", "--seed", "2"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    {
      auto db = SqliteDb::Open(dir_ / "initial.db", SQLITE_OPEN_READWRITE, 1000);
      ASSERT_TRUE(testtools::PrepareWorkload(*db).ok());
    }
    aura::testing::CopyFile(dir_ / "initial.db", dir_ / "live.db");
    ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "k"}).exit_code, 0);
  }

  void TearDown() override {
    if (agent_) {
      agent_->Signal(SIGKILL);
      agent_->Wait();
    }
  }

  ProcessResult Agent(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args, env);
  }

  virtual std::string Socket() { return dir_ / "agent.sock"; }

  // The [agent] (test timings, this test's state and socket) and [keys] sections of a config.
  std::string AgentAndKeys() {
    return "[agent]\nstate_dir = \"" + std::string(dir_ / "state") + "\"\nstatus_socket = \"" +
           Socket() +
           "\"\njitter = \"0s\"\npoll_ms = 20\nsegment_ms = 100\nlog_level = \"debug\"\n"
           "shutdown_timeout = \"20s\"\n\n[keys]\nkey_file = \"" +
           std::string(dir_ / "k") + "\"\n\n";
  }

  // Makes the state say the agent was down: `db`'s daily job (04:00 UTC) last handled the
  // occurrence `days_down` days ago, so the missed one runs at the next start.
  void MarkDailyMissed(const std::string& db, int days_down) {
    const TimePoint now = SystemClock::Instance().Now();
    auto state = agent::StateStore::Open(dir_ / "state");
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE((*state)->Job(db, "daily", now - std::chrono::hours(24 * (days_down + 2))).ok());
    auto sched = scheduler::MakeSchedule(scheduler::Period::kDaily, 0, "04:00", "", "UTC");
    ASSERT_TRUE(sched.ok());
    TimePoint last =
        scheduler::PreviousOccurrence(*sched, now - std::chrono::hours(24 * days_down));
    ASSERT_TRUE((*state)->SetOccurrence(db, "daily", last).ok());
  }

  // A config for the live database: continuous shipping plus an hourly policy at a minute that
  // is not now, to `target_toml` (default: a local folder).
  std::string Config(const std::string& target_toml = "", const std::string& extra_db = "",
                     const std::string& db_extra_keys = "") {
    std::string t = target_toml.empty() ? "[[target]]\nname = \"main\"\nurl = \"" +
                                              std::string(dir_ / "repo") + "\"\n"
                                        : target_toml;
    return AgentAndKeys() + t + "\n[[database]]\nname = \"live\"\npath = \"" +
           std::string(dir_ / "live.db") +
           "\"\ntargets = [\"main\"]\ncontinuous = true\nrpo = \"3s\"\n"
           "hourly = { keep = 5, minute = " +
           std::to_string(OtherMinute()) + " }\n" + db_extra_keys + "\n" + extra_db;
  }

  // A minute of the hour half an hour away, fixed for the test (configs written later match).
  int OtherMinute() const { return other_minute_; }
  const int other_minute_ = aura::testing::MinuteHalfAnHourAway();

  void WriteConfig(const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", text).ok());
  }

  void StartAgent(const std::vector<std::string>& env = {}) {
    agent_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{AURA_AGENT_BIN, "run", "--config", dir_ / "agent.toml"}, env);
    bool up = WaitUntil([&] { return UnixHttp(Socket(), "GET", "/healthz").status != 0; }, 20s);
    ASSERT_TRUE(up) << "the agent did not answer on " << Socket() << "\n" << Log();
  }

  // SIGTERM; returns the exit code and checks the stop took a bounded time.
  int StopAgent() {
    auto t0 = std::chrono::steady_clock::now();
    agent_->Signal(SIGTERM);
    ProcessResult r = agent_->Wait();
    agent_.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 25s);
    EXPECT_EQ(r.err, "") << "a daemon logs to its file, not to stderr";
    return r.exit_code;
  }

  std::string Log() {
    auto text = ReadFileToString(dir_ / "state/logs/agent.log");
    return text.ok() ? *text : "(no log)";
  }

  json Status() {
    HttpReply r = UnixHttp(Socket(), "GET", "/v1/status");
    if (r.status != 200) return json();
    return json::parse(r.body);
  }

  static const json* FindDb(const json& st, const std::string& name) {
    if (st.is_null()) return nullptr;
    for (const json& d : st["databases"]) {
      if (d["name"] == name) return &d;
    }
    return nullptr;
  }

  uint64_t Uploaded() {
    json st = Status();
    const json* d = FindDb(st, "live");
    if (d == nullptr || (*d)["replication"].empty()) return 0;
    return (*d)["replication"][0]["uploaded_txid"].get<uint64_t>();
  }

  uint64_t Spooled() {
    json st = Status();
    const json* d = FindDb(st, "live");
    if (d == nullptr || (*d)["replication"].empty()) return 0;
    return (*d)["replication"][0]["spooled_txid"].get<uint64_t>();
  }

  // After the writer stopped: everything the agent spooled is uploaded.
  void WaitCaughtUp() {
    ASSERT_TRUE(WaitUntil(
        [&] {
          uint64_t s = Spooled();
          return s > 0 && Uploaded() == s;
        },
        30s))
        << Status().dump(2);
  }

  // After the writer stopped: everything committed is uploaded (uploaded equals spooled and stays
  // so for a second; the agent polls every 20 ms). Returns the uploaded txid.
  uint64_t WaitAllShipped() {
    uint64_t shipped = 0;
    EXPECT_TRUE(WaitUntil(
        [&] {
          WaitCaughtUp();
          const uint64_t before = Uploaded();
          std::this_thread::sleep_for(std::chrono::seconds(1));
          shipped = Uploaded();
          return shipped == before && Spooled() == shipped;
        },
        std::chrono::seconds(30)));
    return shipped;
  }

  // Restores the newest replicated transaction and checks it equals the source at that step.
  void CheckLatestRestore(const std::string& repo, const std::vector<std::string>& env = {}) {
    ProcessResult r = Agent({"restore", "--from", repo, "--name", "live", "--latest", "--to",
                             dir_ / "restored.db", "--key-file", dir_ / "k"},
                            env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    uint64_t step = aura::testing::WorkloadStepOf(dir_ / "restored.db");
    EXPECT_EQ(step, aura::testing::WorkloadStepOf(dir_ / "live.db"))
        << "the newest replicated transaction is not the source's last commit";
    EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "restored.db"), replay_.Expected(step));
  }

  TempDir dir_;
  aura::testing::WorkloadReplay replay_{dir_ / "initial.db", dir_ / "replay.db"};
  std::unique_ptr<ChildProcess> agent_;
};

}  // namespace aura::e2e
