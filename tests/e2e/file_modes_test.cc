// Issue 14, "the modes of everything created, checked by a test": the real binary, run under
// umask 0000 so that every mode seen is the agent's own choice and not the umask's, creates a
// key, backs up and ships WAL to local targets, runs as a daemon with a state folder, a log and a
// status socket, and restores; every file and folder it made must have a mode SECURITY.md names.
// Also: the status socket refuses a user outside its group, and the secret files the agent reads
// (status token, S3 credentials) are refused when others may read them.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/daemon_fixture.h"

namespace aura::e2e {
namespace {

std::string Octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

mode_t ModeOf(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// The modes a tree must have: one for its folders (the root included), one for its files;
// `exceptions` maps a path relative to the root to the mode it must have instead.
struct TreeModes {
  mode_t folders;
  mode_t files;
  std::map<std::string, mode_t> exceptions;
};

// "path: mode 0755, documented 0750" for each entry of the tree at `root` that differs.
std::string WrongModes(const std::string& root, const TreeModes& want) {
  std::string wrong;
  auto check = [&](const std::string& path, const std::string& rel, bool dir) {
    auto e = want.exceptions.find(rel);
    const mode_t expected = e != want.exceptions.end() ? e->second
                            : dir                      ? want.folders
                                                       : want.files;
    if (ModeOf(path) != expected) {
      wrong += path + ": mode " + Octal(ModeOf(path)) + ", documented " + Octal(expected) + "\n";
    }
  };
  check(root, "", true);
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    const std::string rel = std::filesystem::relative(it->path(), root).string();
    check(it->path().string(), rel, it->is_directory() && !it->is_symlink());
  }
  EXPECT_FALSE(ec) << root << ": " << ec.message();
  return wrong;
}

// Connects to the Unix socket `path` as uid 65534 in group `gid` from a forked child; returns 0
// on success, else the errno of connect. The child makes only async-signal-safe calls.
int ConnectAs(gid_t gid, const std::string& path) {
  sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(65534) != 0) ::_exit(250);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) ::_exit(251);
    ::_exit(::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno);
  }
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

// Runs `argv` to its end, killing it after `limit` (a daemon that should have refused to start).
ProcessResult RunBounded(const std::vector<std::string>& argv, std::chrono::seconds limit) {
  ChildProcess p(argv);
  std::atomic<bool> done{false};
  std::thread watchdog([&] {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
    if (!done) p.Signal(SIGKILL);
  });
  ProcessResult r = p.Wait();
  done = true;
  watchdog.join();
  return r;
}

// A loopback port nobody listens on right now.
uint16_t FreeLoopbackPort() {
  namespace net = boost::asio;
  net::io_context io;
  net::ip::tcp::acceptor a(io, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

class FileModesTest : public DaemonTest {
 protected:
  void SetUp() override {
    old_umask_ = ::umask(0);  // the agent's children inherit it: modes must not depend on it
    DaemonTest::SetUp();
  }
  void TearDown() override {
    DaemonTest::TearDown();
    ::umask(old_umask_);
  }

  // In a folder of its own, which the agent creates.
  std::string Socket() override { return dir_ / "run/agent.sock"; }

  // The daemon: continuous shipping of live.db to targets/daemon/live (folders the agent makes).
  void RunDaemonBriefly() {
    WriteConfig(Config("[[target]]\nname = \"main\"\nurl = \"" +
                       std::string(dir_ / "targets/daemon/live") + "\"\n"));
    Writer writer(dir_ / "live.db", 1, {"--interval-ms", "20"});
    StartAgent();
    ASSERT_TRUE(WaitUntil([&] { return Uploaded() >= 5; }, 30s)) << Status().dump(2) << Log();
    socket_mode_ = ModeOf(Socket());
  }

  // The CLI: a backup and a few seconds of WAL shipping of cli.db (spool beside it).
  void BackupAndReplicateFromTheCli() {
    aura::testing::CopyFile(dir_ / "initial.db", dir_ / "cli.db");
    ASSERT_EQ(::chmod((dir_ / "cli.db").c_str(), 0600), 0);
    const std::string to = dir_ / "targets/cli";
    ProcessResult b =
        Agent({"backup", "--db", dir_ / "cli.db", "--to", to, "--key-file", dir_ / "k"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    Writer writer(dir_ / "cli.db", 1, {"--interval-ms", "20"});
    ProcessResult r = Agent({"replicate", "--db", dir_ / "cli.db", "--to", to, "--key-file",
                             dir_ / "k", "--status-file", dir_ / "replicate.json", "--poll-ms", "5",
                             "--segment-ms", "20", "--run-seconds", "2"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  mode_t old_umask_ = 0;
  mode_t socket_mode_ = 0;
};

TEST_F(FileModesTest, EverythingTheAgentCreatesHasADocumentedMode) {
  BackupAndReplicateFromTheCli();
  RunDaemonBriefly();
  EXPECT_EQ(StopAgent(), 0);
  ProcessResult r = Agent({"restore", "--from", dir_ / "targets/cli", "--latest", "--to",
                           dir_ / "restored.db", "--key-file", dir_ / "k"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  ASSERT_TRUE(PathExists(dir_ / ".cli.db.aura-spool"));
  ASSERT_TRUE(PathExists(dir_ / "state/logs/agent.log"));
  ASSERT_TRUE(PathExists(dir_ / "state/spool"));
  std::string wrong;
  // Local targets: the agent's user writes, its group reads, others nothing.
  wrong += WrongModes(dir_ / "targets", {0750, 0640, {}});
  // The spool (database pages in clear) and the state: the agent's user only; the log folder
  // and log files may be read by the group.
  wrong += WrongModes(dir_ / ".cli.db.aura-spool", {0700, 0600, {}});
  wrong += WrongModes(dir_ / "state", {0700, 0600, {{"logs", 0750}, {"logs/agent.log", 0640}}});
  wrong += WrongModes(dir_ / "run", {0750, 0660, {}});
  EXPECT_EQ(wrong, "");
  EXPECT_EQ(Octal(socket_mode_), "0660") << "the status socket: the agent's user and group";
  EXPECT_EQ(Octal(ModeOf(dir_ / "k")), "0600") << "the key file";
  EXPECT_EQ(Octal(ModeOf(dir_ / "replicate.json")), "0640") << "replicate --status-file";
  EXPECT_EQ(Octal(ModeOf(dir_ / "restored.db")), "0640") << "a restored database (a new file)";
}

// The kernel checks the socket file's mode on connect: a user in neither the owner's account nor
// its group is refused, one in its group is let in (the folders above made passable to both).
TEST_F(FileModesTest, TheStatusSocketRefusesAUserOutsideItsGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  WriteConfig(Config());
  StartAgent();
  ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
  ASSERT_EQ(::chmod((dir_ / "run").c_str(), 0755), 0);
  struct stat st = {};
  ASSERT_EQ(::stat(Socket().c_str(), &st), 0);
  EXPECT_EQ(ConnectAs(65534, Socket()), EACCES) << "others may not connect";
  EXPECT_EQ(ConnectAs(st.st_gid, Socket()), 0) << "the socket's group may";
  EXPECT_EQ(StopAgent(), 0);
}

// Regression (issue 14): status_token_file was read whatever its mode, so any local user could
// read the bearer token of the status endpoint.
TEST_F(FileModesTest, StatusTokenFileReadableByOthersIsRefused) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "token", "s3cr3t-token-0123456789\n", 0644).ok());
  std::string cfg = Config();
  cfg.replace(cfg.find("[keys]"), 0,
              "status_tcp = \"127.0.0.1:1\"\nstatus_token_file = \"" + std::string(dir_ / "token") +
                  "\"\n\n");
  WriteConfig(cfg);
  ProcessResult run = RunBounded({AURA_AGENT_BIN, "run", "--config", dir_ / "agent.toml"}, 20s);
  EXPECT_EQ(run.exit_code, 6) << run.err;
  const std::string log = run.err + Log();
  EXPECT_NE(log.find("status token file " + (dir_ / "token") + " has mode 0644"), std::string::npos)
      << log;
  EXPECT_NE(log.find("chmod 600 " + (dir_ / "token")), std::string::npos) << log;
  EXPECT_EQ(log.find("s3cr3t"), std::string::npos) << "the token itself is never shown";
  std::filesystem::remove(Socket());  // so `status` goes to TCP and reads the token file
  ProcessResult status = Agent({"status", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(status.exit_code, 6) << status.err;
  EXPECT_NE(status.err.find("chmod 600 " + (dir_ / "token")), std::string::npos) << status.err;
}

// Regression (issue 14): the S3 credentials_file was read whatever its mode, so any local user
// could read the bucket's secret key.
TEST_F(FileModesTest, CredentialsFileReadableByOthersIsRefused) {
  const std::string creds = dir_ / "s3-credentials";
  ASSERT_TRUE(WriteFileAtomic(creds,
                              "[default]\naws_access_key_id = AKIDEXAMPLE\n"
                              "aws_secret_access_key = wJalrXUtnFEMI-not-a-real-secret\n",
                              0644)
                  .ok());
  WriteConfig(
      Config("[[target]]\nname = \"main\"\nurl = \"s3://aura-test/x\"\n"
             "endpoint = \"http://127.0.0.1:1\"\ncredentials_file = \"" +
             creds + "\"\n"));
  ProcessResult r = Agent({"backup", "--config", dir_ / "agent.toml", "--database", "live"},
                          {"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("AWS credentials file " + creds + " has mode 0644"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("chmod 600 " + creds), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("wJalrXUtnFEMI"), std::string::npos) << "the secret is never shown";
}

// The override that lets key files through on a file system without modes covers the other
// secret files too.
TEST_F(FileModesTest, TheOverrideLetsAnOpenStatusTokenFileThrough) {
  const std::string token = "s3cr3t-token-0123456789";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "token", token + "\n", 0644).ok());
  const uint16_t port = FreeLoopbackPort();
  std::string cfg = Config();
  cfg.replace(cfg.find("[keys]"), 0,
              "status_tcp = \"127.0.0.1:" + std::to_string(port) + "\"\nstatus_token_file = \"" +
                  std::string(dir_ / "token") + "\"\n\n");
  WriteConfig(cfg);
  StartAgent({"AURA_ALLOW_OPEN_KEY_FILES=1"});
  EXPECT_EQ(TcpHttp(port, "GET", "/v1/status", token).status, 200);
  EXPECT_EQ(StopAgent(), 0);
  EXPECT_NE(Log().find("status token file " + (dir_ / "token") + " has mode 0644"),
            std::string::npos)
      << "a warning is logged: " << Log();
}

}  // namespace
}  // namespace aura::e2e
