// The service definitions, checked by machines: the systemd unit's exposure by systemd's own
// measure, the LaunchDaemon plist's keys read by Python's plistlib (the format launchd reads), and
// the monitoring assets: promtool on the alert rules, and every metric they and the dashboard use
// one the agent exports.
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <set>
#include <string>

#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::ProcessResult;
using aura::testing::RunProcess;

// The unit's exposure by systemd's own measure (issue 12: 2.0 or lower).
TEST(SystemdUnit, ExposureIsAtMostTwo) {
  if (!PathExists("/usr/bin/systemd-analyze")) GTEST_SKIP() << "systemd-analyze not installed";
  ProcessResult r =
      RunProcess({"/usr/bin/systemd-analyze", "security", "--offline=true", "--no-pager",
                  std::string(AURA_SOURCE_DIR) + "/systemd/aura-agent.service"});
  std::smatch m;
  const std::string out = r.out + r.err;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("Overall exposure level for [^:]+: ([0-9.]+)")))
      << out;
  EXPECT_LE(std::stod(m[1]), 2.0) << out;
}

// `systemd-analyze verify` on the unit as installed (ExecStart pointed at the built binary, which
// verify requires to exist): no errors and no warnings (an ignored key is a setting that silently
// does nothing, as StartLimitIntervalSec in [Service] once did).
TEST(SystemdUnit, VerifyPassesWithoutWarnings) {
  if (!PathExists("/usr/bin/systemd-analyze")) GTEST_SKIP() << "systemd-analyze not installed";
  aura::testing::TempDir dir;
  auto unit = ReadFileToString(std::string(AURA_SOURCE_DIR) + "/systemd/aura-agent.service");
  ASSERT_TRUE(unit.ok());
  std::string text = std::regex_replace(*unit, std::regex("/usr/bin/aura-agent"), AURA_AGENT_BIN);
  ASSERT_TRUE(WriteFileAtomic(dir / "aura-agent.service", text).ok());
  ProcessResult r = RunProcess({"/usr/bin/systemd-analyze", "verify", dir / "aura-agent.service"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out + r.err, "") << "systemd-analyze verify warned";
}

// launchd: a LaunchDaemon that runs the agent in the foreground as its own user, restarts it
// after an error exit, and waits longer than the agent's shutdown_timeout (30 s) before SIGKILL.
TEST(LaunchdPlist, HasTheKeysLaunchdNeedsAndWaitsLongerThanTheShutdownTimeout) {
  const std::string plist = std::string(AURA_SOURCE_DIR) + "/launchd/com.aura.agent.plist";
  const std::string check =
      "import plistlib, sys\n"
      "d = plistlib.load(open(sys.argv[1], 'rb'))\n"
      "assert d['Label'] == 'com.aura.agent', d['Label']\n"
      "args = d['ProgramArguments']\n"
      "assert args[0].endswith('/aura-agent') and args[1:3] == ['run', '--config'], args\n"
      "assert args[3].startswith('/Library/Application Support/'), args\n"
      "assert d['RunAtLoad'] is True\n"
      "assert d['KeepAlive'] == {'SuccessfulExit': False}, d['KeepAlive']\n"
      "assert d['UserName'] == '_auraagent'\n"
      "assert d['StandardOutPath'].startswith('/Library/Logs/')\n"
      "assert d['StandardErrorPath'].startswith('/Library/Logs/')\n"
      "assert d['ExitTimeOut'] > 30, d['ExitTimeOut']\n"
      "assert d['Umask'] == 0o077\n"
      "print('ok')\n";
  ProcessResult r = RunProcess({"/usr/bin/env", "python3", "-c", check, plist});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n") << r.err;
}

// Every aura_* name in `text` (histogram series named by their base metric).
std::set<std::string> MetricNames(const std::string& text) {
  std::set<std::string> out;
  static const std::regex kName("aura_[a-z0-9_]+");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kName);
       it != std::sregex_iterator(); ++it) {
    std::string n = it->str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx = suffix;
      if (n.size() > sfx.size() && n.compare(n.size() - sfx.size(), sfx.size(), sfx) == 0) {
        n.resize(n.size() - sfx.size());
      }
    }
    out.insert(n);
  }
  return out;
}

// What the agent exports: the metric names its /metrics code writes (agent/daemon).
std::set<std::string> ExportedMetrics() {
  std::set<std::string> out;
  static const std::regex kLiteral("\"(aura_[a-z0-9_]+)\"");
  for (const auto& e :
       std::filesystem::directory_iterator(std::string(AURA_SOURCE_DIR) + "/agent/daemon")) {
    auto text = ReadFileToString(e.path().string());
    if (!text.ok()) continue;
    for (auto it = std::sregex_iterator(text->begin(), text->end(), kLiteral);
         it != std::sregex_iterator(); ++it) {
      out.insert((*it)[1].str());
    }
  }
  return out;
}

TEST(MonitoringAssets, EveryMetricTheRulesAndTheDashboardUseIsOneTheAgentExports) {
  const std::string dir = std::string(AURA_SOURCE_DIR) + "/examples/monitoring/";
  const std::set<std::string> exported = ExportedMetrics();
  ASSERT_GT(exported.size(), 20u) << "the agent's metric names were not found";
  for (const char* file : {"aura-agent.rules.yml", "aura-agent.grafana.json"}) {
    auto text = ReadFileToString(dir + file);
    ASSERT_TRUE(text.ok()) << text.status().message();
    const std::set<std::string> used = MetricNames(*text);
    EXPECT_GE(used.size(), 5u) << file;
    for (const std::string& m : used) {
      EXPECT_TRUE(exported.count(m))
          << file << " uses " << m << ", which the agent does not export";
    }
  }
}

TEST(MonitoringAssets, PromtoolChecksAndTestsTheAlertRules) {
  if (!PathExists("/usr/bin/promtool"))
    GTEST_SKIP() << "promtool not installed (Debian: prometheus)";
  const std::string dir = std::string(AURA_SOURCE_DIR) + "/examples/monitoring/";
  ProcessResult check =
      RunProcess({"/usr/bin/promtool", "check", "rules", dir + "aura-agent.rules.yml"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("SUCCESS: 8 rules found"), std::string::npos) << check.out;
  ProcessResult test =
      RunProcess({"/bin/sh", "-c",
                  "cd '" + dir + "' && /usr/bin/promtool test rules aura-agent.rules.test.yml"});
  EXPECT_EQ(test.exit_code, 0) << test.out << test.err;
}

}  // namespace
}  // namespace aura

namespace aura {
namespace {

// Off Windows, `aura-agent service ...` is refused (exit 11) with this platform's way, in text
// and under --json, and never pretends to have installed anything.
TEST(ServiceCommand, OffWindowsEveryVerbSaysHowThisPlatformRunsTheAgent) {
  for (const char* verb : {"install", "uninstall", "start", "stop"}) {
    ProcessResult r = RunProcess({AURA_AGENT_BIN, "service", verb});
    EXPECT_EQ(r.exit_code, 11) << verb;
    EXPECT_NE(r.err.find("aura-agent: error: aura-agent service " + std::string(verb) +
                         " is for Windows"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("systemd"), std::string::npos) << r.err;
  }
  ProcessResult j = RunProcess({AURA_AGENT_BIN, "service", "install", "--json"});
  EXPECT_EQ(j.exit_code, 11);
  EXPECT_NE(j.out.find("\"code\": \"unsupported\""), std::string::npos) << j.out;
  ProcessResult run = RunProcess({AURA_AGENT_BIN, "service", "run", "--config", "/nonexistent"});
  EXPECT_EQ(run.exit_code, 11) << run.err;
  ProcessResult none = RunProcess({AURA_AGENT_BIN, "service"});
  EXPECT_EQ(none.exit_code, 2) << "a verb is required";
}

// The Windows-only units (service_win32.cc, platform_windows.cc, open_files_windows.cc, the
// message file) and the shared code they use compile and link with Debian's mingw-w64 cross
// compiler (scripts/test installs g++-mingw-w64-x86-64-posix).
TEST(WindowsService, WindowsOnlyUnitsCrossCompileAndLinkWithMingw) {
  aura::testing::TempDir out;
  ProcessResult r =
      RunProcess({std::string(AURA_SOURCE_DIR) + "/scripts/windows-check", out.path()});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("windows-check: ok"), std::string::npos) << r.out;
  EXPECT_TRUE(PathExists(out / "aura-service-check.exe"));
  EXPECT_TRUE(PathExists(out / "windows-service/messages.h"));
}

}  // namespace
}  // namespace aura
