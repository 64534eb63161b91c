// windows-service/service_model.h: what the Windows service tells the Service Control Manager,
// its recovery policy, the command line it registers and the event ids, checked on Linux (the
// Win32 side only carries these values; scripts/windows-check compiles it).
#include "windows-service/service_model.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace aura::winsvc {
namespace {

using std::chrono::seconds;

TEST(ServiceStatusModel, StartPendingCountsCheckpointsThenRunsAcceptingStopAndPreshutdown) {
  ServiceStatusModel m;
  StatusReport a = m.Starting();
  EXPECT_EQ(a.state, State::kStartPending);
  EXPECT_EQ(a.checkpoint, 1u);
  EXPECT_GT(a.wait_hint_ms, 0u);
  EXPECT_EQ(a.controls_accepted, 0u) << "no controls while pending";
  EXPECT_EQ(m.Progress().checkpoint, 2u);
  EXPECT_EQ(m.Progress().checkpoint, 3u);
  StatusReport r = m.Running();
  EXPECT_EQ(r.state, State::kRunning);
  EXPECT_EQ(r.checkpoint, 0u);
  EXPECT_EQ(r.wait_hint_ms, 0u);
  EXPECT_EQ(r.controls_accepted, kAcceptStop | kAcceptPreshutdown);
  EXPECT_EQ(m.Progress().state, State::kRunning) << "no progress once running";
  EXPECT_EQ(m.Progress().checkpoint, 0u);
}

TEST(ServiceStatusModel, StopPendingWaitHintCoversTheShutdownTimeout) {
  ServiceStatusModel m;
  m.Starting();
  m.Running();
  StatusReport s = m.Stopping(seconds(30));
  EXPECT_EQ(s.state, State::kStopPending);
  EXPECT_EQ(s.checkpoint, 1u) << "a new pending state starts its checkpoints at 1";
  EXPECT_GT(s.wait_hint_ms, 30'000u);
  EXPECT_EQ(m.Progress().checkpoint, 2u);
  EXPECT_EQ(m.last().wait_hint_ms, s.wait_hint_ms);
}

TEST(ServiceStatusModel, ErrorExitIsAServiceSpecificFailureSoRecoveryActionsFire) {
  ServiceStatusModel m;
  StatusReport clean = m.Stopped(0);
  EXPECT_EQ(clean.state, State::kStopped);
  EXPECT_EQ(clean.win32_exit_code, kNoError);
  EXPECT_EQ(clean.service_exit_code, 0u);
  StatusReport failed = m.Stopped(3);  // a config error
  EXPECT_EQ(failed.win32_exit_code, kServiceSpecificError);
  EXPECT_EQ(failed.service_exit_code, 3u);
}

TEST(ServiceStatusModel, StopPreshutdownAndShutdownStopTheAgentOthersDoNot) {
  EXPECT_TRUE(StopsTheAgent(kControlStop));
  EXPECT_TRUE(StopsTheAgent(kControlPreshutdown));
  EXPECT_TRUE(StopsTheAgent(kControlShutdown));
  EXPECT_FALSE(StopsTheAgent(kControlInterrogate));
  EXPECT_FALSE(StopsTheAgent(0x2));  // PAUSE is not accepted
  EXPECT_GT(PreshutdownTimeoutMs(seconds(30)), 30'000u);
}

TEST(RecoveryPolicy, RestartsWithBackoffAndCountsNonCrashFailures) {
  RecoveryPolicy p = DefaultRecovery();
  ASSERT_EQ(p.restart_after.size(), 3u);
  EXPECT_LT(p.restart_after[0], p.restart_after[1]);
  EXPECT_LT(p.restart_after[1], p.restart_after[2]);
  EXPECT_GE(p.restart_after[0].count(), 1000) << "not a busy loop of restarts";
  EXPECT_TRUE(p.on_non_crash_failures);
  EXPECT_EQ(p.reset_period, std::chrono::hours(24));
}

// CommandLineToArgvW's documented rules (Microsoft, "Parsing C++ command-line arguments"): what
// the service sees of the command line the SCM runs.
std::vector<std::string> ParseLikeWindows(const std::string& line) {
  std::vector<std::string> args;
  std::string cur;
  bool in_quotes = false;
  bool have = false;
  for (size_t i = 0; i < line.size();) {
    char c = line[i];
    if (c == '\\') {
      size_t n = 0;
      while (i < line.size() && line[i] == '\\') ++n, ++i;
      if (i < line.size() && line[i] == '"') {
        cur.append(n / 2, '\\');
        if (n % 2 == 1) {
          cur.push_back('"');
          ++i;
        }
      } else {
        cur.append(n, '\\');
      }
      have = true;
      continue;
    }
    if (c == '"') {
      in_quotes = !in_quotes;
      have = true;
      ++i;
      continue;
    }
    if ((c == ' ' || c == '\t') && !in_quotes) {
      if (have) args.push_back(cur);
      cur.clear();
      have = false;
      ++i;
      continue;
    }
    cur.push_back(c);
    have = true;
    ++i;
  }
  if (have) args.push_back(cur);
  return args;
}

TEST(QuoteArgument, EveryArgumentSurvivesWindowsCommandLineParsing) {
  const std::vector<std::string> cases = {
      "plain",
      "C:\\Program Files\\Aura Agent\\aura-agent.exe",
      "C:\\ProgramData\\Aura Agent\\",
      "",
      "a\"b",
      "ends with backslash\\",
      "a\\\\\"b",
      "tab\there",
      "\\\\server\\share\\agent.toml",
  };
  for (const std::string& arg : cases) {
    std::vector<std::string> parsed = ParseLikeWindows("x.exe " + QuoteArgument(arg));
    ASSERT_EQ(parsed.size(), 2u) << QuoteArgument(arg);
    EXPECT_EQ(parsed[1], arg) << "quoted as " << QuoteArgument(arg);
  }
  EXPECT_EQ(QuoteArgument("plain"), "plain");
  EXPECT_EQ(QuoteArgument("C:\\dir\\"), "C:\\dir\\") << "backslashes alone stay as they are";
}

TEST(QuoteArgument, ServiceCommandLineQuotesTheExecutableAlways) {
  // An unquoted executable path with spaces lets C:\Program.exe run instead of the agent.
  std::string line = ServiceCommandLine("C:\\Program Files\\Aura Agent\\aura-agent.exe",
                                        "C:\\ProgramData\\Aura Agent\\agent.toml");
  EXPECT_EQ(line,
            "\"C:\\Program Files\\Aura Agent\\aura-agent.exe\" service run --config "
            "\"C:\\ProgramData\\Aura Agent\\agent.toml\"");
  EXPECT_EQ(ServiceCommandLine("C:\\aura\\aura-agent.exe", "C:\\aura\\a.toml").front(), '"');
  std::vector<std::string> argv = ParseLikeWindows(line);
  ASSERT_EQ(argv.size(), 5u);
  EXPECT_EQ(argv[0], "C:\\Program Files\\Aura Agent\\aura-agent.exe");
  EXPECT_EQ(argv[4], "C:\\ProgramData\\Aura Agent\\agent.toml");
}

// The ids in service_model.h are what the message compiler makes of messages.mc: severity in
// the top two bits (Informational 1, Error 3), then the MessageId.
TEST(EventMessages, IdsAgreeWithTheMessageFile) {
  std::ifstream in(std::string(AURA_SOURCE_DIR) + "/windows-service/messages.mc");
  ASSERT_TRUE(in) << "windows-service/messages.mc";
  std::stringstream text;
  text << in.rdbuf();
  const std::string mc = text.str();
  std::regex entry(R"(MessageId=0x([0-9A-Fa-f]+)\s+Severity=(\w+)\s+SymbolicName=(\w+))");
  std::map<std::string, uint32_t> ids;
  for (std::sregex_iterator it(mc.begin(), mc.end(), entry), end; it != end; ++it) {
    uint32_t severity = (*it)[2] == "Error"           ? 3
                        : (*it)[2] == "Warning"       ? 2
                        : (*it)[2] == "Informational" ? 1
                                                      : 0;
    ids[(*it)[3]] = (severity << 30) | static_cast<uint32_t>(std::stoul((*it)[1], nullptr, 16));
  }
  ASSERT_EQ(ids.size(), 4u);
  EXPECT_EQ(ids["MSG_AGENT_STARTED"], kMsgStarted);
  EXPECT_EQ(ids["MSG_AGENT_STOPPED"], kMsgStopped);
  EXPECT_EQ(ids["MSG_AGENT_FAILED"], kMsgFailed);
  EXPECT_EQ(ids["MSG_AGENT_STOPPING"], kMsgStopping);
  EXPECT_NE(mc.find("%1"), std::string::npos) << "each message shows its insertion string";
  EXPECT_EQ(EventSourceKey(),
            "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\AuraAgent");
}

}  // namespace
}  // namespace aura::winsvc
