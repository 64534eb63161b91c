// Hostile input through the real binary (issue 14): names holding terminal escape sequences, NUL
// bytes and invalid UTF-8 (a folder in a target, a manifest's label, a config string), endpoint
// URLs holding credentials, and time zones that do not exist. Each test is named after what
// broke; each asserts on what an operator sees: stdout, stderr, the daemon's log and status.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/file_io.h"
#include "tests/e2e/hostile_support.h"
#include "tests/support/test_env.h"
#include "tests/support/unix_http.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::HasRawControl;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using aura::testing::UnixHttp;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kRed[] = "\x1b[31m";  // what a hostile name would colour the terminal with

using aura::testing::WaitUntil;

class HostileNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura.db", true, 200).ok());
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

  // `run` on the test's config, expected to refuse to start: killed after 10 s if it did not.
  ProcessResult RunRefused() {
    return RunProcess({"/usr/bin/timeout", "-s", "KILL", "10", AURA_AGENT_BIN, "run", "--config",
                       dir_ / "agent.toml"});
  }

  void WriteConfig(const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", text).ok());
  }

  // [agent] with this test's state directory and socket, and an unencrypted local target.
  std::string AgentAndTarget() {
    return "[agent]\nstate_dir = \"" + std::string(dir_ / "state") + "\"\nstatus_socket = \"" +
           Socket() +
           "\"\njitter = \"0s\"\nlog_level = \"debug\"\n\n[[target]]\nname = \"main\"\n" +
           "url = \"" + std::string(dir_ / "repo") + "\"\nencryption = \"none\"\n\n";
  }

  std::string Socket() { return dir_ / "agent.sock"; }

  std::string Log() {
    auto text = ReadFileToString(dir_ / "state/logs/agent.log");
    return text.ok() ? *text : "(no log)";
  }

  json Status() {
    auto r = UnixHttp(Socket(), "GET", "/v1/status");
    return r.status == 200 ? json::parse(r.body) : json();
  }

  void StartAgent(const std::vector<std::string>& env = {}) {
    agent_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{AURA_AGENT_BIN, "run", "--config", dir_ / "agent.toml"}, env);
    ASSERT_TRUE(WaitUntil([&] { return !Status().is_null(); }, 20s)) << Log();
  }

  ProcessResult StopAgent() {
    agent_->Signal(SIGTERM);
    ProcessResult r = agent_->Wait();
    agent_.reset();
    return r;
  }

  TempDir dir_;
  std::unique_ptr<ChildProcess> agent_;
};

// --- Terminal escape sequences, NUL bytes and invalid UTF-8 in names -------------------------

TEST_F(HostileNamesTest, EscInAFolderNameAndALabelReachedTheTerminalRawThroughList) {
  ProcessResult b = Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "repo", "--name",
                           "aura", "--no-encryption", "--label", std::string("label") + kRed});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const std::string hostile = std::string("evil") + kRed + "name";
  std::filesystem::copy(dir_ / "repo/aura", dir_ / ("repo/" + hostile),
                        std::filesystem::copy_options::recursive);

  // The folder's name cannot be an object name (hostile_bucket_test.cc): it is left out, with a
  // warning naming it, escaped.
  ProcessResult l = Agent({"list", "--from", dir_ / "repo"});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_FALSE(HasRawControl(l.out)) << l.out;
  EXPECT_FALSE(HasRawControl(l.err)) << l.err;
  EXPECT_NE(l.err.find("ignoring the object 'evil\\e[31mname"), std::string::npos) << l.err;
  EXPECT_NE(l.out.find("label\\e[31m"), std::string::npos) << l.out;

  // JSON output escapes the label its own way, and it comes back exactly.
  ProcessResult j = Agent({"list", "--from", dir_ / "repo", "--json"});
  json listed = json::parse(j.out);
  std::set<std::string> names, labels;
  for (const json& s : listed["snapshots"]) {
    names.insert(s["database"].get<std::string>());
    if (s.contains("label")) labels.insert(s["label"].get<std::string>());
  }
  EXPECT_EQ(names, std::set<std::string>{"aura"}) << j.out;
  EXPECT_TRUE(labels.count(std::string("label") + kRed)) << j.out;
}

TEST_F(HostileNamesTest, InvalidUtf8InAFolderNameMadeListJsonFail) {
  ProcessResult b = Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "repo", "--name",
                           "aura", "--no-encryption"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  // 0x9b alone is CSI on an 8-bit terminal, and not UTF-8.
  std::filesystem::copy(dir_ / "repo/aura", dir_ / "repo/bad\x9b\x32J",  // "bad", CSI, "2J"
                        std::filesystem::copy_options::recursive);
  // The copy's manifest names "aura", so it is listed as unreadable (exit 5): listed, not a crash.
  ProcessResult l = Agent({"list", "--from", dir_ / "repo"});
  EXPECT_EQ(l.exit_code, 5) << l.err;
  EXPECT_NE(l.out.find("bad\\x9b2J"), std::string::npos) << l.out;
  ProcessResult j = Agent({"list", "--from", dir_ / "repo", "--json"});
  EXPECT_EQ(j.exit_code, 5) << j.err;
  json listed = json::parse(j.out, nullptr, false);
  ASSERT_FALSE(listed.is_discarded()) << j.out;
  EXPECT_EQ(listed["snapshots"].size(), 2u) << j.out;
}

TEST_F(HostileNamesTest, ALabelThatIsNotUtf8AbortedTheBackup) {
  ProcessResult b = Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "repo", "--name",
                           "aura", "--no-encryption", "--label", "caf\xe9"});
  EXPECT_EQ(b.exit_code, 2) << b.err;
  EXPECT_NE(b.err.find("caf\\xe9"), std::string::npos) << b.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "repo/aura/snapshots"));
}

TEST_F(HostileNamesTest, EscInAConfiguredNameReachedConfigCheckAndTheDaemonLogRaw) {
  // A name is validated: the error quoting it must not colour the terminal.
  WriteConfig(AgentAndTarget() + "[[database]]\nname = \"aura\\u001b[31m\"\npath = \"" +
              std::string(dir_ / "aura.db") + "\"\ntargets = [\"main\"]\n");
  ProcessResult bad = Agent({"config", "check", dir_ / "agent.toml"});
  EXPECT_EQ(bad.exit_code, 3) << bad.err;
  EXPECT_FALSE(HasRawControl(bad.err + bad.out)) << bad.err;
  EXPECT_NE(bad.err.find("aura\\e[31m"), std::string::npos) << bad.err;
  ProcessResult run = RunRefused();
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_FALSE(HasRawControl(run.err + run.out)) << run.err;

  // A path is not: config check prints it, the daemon logs it.
  const std::string path = dir_ / (std::string("aura") + kRed + ".db");
  aura::testing::CopyFile(dir_ / "aura.db", path);
  WriteConfig(AgentAndTarget() + "[[database]]\nname = \"aura\"\npath = \"" +
              std::string(dir_ / "aura") + "\\u001b[31m.db\"\ntargets = [\"main\"]\n");
  ProcessResult good = Agent({"config", "check", dir_ / "agent.toml"});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_FALSE(HasRawControl(good.out + good.err)) << good.out;
  EXPECT_NE(good.out.find("aura\\e[31m.db"), std::string::npos) << good.out;
  ProcessResult as_json = Agent({"config", "check", dir_ / "agent.toml", "--json"});
  EXPECT_EQ(json::parse(as_json.out)["databases"][0]["path"], path) << as_json.out;

  StartAgent();
  EXPECT_EQ(UnixHttp(Socket(), "POST", "/v1/databases/aura/backup").status, 202);
  ASSERT_TRUE(WaitUntil([&] { return !Status()["databases"][0]["last_snapshot"].is_null(); }, 30s))
      << Log();
  EXPECT_EQ(StopAgent().exit_code, 0);
  const std::string log = Log();
  EXPECT_FALSE(HasRawControl(log)) << log;
  EXPECT_NE(log.find("aura\\e[31m.db"), std::string::npos) << log;
}

TEST_F(HostileNamesTest, NulInAConfigStringCutTheErrorMessageShort) {
  WriteConfig(AgentAndTarget() + "[[database]]\nname = \"a\\u0000b-rest-of-the-name\"\npath = \"" +
              std::string(dir_ / "aura.db") + "\"\ntargets = [\"main\"]\n");
  for (const char* command : {"check", "run"}) {
    ProcessResult r = command == std::string("check")
                          ? Agent({"config", "check", dir_ / "agent.toml"})
                          : RunRefused();
    EXPECT_EQ(r.exit_code, 3) << command << ": " << r.err;
    EXPECT_EQ(r.err.find('\0'), std::string::npos) << command;
    EXPECT_NE(r.err.find("a\\x00b-rest-of-the-name"), std::string::npos)
        << command << ": " << r.err;
    EXPECT_NE(r.err.find("is not valid"), std::string::npos) << command << ": " << r.err;
  }
  ProcessResult j = Agent({"config", "check", dir_ / "agent.toml", "--json"});
  std::string message = json::parse(j.out)["error"]["message"];
  EXPECT_NE(message.find(std::string("a\0b-rest-of-the-name", 20)), std::string::npos) << j.out;
}

// --- Credentials in an endpoint URL -----------------------------------------------------------

constexpr char kSecretEndpoint[] = "http://user:secret@127.0.0.1:1";  // nothing listens there
const std::vector<std::string> kS3Keys = {"AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=xyz",
                                          "AWS_REGION=us-east-1"};

TEST_F(HostileNamesTest, EndpointCredentialsWereEchoedInCliErrors) {
  std::vector<std::string> env = kS3Keys;
  env.push_back(std::string("AWS_ENDPOINT_URL=") + kSecretEndpoint);
  for (bool as_json : {false, true}) {
    std::vector<std::string> args = {"backup", "--db",          dir_ / "aura.db",
                                     "--to",   "s3://bucket/x", "--no-encryption"};
    if (as_json) args.push_back("--json");
    ProcessResult r = Agent(args, env);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ((r.out + r.err).find("secret"), std::string::npos) << r.out << r.err;
    EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << "the error names the endpoint\n"
                                                            << r.err;
    ProcessResult l =
        Agent({"list", "--from", "s3://bucket/x", as_json ? "--json" : "--name=x"}, env);
    EXPECT_NE(l.exit_code, 0);
    EXPECT_EQ((l.out + l.err).find("secret"), std::string::npos) << l.out << l.err;
  }
}

TEST_F(HostileNamesTest, EndpointCredentialsInAConfigWereEchoedByTheDaemon) {
  const std::string s3_target =
      std::string("[[target]]\nname = \"offsite\"\nurl = \"s3://bucket/x\"\n") +
      "encryption = \"none\"\nendpoint = \"" + kSecretEndpoint + "\"\nmax_attempts = 1\n\n";
  const std::string db = "[[database]]\nname = \"aura\"\npath = \"" +
                         std::string(dir_ / "aura.db") + "\"\ntargets = [\"TARGET\"]\n";
  auto config = [&](const std::string& target) {
    std::string d = db;
    d.replace(d.find("TARGET"), 6, target);
    return AgentAndTarget() + (target == "offsite" ? s3_target : "") + d;
  };
  WriteConfig(config("offsite"));
  for (bool as_json : {false, true}) {
    ProcessResult c = as_json ? Agent({"config", "check", dir_ / "agent.toml", "--json"})
                              : Agent({"config", "check", dir_ / "agent.toml"});
    EXPECT_EQ((c.out + c.err).find("secret"), std::string::npos) << c.out << c.err;
    ProcessResult b = as_json
                          ? Agent({"backup", "--config", dir_ / "agent.toml", "--json"}, kS3Keys)
                          : Agent({"backup", "--config", dir_ / "agent.toml"}, kS3Keys);
    EXPECT_NE(b.exit_code, 0);
    EXPECT_EQ((b.out + b.err).find("secret"), std::string::npos) << b.out << b.err;
  }

  // A running agent given it by a reload: its status, metrics and log keep the secret out.
  WriteConfig(config("main"));
  StartAgent(kS3Keys);
  WriteConfig(config("offsite"));
  agent_->Signal(SIGHUP);
  ASSERT_TRUE(WaitUntil(
      [&] {
        json st = Status();
        return !st.is_null() && (!st["agent"]["config_error"].is_null() ||
                                 st["databases"][0]["targets"][0] == "offsite");
      },
      10s));
  UnixHttp(Socket(), "POST", "/v1/databases/aura/backup");
  ASSERT_TRUE(WaitUntil([&] { return !Status()["databases"][0]["last_snapshot"].is_null(); }, 30s))
      << Log();
  const std::string status = UnixHttp(Socket(), "GET", "/v1/status").body;
  const std::string metrics = UnixHttp(Socket(), "GET", "/metrics").body;
  ProcessResult table = Agent({"status", "--socket", Socket()});
  EXPECT_EQ(StopAgent().exit_code, 0);
  EXPECT_EQ(status.find("secret"), std::string::npos) << status;
  EXPECT_EQ(metrics.find("secret"), std::string::npos) << metrics;
  EXPECT_EQ((table.out + table.err).find("secret"), std::string::npos) << table.out;
  EXPECT_EQ(Log().find("secret"), std::string::npos) << Log();
}

// --- Time zones -------------------------------------------------------------------------------

TEST_F(HostileNamesTest, MisspelledOrEmptyTimeZonePassedConfigCheck) {
  for (const std::string zone : {"Europe/Berln", ""}) {
    WriteConfig(AgentAndTarget() + "[[database]]\nname = \"aura\"\npath = \"" +
                std::string(dir_ / "aura.db") + "\"\ntargets = [\"main\"]\n" +
                "hourly = { keep = 24 }\n\n[database.daily]\nkeep = 7\nat = \"02:30\"\n"
                "timezone = \"" +
                zone + "\"\n");
    const std::string text = *ReadFileToString(dir_ / "agent.toml");
    const auto line = 1 + std::count(text.begin(), text.begin() + text.find("timezone"), '\n');
    ProcessResult c = Agent({"config", "check", dir_ / "agent.toml"});
    EXPECT_EQ(c.exit_code, 3) << "'" << zone << "': " << c.out << c.err;
    const std::string where = std::string(dir_ / "agent.toml") + ":" + std::to_string(line) + ":";
    EXPECT_NE(c.err.find(where), std::string::npos) << c.err;
    EXPECT_NE(c.err.find("time zone"), std::string::npos) << c.err;
    ProcessResult run = RunRefused();
    EXPECT_EQ(run.exit_code, 3) << "the daemon must not start and drop the policy\n" << run.err;
  }
}

}  // namespace
}  // namespace aura
