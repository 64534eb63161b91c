// The daemon as a real process with a real config: the status socket (JSON, Prometheus metrics,
// health, admin triggers), health following a target that becomes unreachable and comes back,
// SIGHUP with a broken config, SIGTERM, catch-up of a missed run after downtime, and the socket
// under hundreds of concurrent clients and garbage while the agent keeps shipping the WAL.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <thread>

#include "agent/state_store.h"
#include "common/file_io.h"
#include "common/sqlite_version.h"
#include "integrity/logical_checksum.h"
#include "scheduler/calendar.h"
#include "tests/e2e/daemon_fixture.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/moto_server.h"
#include "tests/support/test_env.h"
#include "tests/support/unix_http.h"
#include "tests/support/workload.h"

namespace aura {
namespace {
using aura::testing::ChildProcess;
using aura::testing::HttpReply;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TcpHttp;
using aura::testing::TempDir;
using aura::testing::UnixHttp;
using aura::testing::UnixRaw;
using aura::testing::Writer;
using e2e::DaemonTest;
using e2e::WaitUntil;
using nlohmann::json;
using namespace std::chrono_literals;

TEST_F(DaemonTest, StatusMetricsHealthAndTriggersThenACleanStop) {
  WriteConfig(Config("", "", "check = { at = \"03:00\", level = \"full\" }\n"));
  Writer writer(dir_ / "live.db", 1, {"--interval-ms", "20"});
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return Uploaded() >= 5; }, 30s)) << Status().dump(2) << Log();
  // Commits leave the host continuously, not in bursts: what is spooled now is uploaded soon.
  const uint64_t spooled = Spooled();
  EXPECT_TRUE(WaitUntil([&] { return Uploaded() >= spooled; }, 5s)) << Status().dump(2);

  json st = Status();
  EXPECT_EQ(st["agent"]["config_path"], std::string(dir_ / "agent.toml"));
  // The SQLite library and whether it has the WAL-reset bug, in status, metrics and --version.
  const std::string sqlite = sqlite3_libversion();
  EXPECT_EQ(st["agent"]["sqlite_version"], sqlite);
  EXPECT_EQ(st["agent"]["sqlite_wal_reset_bug"].get<bool>(), SqliteLibraryHasWalResetBug());
  EXPECT_NE(UnixHttp(Socket(), "GET", "/metrics")
                .body.find("aura_sqlite_info{version=\"" + sqlite + "\""),
            std::string::npos);
  EXPECT_NE(Agent({"--version"}).out.find("(SQLite " + sqlite), std::string::npos);
  if (SqliteLibraryHasWalResetBug()) {
    EXPECT_NE(Log().find("has the WAL-reset bug"), std::string::npos) << "no warning at start";
  }
  EXPECT_TRUE(st["healthy"].get<bool>()) << st.dump(2);
  const json* live = FindDb(st, "live");
  ASSERT_NE(live, nullptr);
  EXPECT_EQ((*live)["replication"][0]["state"], "running");
  EXPECT_TRUE((*live)["next_runs"].contains("hourly"));
  EXPECT_TRUE((*live)["next_runs"].contains("check"));
  EXPECT_EQ(UnixHttp(Socket(), "GET", "/healthz").status, 200);

  // Admin triggers: a snapshot, an integrity check and a restore drill.
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/live/backup").status, 202);
  ASSERT_TRUE(WaitUntil(
      [&] {
        json now = Status();
        const json* d = FindDb(now, "live");
        return d != nullptr && !(*d)["last_snapshot"].is_null();
      },
      30s));
  live = nullptr;
  st = Status();
  EXPECT_EQ((*FindDb(st, "live"))["last_snapshot"]["result"], "ok") << st.dump(2);
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/live/check").status, 202);
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/live/drill").status, 202);
  ASSERT_TRUE(WaitUntil(
      [&] {
        json now = Status();
        const json* d = FindDb(now, "live");
        return d != nullptr && !(*d)["last_check"].is_null() && !(*d)["last_drill"].is_null();
      },
      60s));
  st = Status();
  EXPECT_EQ((*FindDb(st, "live"))["last_check"]["result"], "ok") << st.dump(2);
  EXPECT_EQ((*FindDb(st, "live"))["last_drill"]["result"], "ok") << st.dump(2);
  ProcessResult table = Agent({"status", "--config", dir_ / "agent.toml"});
  EXPECT_NE(table.out.find("check ok"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("drill ok"), std::string::npos) << table.out;
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/nope/backup").status, 404);
  EXPECT_EQ(UnixHttp(Socket(), "GET", "/v1/databases/live/backup").status, 405);
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/live/backup?policy=daily").status, 400);
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/li%zze/prune").status, 400);
  int encoded = UnixHttp(Socket(), "POST", "/v1/databases/%6Cive/prune").status;  // "live"
  EXPECT_TRUE(encoded == 202 || encoded == 409) << encoded;
  EXPECT_EQ(UnixHttp(Socket(), "GET", "/nothing").status, 404);

  // Prometheus text: every line a comment or `name{labels} value`, histograms cumulative.
  HttpReply metrics = UnixHttp(Socket(), "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  static const std::regex kSample(
      R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$)");
  static const std::regex kComment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::istringstream lines(metrics.body);
  std::string line;
  std::map<std::string, double> values;
  double last_bucket = -1;
  int lines_seen = 0;
  while (std::getline(lines, line)) {
    ++lines_seen;
    ASSERT_TRUE(std::regex_match(line, kSample) || std::regex_match(line, kComment)) << line;
    if (line[0] == '#') continue;
    double v = std::stod(line.substr(line.rfind(' ') + 1));
    values[line.substr(0, line.rfind(' '))] = v;
    if (line.find("aura_snapshot_duration_seconds_bucket") == 0) {
      if (line.find("le=\"0.01\"") != std::string::npos) last_bucket = -1;
      EXPECT_GE(v, last_bucket) << "histogram buckets must be cumulative: " << line;
      last_bucket = v;
    }
  }
  EXPECT_GT(lines_seen, 20);
  EXPECT_EQ(values["aura_up{version=\"" + std::string(st["agent"]["version"]) + "\"}"], 1);
  EXPECT_GE(values["aura_replication_uploaded_txid{database=\"live\",target=\"main\"}"], 5);
  EXPECT_EQ(values["aura_snapshot_duration_seconds_count{database=\"live\"}"], 1);
  EXPECT_EQ(values["aura_jobs_total{database=\"live\",job=\"drill\",result=\"ok\"}"], 1);

  writer.Stop();
  WaitCaughtUp();
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_FALSE(PathExists(Socket())) << "the socket file is removed at exit";
  EXPECT_NE(Log().find("stopped cleanly"), std::string::npos) << Log();

  // After a restart the scheduled check's last result comes from the state database.
  StartAgent();
  st = Status();
  ASSERT_NE(FindDb(st, "live"), nullptr);
  const json& check = (*FindDb(st, "live"))["last_check"];
  EXPECT_EQ(check.value("result", ""), "ok") << st.dump(2);
  EXPECT_TRUE(check.value("from_state", false)) << st.dump(2);
  EXPECT_EQ(StopAgent(), 0);
  CheckLatestRestore(dir_ / "repo");
}

TEST_F(DaemonTest, HealthzTurns503WhileTheTargetIsUnreachableAnd200WhenItIsBack) {
  std::string missing = aura::testing::MotoServer::Missing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  aura::testing::MotoServer moto(true, "aura-daemon");
  ASSERT_TRUE(moto.ready());
  aura::testing::FaultProxy proxy(moto.port());
  std::string target =
      "[[target]]\nname = \"main\"\nurl = \"s3://aura-daemon/fleet\"\nendpoint = "
      "\"http://127.0.0.1:" +
      std::to_string(proxy.port()) +
      "\"\nregion = \"us-east-1\"\npath_style = true\n"
      "list_top_prefix_only = true\nmax_attempts = 2\nconnect_timeout_ms = 1000\n";
  WriteConfig(Config(target));
  std::vector<std::string> env = moto.Env(proxy.port());
  Writer writer(dir_ / "live.db", 1, {"--interval-ms", "50"});
  StartAgent(env);
  ASSERT_TRUE(WaitUntil([&] { return Uploaded() >= 3; }, 30s)) << Status().dump(2) << Log();
  ASSERT_EQ(UnixHttp(Socket(), "GET", "/healthz").status, 200);

  proxy.SetMode(aura::testing::FaultProxy::Mode::kRefuse);
  HttpReply h;
  ASSERT_TRUE(WaitUntil(
      [&] {
        h = UnixHttp(Socket(), "GET", "/healthz");
        return h.status == 503;
      },
      30s))
      << Status().dump(2);
  EXPECT_NE(h.body.find("not uploaded"), std::string::npos) << h.body;
  // Commits keep going into the spool meanwhile.
  uint64_t spooled = Spooled();
  ASSERT_TRUE(WaitUntil([&] { return Spooled() > spooled + 3; }, 10s));

  proxy.SetMode(aura::testing::FaultProxy::Mode::kPass);
  ASSERT_TRUE(WaitUntil([&] { return UnixHttp(Socket(), "GET", "/healthz").status == 200; }, 60s))
      << Status().dump(2);

  writer.Stop();
  WaitCaughtUp();
  EXPECT_EQ(StopAgent(), 0);
  CheckLatestRestore("s3://aura-daemon/fleet", env);
}

TEST_F(DaemonTest, AScheduledSnapshotThatFailsBecauseTheTargetIsDownIsRetriedSoon) {
  std::string missing = aura::testing::MotoServer::Missing();
  if (!missing.empty()) GTEST_SKIP() << missing;
  aura::testing::MotoServer moto(true, "aura-retry");
  ASSERT_TRUE(moto.ready());
  aura::testing::FaultProxy proxy(moto.port());
  // A daily run that was missed runs at start, while the bucket cannot be reached.
  MarkDailyMissed("live", 2);
  if (HasFatalFailure()) return;
  WriteConfig(AgentAndKeys() +
              "[[target]]\nname = \"main\"\n"
              "url = \"s3://aura-retry/fleet\"\nendpoint = \"http://127.0.0.1:" +
              std::to_string(proxy.port()) +
              "\"\nregion = \"us-east-1\"\npath_style = true\n"
              "list_top_prefix_only = true\nmax_attempts = 1\nconnect_timeout_ms = 500\n"
              "[[database]]\nname = \"live\"\npath = \"" +
              std::string(dir_ / "live.db") +
              "\"\ntargets = [\"main\"]\ndaily = { at = \"04:00\", timezone = \"UTC\" }\n");
  proxy.SetMode(aura::testing::FaultProxy::Mode::kRefuse);
  std::vector<std::string> env = moto.Env(proxy.port());
  StartAgent(env);
  ASSERT_TRUE(WaitUntil([&] { return Log().find("retry 1 in 15 s") != std::string::npos; }, 30s))
      << Log();
  HttpReply h = UnixHttp(Socket(), "GET", "/healthz");
  EXPECT_EQ(h.status, 503);
  EXPECT_NE(h.body.find("daily snapshot due at"), std::string::npos) << h.body;

  proxy.SetMode(aura::testing::FaultProxy::Mode::kPass);
  auto daily_snapshots = [&] {
    ProcessResult l = Agent({"list", "--from", "s3://aura-retry/fleet", "--json"}, env);
    if (l.exit_code != 0) return -1;
    const json listing = json::parse(l.out);
    return static_cast<int>(listing["snapshots"].size());
  };
  ASSERT_TRUE(WaitUntil([&] { return daily_snapshots() == 1; }, 45s)) << Log();
  EXPECT_TRUE(WaitUntil([&] { return UnixHttp(Socket(), "GET", "/healthz").status == 200; }, 10s))
      << UnixHttp(Socket(), "GET", "/healthz").body;
  EXPECT_EQ(StopAgent(), 0);
}

TEST_F(DaemonTest, SighupWithABrokenConfigKeepsTheOldOneAndAGoodOneApplies) {
  WriteConfig(Config());
  Writer writer(dir_ / "live.db", 1, {"--interval-ms", "20"});
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return Uploaded() >= 3; }, 30s)) << Log();
  json first = Status();
  const uint64_t generation = (*FindDb(first, "live"))["replication"][0]["generation"];

  WriteConfig("[agent\nthis is not TOML");
  agent_->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil(
      [&] {
        json st = Status();
        return !st.is_null() && !st["agent"]["config_error"].is_null();
      },
      10s));
  uint64_t before = Uploaded();
  EXPECT_TRUE(WaitUntil([&] { return Uploaded() > before + 5; }, 20s))
      << "shipping stopped after a rejected reload";
  EXPECT_NE(Log().find("the previous configuration keeps running"), std::string::npos);

  // A good config that adds a second database applies without restarting the first.
  aura::testing::CopyFile(dir_ / "initial.db", dir_ / "second.db");
  WriteConfig(Config("", "[[database]]\nname = \"second\"\npath = \"" +
                             std::string(dir_ / "second.db") +
                             "\"\ntargets = [\"main\"]\ndaily = { at = \"04:00\" }\n"));
  agent_->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil(
      [&] {
        json st = Status();
        return !st.is_null() && st["databases"].size() == 2 &&
               st["agent"]["config_error"].is_null();
      },
      10s))
      << Status().dump(2);
  json st = Status();
  EXPECT_EQ((*FindDb(st, "live"))["replication"][0]["generation"], generation);
  EXPECT_TRUE((*FindDb(st, "second"))["next_runs"].contains("daily"));
  writer.Stop();
  WaitCaughtUp();
  EXPECT_EQ(StopAgent(), 0);
}

TEST_F(DaemonTest, StatusSocketSurvivesHundredsOfClientsAndGarbageWhileShipping) {
  WriteConfig(Config());
  Writer writer(dir_ / "live.db", 1, {"--interval-ms", "10"});
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return Uploaded() >= 3; }, 30s)) << Log();
  const uint64_t before = Uploaded();

  std::atomic<int> status_ok{0}, status_bad{0}, garbage_4xx{0}, garbage_other{0}, big_413{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 300; ++i) {
    clients.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      switch (i % 6) {
        case 0:
        case 1:
        case 2: {  // well-behaved clients
          HttpReply r = UnixHttp(Socket(), "GET", i % 2 ? "/v1/status" : "/metrics");
          bool ok = r.status == 200 &&
                    (i % 2 == 0 || !json::parse(r.body, nullptr, false).is_discarded());
          (ok ? status_ok : status_bad)++;
          break;
        }
        case 3: {  // random bytes
          std::string junk(200 + rng() % 2000, '\0');
          for (char& c : junk) c = static_cast<char>(rng());
          std::string reply = UnixRaw(Socket(), junk);
          (reply.rfind("HTTP/1.1 4", 0) == 0 || reply.empty() ? garbage_4xx : garbage_other)++;
          break;
        }
        case 4: {  // an oversized body
          std::string body(200 * 1024, 'x');
          std::string req =
              "POST /v1/databases/live/backup HTTP/1.1\r\nHost: x\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body;
          std::string reply = UnixRaw(Socket(), req);
          if (reply.rfind("HTTP/1.1 413", 0) == 0) big_413++;
          break;
        }
        default: {  // a slow client that never finishes its headers
          UnixRaw(Socket(), "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ", false);
          break;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(status_ok.load(), 150);
  EXPECT_EQ(status_bad.load(), 0);
  EXPECT_EQ(garbage_other.load(), 0);
  EXPECT_EQ(big_413.load(), 50);
  EXPECT_EQ(UnixHttp(Socket(), "GET", "/healthz").status, 200) << Status().dump(2);
  EXPECT_TRUE(WaitUntil([&] { return Uploaded() > before + 20; }, 20s))
      << "WAL shipping stalled under the client storm";
  writer.Stop();
  WaitCaughtUp();
  EXPECT_EQ(StopAgent(), 0);
  CheckLatestRestore(dir_ / "repo");
}

TEST_F(DaemonTest, AMissedDailyRunRunsOnceAtStartAndNotAgain) {
  // The agent was down for three days: its state says the daily job last ran four days ago.
  MarkDailyMissed("live", 3);
  if (HasFatalFailure()) return;
  WriteConfig(Config("", "", "daily = { at = \"04:00\", timezone = \"UTC\" }\n"));
  auto daily_snapshots = [&] {
    ProcessResult l = Agent({"list", "--from", dir_ / "repo", "--json"});
    int n = 0;
    EXPECT_EQ(l.exit_code, 0) << l.err;
    if (l.exit_code != 0) return -1;
    const json listing = json::parse(l.out);
    for (const json& s : listing["snapshots"]) {
      if (s.value("label", std::string()) == "daily") ++n;
    }
    return n;
  };
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return daily_snapshots() == 1; }, 30s)) << Log();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(daily_snapshots(), 1);
  EXPECT_NE(Log().find("catching up the missed run"), std::string::npos);
  EXPECT_EQ(StopAgent(), 0);
  StartAgent();  // a restart must not run it again
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(daily_snapshots(), 1);
  EXPECT_EQ(StopAgent(), 0);
}

// Names of the temp files a local target holds under `dir` (writes in progress or interrupted).
std::vector<std::string> TempFilesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename();
    if (n[0] == '.' && n.find(".tmp-") != std::string::npos) out.push_back(e.path());
  }
  return out;
}

TEST_F(DaemonTest, SigkillMidSnapshotLeavesNothingListedAndTheRunHappensOnceAfterRestart) {
  // A database big enough that its snapshot takes a while (~1 s), no WAL shipping (so the only
  // snapshot is the daily one), and a daily run that was missed: it starts at once.
  ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "big.db", "300", "--seed", "4"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  MarkDailyMissed("big", 2);
  if (HasFatalFailure()) return;
  WriteConfig(AgentAndKeys() + "[[target]]\nname = \"main\"\nurl = \"" +
              std::string(dir_ / "repo") + "\"\n[[database]]\nname = \"big\"\npath = \"" +
              std::string(dir_ / "big.db") +
              "\"\ntargets = [\"main\"]\n"
              "daily = { at = \"04:00\", timezone = \"UTC\", keep = 3 }\n");
  const std::string snapshots_dir = dir_ / "repo/big/snapshots";
  auto listed = [&] {
    ProcessResult l = Agent({"list", "--from", dir_ / "repo", "--json"});
    if (l.exit_code != 0) return -1;
    return static_cast<int>(json::parse(l.out)["snapshots"].size());
  };

  agent_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{AURA_AGENT_BIN, "run", "--config", dir_ / "agent.toml"});
  // SIGKILL the moment the snapshot's data is being written.
  ASSERT_TRUE(WaitUntil([&] { return !TempFilesIn(snapshots_dir).empty(); }, 30s, 1ms)) << Log();
  agent_->Signal(SIGKILL);
  agent_->Wait();
  agent_.reset();
  const std::vector<std::string> left = TempFilesIn(snapshots_dir);
  ASSERT_EQ(left.size(), 1u) << "the interrupted write is a temp file, nothing else";
  EXPECT_EQ(listed(), 0) << "no snapshot is listed for the interrupted run";

  // After the restart the missed run happens, once.
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return listed() == 1; }, 60s)) << Log();
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(listed(), 1);

  // A day later, prune removes the interrupted write's temp file.
  const auto two_days_ago = std::filesystem::file_time_type::clock::now() - std::chrono::hours(48);
  std::filesystem::last_write_time(left[0], two_days_ago);
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/big/prune").status, 202);
  EXPECT_TRUE(WaitUntil([&] { return !PathExists(left[0]); }, 30s)) << Log();
  EXPECT_EQ(StopAgent(), 0);

  // What was stored is the database.
  ProcessResult r = Agent({"restore", "--config", dir_ / "agent.toml", "--database", "big",
                           "--latest", "--to", dir_ / "restored.db", "--check", "quick"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "restored.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "big.db"));
}

// A loopback port nobody listens on right now.
uint16_t FreeLoopbackPort() {
  namespace net = boost::asio;
  net::io_context io;
  net::ip::tcp::acceptor a(io, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

TEST_F(DaemonTest, LoopbackTcpStatusNeedsTheBearerToken) {
  const std::string token = "s3cr3t-token-0123456789";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "token", token + "\n", 0600).ok());
  const uint16_t port = FreeLoopbackPort();
  std::string cfg = Config();  // [agent] ends where [keys] starts
  cfg.replace(cfg.find("[keys]"), 0,
              "status_tcp = \"127.0.0.1:" + std::to_string(port) + "\"\nstatus_token_file = \"" +
                  std::string(dir_ / "token") + "\"\n\n");
  WriteConfig(cfg);
  StartAgent();
  EXPECT_EQ(TcpHttp(port, "GET", "/healthz").status, 401) << "no token";
  EXPECT_EQ(TcpHttp(port, "GET", "/v1/status", "s3cr3t-token-0123456780").status, 401);
  EXPECT_EQ(TcpHttp(port, "POST", "/v1/databases/live/check", "wrong").status, 401);
  HttpReply ok = TcpHttp(port, "GET", "/v1/status", token);
  ASSERT_EQ(ok.status, 200) << ok.error;
  EXPECT_EQ(json::parse(ok.body)["databases"][0]["name"], "live");
  EXPECT_EQ(TcpHttp(port, "POST", "/v1/databases/live/check", token).status, 202);
  EXPECT_EQ(UnixHttp(Socket(), "GET", "/healthz").status, 200) << "the Unix socket needs no token";

  // Without the Unix socket, `aura-agent status` uses the TCP endpoint and the token file.
  std::filesystem::remove(Socket());
  ProcessResult cli = Agent({"status", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("live"), std::string::npos) << cli.out;
  ASSERT_TRUE(WriteFileAtomic(dir_ / "token", "not-the-token-at-all\n", 0600).ok());
  ProcessResult refused = Agent({"status", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(refused.exit_code, 13) << refused.err;
  EXPECT_NE(refused.err.find("bearer token"), std::string::npos) << refused.err;
  EXPECT_EQ(StopAgent(), 0);
}

// The Windows default: no Unix socket at all, only loopback TCP with a token; the daemon runs
// and `aura-agent status` goes straight to TCP.
TEST_F(DaemonTest, TcpOnlyStatusEndpointServesTheCli) {
  const std::string token = "s3cr3t-token-0123456789";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "token", token + "\n", 0600).ok());
  const uint16_t port = FreeLoopbackPort();
  std::string cfg = Config();
  cfg.replace(cfg.find("status_socket = \""), 0, "status_socket = \"\"\n#");
  cfg.replace(cfg.find("[keys]"), 0,
              "status_tcp = \"127.0.0.1:" + std::to_string(port) + "\"\nstatus_token_file = \"" +
                  std::string(dir_ / "token") + "\"\n\n");
  WriteConfig(cfg);
  agent_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{AURA_AGENT_BIN, "run", "--config", dir_ / "agent.toml"});
  ASSERT_TRUE(WaitUntil([&] { return TcpHttp(port, "GET", "/healthz", token).status != 0; }, 20s))
      << Log();
  EXPECT_FALSE(PathExists(Socket()));
  ProcessResult cli = Agent({"status", "--config", dir_ / "agent.toml", "--json"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("\"live\""), std::string::npos) << cli.out;
  EXPECT_EQ(StopAgent(), 0);
}

// issue 14: "replicate stopped at txid 0" was logged after shipping, and after a restart that
// shipped nothing new.
TEST_F(DaemonTest, ReplicateStoppedAtTxidZeroAfterShipping) {
  WriteConfig(Config());
  uint64_t shipped = 0;
  {
    Writer writer(dir_ / "live.db", 1, {"--interval-ms", "20"});
    StartAgent();
    ASSERT_TRUE(WaitUntil([&] { return Uploaded() >= 5; }, 30s)) << Status().dump(2) << Log();
  }
  shipped = WaitAllShipped();
  EXPECT_EQ(StopAgent(), 0);
  const std::string stopped = "op=replicate stopped at txid " + std::to_string(shipped);
  EXPECT_NE(Log().find(stopped), std::string::npos) << Log();
  // A start that ships nothing new stops at the same txid, not 0.
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return Uploaded() == shipped; }, 30s)) << Status().dump(2);
  EXPECT_EQ(StopAgent(), 0);
  const std::string log = Log();
  EXPECT_NE(log.find(stopped, log.find(stopped) + 1), std::string::npos) << log;
  EXPECT_EQ(log.find("op=replicate stopped at txid 0"), std::string::npos) << log;
}

// issue 14: every reload that restarted a database logged a false "another aura-agent is already
// replicating" (the stopped shipping still held its spool lock when the new one started).
TEST_F(DaemonTest, AReloadLoggedAFalseAnotherAgentIsAlreadyReplicating) {
  WriteConfig(Config());
  StartAgent();
  ASSERT_TRUE(WaitUntil([&] { return Spooled() > 0; }, 30s)) << Status().dump(2) << Log();
  for (int i = 0; i < 3; ++i) {
    // A changed [[database]] table: its worker restarts.
    WriteConfig(Config("", "", "busy_timeout_ms = " + std::to_string(4000 + i) + "\n"));
    agent_->Signal(SIGHUP);
    ASSERT_TRUE(WaitUntil(
        [&] {
          const std::string log = Log();
          size_t n = 0;
          for (size_t at = log.find("op=replicate started"); at != std::string::npos;
               at = log.find("op=replicate started", at + 1)) {
            ++n;
          }
          return n == size_t(i) + 2;
        },
        30s))
        << Log();
  }
  EXPECT_EQ(Log().find("already replicating"), std::string::npos) << Log();
  EXPECT_EQ(StopAgent(), 0);
}

// issue 14: `status` showed LAST SNAPSHOT "-" while continuous shipping's generation snapshot
// existed (the hourly policy not due yet), and again after a restart that resumed it.
TEST_F(DaemonTest, StatusShowedNoLastSnapshotWhileAGenerationSnapshotExisted) {
  WriteConfig(Config());
  for (int run = 0; run < 2; ++run) {
    StartAgent();
    ASSERT_TRUE(WaitUntil(
        [&] {
          json st = Status();
          const json* d = FindDb(st, "live");
          return d != nullptr && !(*d)["last_snapshot"].is_null();
        },
        30s))
        << "run " << run << ": " << Status().dump(2);
    json st = Status();
    const json& last = (*FindDb(st, "live"))["last_snapshot"];
    EXPECT_EQ(last["policy"], "generation") << last;
    EXPECT_EQ(last["result"], "ok") << last;
    EXPECT_GT(last["size"].get<uint64_t>(), 0u) << last;
    ProcessResult table = Agent({"status", "--config", dir_ / "agent.toml"});
    EXPECT_NE(table.out.find("(generation)"), std::string::npos) << table.out;
    EXPECT_EQ(StopAgent(), 0);
  }
}

TEST_F(DaemonTest, RefusesABadConfigAndASecondAgent) {
  WriteConfig("[agent]\nstate_dir = 3\n");
  ProcessResult bad = Agent({"run", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(bad.exit_code, 3);
  EXPECT_NE(bad.err.find("agent.toml:2"), std::string::npos) << bad.err;

  WriteConfig(Config());
  StartAgent();
  ProcessResult second = Agent({"run", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(second.exit_code, 9) << second.err;
  EXPECT_NE(second.err.find("another aura-agent is running"), std::string::npos) << second.err;
  EXPECT_EQ(UnixHttp(Socket(), "GET", "/healthz").status, 200) << "the first agent is unharmed";
  ProcessResult cli = Agent({"status", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(cli.exit_code, 0) << cli.err;
  EXPECT_NE(cli.out.find("live"), std::string::npos) << cli.out;

  // Commands that change the agent's chains or prune refuse while it runs; a dry run may look.
  ProcessResult by_hand = Agent({"backup", "--config", dir_ / "agent.toml", "--policy", "hourly"});
  EXPECT_EQ(by_hand.exit_code, 9) << by_hand.err;
  EXPECT_NE(by_hand.err.find("ask it instead"), std::string::npos) << by_hand.err;
  ProcessResult prune = Agent({"prune", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(prune.exit_code, 9) << prune.err;
  ProcessResult look = Agent({"prune", "--config", dir_ / "agent.toml", "--dry-run"});
  EXPECT_EQ(look.exit_code, 0) << look.err;
  EXPECT_EQ(StopAgent(), 0);
  ProcessResult after = Agent({"backup", "--config", dir_ / "agent.toml", "--policy", "hourly"});
  EXPECT_EQ(after.exit_code, 0) << "the lock is released at exit: " << after.err;
  ProcessResult down = Agent({"status", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(down.exit_code, 12) << down.err;  // unavailable: no agent answers
}

// migrations.auto_apply: a file dropped into the folder is applied by the daemon on the
// database's strand, after a pre-migration snapshot the replicator takes at a shipped txid; the
// migration's commit is shipped like any other; a refused one makes the database unhealthy.
TEST_F(DaemonTest, AutoApplyAppliesANewMigrationFileAfterAPreMigrationSnapshotAndShipsIt) {
  const std::filesystem::path mig = dir_ / "mig";
  const std::filesystem::path examples =
      std::filesystem::path(AURA_SOURCE_DIR) / "examples/migrations";
  std::filesystem::create_directories(mig);
  std::filesystem::copy_file(examples / "20251110000000_InitialCreate.sql",
                             mig / "20251110000000_InitialCreate.sql");
  WriteConfig(
      Config("", "", "migrations = { dir = \"" + std::string(mig) + "\", auto_apply = true }\n"));
  StartAgent();
  std::filesystem::copy_file(examples / "20251201090000_AddProjectPriority.sql",
                             mig / "20251201090000_AddProjectPriority.sql");
  auto last = [&]() -> json {
    const json st = Status();
    const json* d = FindDb(st, "live");
    return d == nullptr || (*d)["migrations"]["last"].is_null() ? json()
                                                                : (*d)["migrations"]["last"];
  };
  ASSERT_TRUE(WaitUntil([&] { return !last().is_null(); }, 60s)) << Log();
  json l = last();
  ASSERT_EQ(l["outcome"], "applied") << l.dump(2) << Log();
  EXPECT_EQ(l["applied"], json::array({"20251201090000_AddProjectPriority"}));
  {
    auto db = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READONLY, 1000);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(
        *db->QueryInt(
            "SELECT count(*) FROM pragma_table_info('ProjectStates') WHERE name = 'Priority'"),
        1);
  }
  ProcessResult listed = Agent({"list", "--from", dir_ / "repo", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  bool labelled = false;
  const json listing = json::parse(listed.out);
  for (const json& snap : listing["snapshots"]) {
    if (snap.value("label", "") == "pre-migration 20251201090000_AddProjectPriority" &&
        snap["snapshot"] == l["snapshot"] && snap.contains("txid")) {
      labelled = true;
    }
  }
  EXPECT_TRUE(labelled) << l.dump(2) << listed.out;
  ASSERT_TRUE(WaitUntil([&] { return Uploaded() >= 2 && Uploaded() == Spooled(); }, 30s))
      << Status().dump(2);
  ProcessResult restored = Agent({"restore", "--from", dir_ / "repo", "--name", "live", "--latest",
                                  "--to", dir_ / "restored.db", "--key-file", dir_ / "k"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  {
    auto db = SqliteDb::Open(dir_ / "restored.db", SQLITE_OPEN_READONLY, 1000);
    ASSERT_TRUE(db.ok());
    EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM __EFMigrationsHistory WHERE MigrationId = "
                            "'20251201090000_AddProjectPriority'"),
              1)
        << "the migration's commit was not shipped";
  }
  // A migration the data-loss guard refuses: reported, the database unhealthy, nothing changed.
  std::filesystem::copy_file(examples / "20251205100000_RenameCurrentStage.sql",
                             mig / "20251205100000_RenameCurrentStage.sql");
  std::filesystem::copy_file(examples / "refused/20251220090000_DropFailedProjects.sql",
                             mig / "20251220090000_DropFailedProjects.sql");
  ASSERT_TRUE(WaitUntil([&] { return last().value("outcome", "") == "refused"; }, 60s)) << Log();
  const json st = Status();
  const json* d = FindDb(st, "live");
  ASSERT_NE(d, nullptr);
  EXPECT_FALSE((*d)["healthy"]);
  EXPECT_NE((*d)["problems"].dump().find("data-loss guard"), std::string::npos) << d->dump(2);
  auto db = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READONLY, 1000);
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(
      *db->QueryInt(
          "SELECT count(*) FROM pragma_table_info('ProjectStates') WHERE name = 'CurrentStage'"),
      1)
      << "a refused run changed the database";
  EXPECT_EQ(StopAgent(), 0);
}

}  // namespace
}  // namespace aura

namespace aura {
namespace {

// issue 13: an idle database costs no periodic wake-ups. After 2 s without a commit the agent
// stops polling it (inotify on its folder wakes it; a poll every 30 s is the fallback), and a
// commit then still ships at once, not at the fallback.
class DaemonIdleTest : public DaemonTest {
 protected:
  uint64_t Polls() {
    json st = Status();
    const json* d = FindDb(st, "live");
    if (d == nullptr || (*d)["replication"].empty()) return 0;
    EXPECT_EQ((*d)["replication"][0]["wakeup"], "inotify");
    return (*d)["replication"][0]["polls"].get<uint64_t>();
  }

  void CommitOneStep(uint64_t step) {
    ProcessResult r = RunProcess({AURA_WRITER_BIN, "--db", dir_ / "live.db", "--seed",
                                  std::to_string(aura::testing::kWorkloadSeed), "--start",
                                  std::to_string(step), "--count", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
};

TEST_F(DaemonIdleTest, AnIdleDatabaseIsNotPolledAndACommitWakesItAtOnce) {
  WriteConfig(Config());  // poll_ms = 20: a polled database would be looked at 50 times a second
  StartAgent();
  CommitOneStep(1);
  ASSERT_TRUE(WaitUntil([&] { return Uploaded() > 0; }, 30s)) << Status().dump(2);
  const uint64_t shipped = Uploaded();
  // Idle: the count of looks stops moving.
  uint64_t before = 0;
  ASSERT_TRUE(WaitUntil(
      [&] {
        before = Polls();
        std::this_thread::sleep_for(1s);
        return Polls() == before;
      },
      40s))
      << "the idle database is still polled: " << Status().dump(2);
  std::this_thread::sleep_for(3s);
  EXPECT_LE(Polls(), before + 1) << "at most the 30 s fallback in 3 s";
  for (uint64_t step = 2; step <= 3; ++step) {
    CommitOneStep(step);
    // Well before the 30 s fallback poll: the write woke it.
    EXPECT_TRUE(WaitUntil([&] { return Uploaded() > shipped + step - 2; }, 15s))
        << "step " << step << " was not shipped until the fallback poll: " << Status().dump(2);
    ASSERT_TRUE(WaitUntil(
        [&] {
          before = Polls();
          std::this_thread::sleep_for(1s);
          return Polls() == before;
        },
        40s));
  }
  CheckLatestRestore(dir_ / "repo");
  EXPECT_EQ(StopAgent(), 0);
}

}  // namespace
}  // namespace aura
