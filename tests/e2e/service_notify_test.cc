// systemd's notification protocol as the real daemon speaks it: a test binds the datagram socket
// systemd would (a path, and an abstract name), starts `aura-agent run` with NOTIFY_SOCKET and
// WATCHDOG_USEC, and reads what arrives: READY=1 once the status socket answers, STATUS=,
// WATCHDOG=1 pings from the event loop, RELOADING=1 then READY=1 around SIGHUP, STOPPING=1 on
// SIGTERM.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using namespace std::chrono_literals;

// The service manager's end: a bound AF_UNIX datagram socket.
class NotifySocket {
 public:
  // `name`: a path, or "@name" for the abstract namespace.
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  }
  ~NotifySocket() { ::close(fd_); }
  bool bound() const { return bound_; }

  // The next message, or "" after `timeout`.
  std::string Next(std::chrono::milliseconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }
  // Messages until one contains `line` (returned) or `timeout` passes ("").
  std::string WaitFor(const std::string& line, std::chrono::milliseconds timeout,
                      std::vector<std::string>* seen = nullptr) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      std::string m = Next(100ms);
      if (m.empty()) continue;
      if (seen != nullptr) seen->push_back(m);
      if (("\n" + m + "\n").find("\n" + line + "\n") != std::string::npos) return m;
    }
    return "";
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

class ServiceNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(RunProcess({AURA_MAKE_DB_BIN, dir_ / "aura.db", "2"}).exit_code, 0);
    ASSERT_EQ(RunProcess({AURA_AGENT_BIN, "key", "generate", "--out", dir_ / "k"}).exit_code, 0);
    std::string config =
        "[agent]\nstate_dir = \"" + std::string(dir_ / "state") + "\"\nstatus_socket = \"" +
        std::string(dir_ / "agent.sock") + "\"\njitter = \"0s\"\n\n[keys]\nkey_file = \"" +
        std::string(dir_ / "k") + "\"\n\n[[target]]\nname = \"local\"\nurl = \"" +
        std::string(dir_ / "repo") + "\"\n\n[[database]]\nname = \"aura\"\npath = \"" +
        std::string(dir_ / "aura.db") + "\"\ntargets = [\"local\"]\ncontinuous = true\n";
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", config).ok());
  }

  std::unique_ptr<ChildProcess> Start(const std::vector<std::string>& env) {
    return std::make_unique<ChildProcess>(
        std::vector<std::string>{AURA_AGENT_BIN, "run", "--config", dir_ / "agent.toml"}, env);
  }

  TempDir dir_;
};

TEST_F(ServiceNotifyTest, ReadyStatusWatchdogReloadingAndStoppingReachThePathSocket) {
  NotifySocket sock(dir_ / "notify.sock");
  ASSERT_TRUE(sock.bound());
  auto agent =
      Start({"NOTIFY_SOCKET=" + std::string(dir_ / "notify.sock"), "WATCHDOG_USEC=400000"});
  std::string ready = sock.WaitFor("READY=1", 20s);
  ASSERT_FALSE(ready.empty()) << "no READY=1";
  EXPECT_NE(ready.find("STATUS=1 database(s)"), std::string::npos) << ready;
  EXPECT_TRUE(PathExists(dir_ / "agent.sock")) << "READY=1 before the status socket listens";
  // Half of WATCHDOG_USEC (200 ms): several pings within two seconds, never faster.
  int pings = 0;
  auto end = std::chrono::steady_clock::now() + 2000ms;
  while (std::chrono::steady_clock::now() < end) {
    if (sock.Next(100ms) == "WATCHDOG=1") ++pings;
  }
  EXPECT_GE(pings, 3);
  EXPECT_LE(pings, 12);

  agent->Signal(SIGHUP);
  std::vector<std::string> seen;
  EXPECT_FALSE(sock.WaitFor("RELOADING=1", 10s, &seen).empty());
  EXPECT_FALSE(sock.WaitFor("READY=1", 10s, &seen).empty()) << "no READY=1 after the reload";

  agent->Signal(SIGTERM);
  EXPECT_FALSE(sock.WaitFor("STOPPING=1", 10s).empty());
  EXPECT_EQ(agent->Wait().exit_code, 0);
}

TEST_F(ServiceNotifyTest, AnAbstractSocketWorksAndAWatchdogForAnotherPidIsNotPinged) {
  const std::string name = "@aura-notify-test-" + std::to_string(::getpid());
  NotifySocket sock(name);
  ASSERT_TRUE(sock.bound());
  // WATCHDOG_PID names another process (systemd sets it to the main pid): not ours to ping.
  auto agent = Start({"NOTIFY_SOCKET=" + name, "WATCHDOG_USEC=200000", "WATCHDOG_PID=1"});
  ASSERT_FALSE(sock.WaitFor("READY=1", 20s).empty()) << "no READY=1 on the abstract socket";
  std::vector<std::string> seen;
  sock.WaitFor("WATCHDOG=1", 1s, &seen);
  for (const std::string& m : seen) EXPECT_NE(m, "WATCHDOG=1");
  agent->Signal(SIGTERM);
  EXPECT_EQ(agent->Wait().exit_code, 0);
}

}  // namespace
}  // namespace aura

namespace aura {
namespace {

// "Database locked" (the seed's `lsof /path/to/aura.db` step, done for the operator): a busy
// error names the process that holds the database, with its pid and command.
TEST(DatabaseLocked, TheBusyErrorNamesTheProcessHoldingTheDatabase) {
  TempDir dir;
  const std::string db = dir / "locked.db";
  ASSERT_EQ(RunProcess({AURA_MAKE_DB_BIN, db, "1"}).exit_code, 0);
  ASSERT_EQ(RunProcess({"/usr/bin/sqlite3", db, "PRAGMA journal_mode=DELETE"}).out, "delete\n");
  // A rollback-journal database under an EXCLUSIVE transaction: no reader gets in.
  const std::string script =
      "import sqlite3, sys, time\n"
      "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
      "c.execute('BEGIN EXCLUSIVE')\n"
      "c.execute('UPDATE ProjectStates SET Title = Title')\n"
      "open(sys.argv[1] + '.locked', 'w').close()\n"
      "time.sleep(30)\n";
  ASSERT_TRUE(WriteFileAtomic(dir / "hold.py", script).ok());
  ChildProcess holder({"/usr/bin/env", "python3", dir / "hold.py", db});
  auto end = std::chrono::steady_clock::now() + 10s;
  while (!PathExists(db + ".locked") && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(20ms);
  }
  if (!PathExists(db + ".locked")) {
    holder.Signal(SIGKILL);
    FAIL() << "the holder did not take its lock: " << holder.Wait().err;
  }
  ProcessResult r = RunProcess({AURA_AGENT_BIN, "check", "--db", db});
  holder.Signal(SIGKILL);
  holder.Wait();
  EXPECT_EQ(r.exit_code, 7) << r.err;
  EXPECT_NE(r.err.find("held open by pid " + std::to_string(holder.pid())), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("python3"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace aura
