// The service definitions, checked by machines: the systemd unit's exposure by systemd's own
// measure, and the LaunchDaemon plist's keys read by Python's plistlib (the format launchd reads).
#include <gtest/gtest.h>

#include <regex>
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

}  // namespace
}  // namespace aura
