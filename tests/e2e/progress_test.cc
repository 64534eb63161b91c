// The progress line as operators see it: on a terminal (a pseudo-terminal here) backup, restore,
// verify and drill redraw one line in place; into a pipe, under --no-progress or under a service
// manager, nothing of it appears.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;

// The environment of an interactive shell: the service-manager variables a test runner may
// itself carry are removed; `extra` ("NAME=value") is added.
std::vector<std::string> TerminalEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> set = extra;
  set.push_back("TERM=xterm");  // unless `extra` sets it: the first of a name wins
  std::vector<std::string> drop = {
      "INVOCATION_ID=", "NOTIFY_SOCKET=", "LAUNCHD_JOB=", "XPC_SERVICE_NAME=", "TERM="};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string v = *e;
    bool dropped = false;
    for (const std::string& name : drop) dropped = dropped || v.starts_with(name);
    if (!dropped) env.push_back(v);
  }
  for (const std::string& v : set) {
    const std::string name = v.substr(0, v.find('=') + 1);
    bool seen = false;
    for (const std::string& e : env) seen = seen || e.starts_with(name);
    if (!seen) env.push_back(v);
  }
  return env;
}

// Runs `argv` with stdout and stderr on a pseudo-terminal (`out`: everything it wrote), or with
// `stderr_to_pipe` only stdout (stderr: `err`), and the exit code. Output post-processing is
// off, so a `\r` in the result was written by the program.
ProcessResult RunOnTerminal(const std::vector<std::string>& argv,
                            const std::vector<std::string>& extra_env = {},
                            bool stderr_to_pipe = false) {
  std::vector<std::string> env_store = TerminalEnvironment(extra_env);
  std::vector<char*> args, env;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  for (std::string& e : env_store) env.push_back(e.data());
  env.push_back(nullptr);
  struct termios tio = {};
  ::cfmakeraw(&tio);
  struct winsize ws = {};
  ws.ws_col = 200;
  ws.ws_row = 50;
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return {};
  int master = -1;
  const pid_t pid = ::forkpty(&master, nullptr, &tio, &ws);
  if (pid == 0) {
    if (stderr_to_pipe) ::dup2(err_pipe[1], STDERR_FILENO);
    ::execve(args[0], args.data(), env.data());
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  ProcessResult r;
  if (pid < 0) return r;
  std::thread err_reader([&] {
    char b[4096];
    for (ssize_t n; (n = ::read(err_pipe[0], b, sizeof b)) > 0;) r.err.append(b, n);
  });
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n > 0) {
      r.out.append(buf, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      break;  // EIO: the child closed its side
    }
  }
  ::close(master);
  err_reader.join();
  ::close(err_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

class ProgressCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A few MiB, so the line's sizes are in MiB.
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "aura.db", "4", "--seed", "5"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }

  std::vector<std::string> Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return args;
  }
  std::vector<std::string> BackupArgs() {
    return Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups", "--no-encryption"});
  }

  TempDir dir_;
};

TEST_F(ProgressCliTest, StderrIntoAPipeGetsNoProgressLine) {
  // Everything else says "terminal": stdout is one, and no service manager is in sight.
  ProcessResult r = RunOnTerminal(BackupArgs(), {}, /*stderr_to_pipe=*/true);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find('\r'), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("backup  "), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("snapshot "), std::string::npos) << r.out;
}

TEST_F(ProgressCliTest, BackupOnATerminalRedrawsOneLineThenClearsIt) {
  ProcessResult r = RunOnTerminal(BackupArgs());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // The first frame is drawn at the start (0 done), whatever the speed; later ones as it runs.
  const size_t line = r.out.find("\rbackup  0 B / ");
  ASSERT_NE(line, std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" MiB  0%\033[K", line), std::string::npos) << r.out;
  // The line is cleared before the command's own output, which then starts at column 0.
  const size_t cleared = r.out.find("\r\033[Ksnapshot ");
  EXPECT_NE(cleared, std::string::npos) << r.out;
  EXPECT_LT(line, cleared);
}

TEST_F(ProgressCliTest, NoProgressJsonAndServiceManagersTurnItOff) {
  const std::vector<std::string> no_progress =
      Agent({"--no-progress", "backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups",
             "--no-encryption"});
  std::vector<std::string> json = BackupArgs();
  json.push_back("--json");
  struct Case {
    std::string name;
    ProcessResult r;
  };
  std::vector<Case> cases;
  cases.push_back({"--no-progress", RunOnTerminal(no_progress)});
  cases.push_back({"--json", RunOnTerminal(json)});
  cases.push_back({"systemd", RunOnTerminal(BackupArgs(), {"INVOCATION_ID=0123abcd"})});
  cases.push_back({"launchd", RunOnTerminal(BackupArgs(), {"XPC_SERVICE_NAME=com.aura.agent"})});
  cases.push_back({"TERM=dumb", RunOnTerminal(BackupArgs(), {"TERM=dumb"})});
  for (const Case& c : cases) {
    EXPECT_EQ(c.r.exit_code, 0) << c.name << ": " << c.r.out;
    EXPECT_EQ(c.r.out.find('\r'), std::string::npos) << c.name << ": " << c.r.out;
  }
}

TEST_F(ProgressCliTest, RestoreVerifyAndDrillShowTheirLinesOnATerminal) {
  ASSERT_EQ(RunProcess(BackupArgs()).exit_code, 0);
  ProcessResult restore = RunOnTerminal(
      Agent({"restore", "--from", dir_ / "backups", "--latest", "--to", dir_ / "restored.db"}));
  ASSERT_EQ(restore.exit_code, 0) << restore.out;
  // Drawn again as soon as the snapshot's size is known.
  EXPECT_NE(restore.out.find("\rrestore  0 B / "), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find(" MiB  0%\033[K"), std::string::npos) << restore.out;
  EXPECT_NE(restore.out.find("\r\033[Krestored "), std::string::npos) << restore.out;

  ProcessResult verify = RunOnTerminal(Agent({"verify", "--from", dir_ / "backups"}));
  ASSERT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_NE(verify.out.find("\rverify  0 B / "), std::string::npos) << verify.out;
  EXPECT_NE(verify.out.find("\r\033[Kverified "), std::string::npos) << verify.out;

  ProcessResult drill = RunOnTerminal(Agent({"drill", "--from", dir_ / "backups"}));
  ASSERT_EQ(drill.exit_code, 0) << drill.out;
  EXPECT_NE(drill.out.find("\rrestore  "), std::string::npos) << drill.out;
  EXPECT_NE(drill.out.find("\r\033[Kdrill of aura: PASS"), std::string::npos) << drill.out;
}

}  // namespace
}  // namespace aura
