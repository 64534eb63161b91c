// common/platform.h: every platform's default paths (as data), and the POSIX FileLock, directory
// sync and owner-only permissions against real files and a real second process.
#include "common/platform.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura::platform {
namespace {

using aura::testing::TempDir;

TEST(PlatformPaths, LinuxDefaultsAreTheFhsPathsTheUnitUses) {
  DefaultPaths p = LinuxDefaults();
  EXPECT_EQ(p.config_file, "/etc/aura-agent/agent.toml");
  EXPECT_EQ(p.state_dir, "/var/lib/aura-agent");
  EXPECT_EQ(p.status_socket, "/run/aura-agent/agent.sock");
  EXPECT_TRUE(p.status_tcp.empty());
#ifdef __linux__
  EXPECT_EQ(Defaults().state_dir, p.state_dir);
  EXPECT_EQ(Defaults().status_socket, p.status_socket);
#endif
}

TEST(PlatformPaths, MacDefaultsLiveUnderLibraryApplicationSupport) {
  DefaultPaths p = MacDefaults();
  EXPECT_EQ(p.config_file, "/Library/Application Support/Aura Agent/agent.toml");
  EXPECT_EQ(p.state_dir, "/Library/Application Support/Aura Agent/state");
  EXPECT_EQ(p.status_socket, "/Library/Application Support/Aura Agent/state/agent.sock");
}

TEST(PlatformPaths, WindowsDefaultsLiveUnderProgramDataWithLoopbackStatus) {
  DefaultPaths p = WindowsDefaults("C:\\ProgramData");
  EXPECT_EQ(p.config_file, "C:\\ProgramData\\Aura Agent\\agent.toml");
  EXPECT_EQ(p.state_dir, "C:\\ProgramData\\Aura Agent\\state");
  EXPECT_EQ(p.log_dir, "C:\\ProgramData\\Aura Agent\\logs");
  EXPECT_TRUE(p.status_socket.empty());
  EXPECT_EQ(p.status_tcp, "127.0.0.1:7465");
  EXPECT_EQ(p.status_token_file, "C:\\ProgramData\\Aura Agent\\status.token");
  // %ProgramData% elsewhere, with a trailing separator, or unset.
  EXPECT_EQ(WindowsDefaults("D:\\Data\\").state_dir, "D:\\Data\\Aura Agent\\state");
  EXPECT_EQ(WindowsDefaults("").state_dir, "C:\\ProgramData\\Aura Agent\\state");
}

// Runs `body` in a child process; its exit code.
template <typename F>
int InChild(F body) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

TEST(FileLock, AnotherProcessIsRefusedBusyAndCanReadTheHoldersNote) {
  TempDir dir;
  const std::string path = dir / "x.lock";
  auto lock = FileLock::TryAcquire(path);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_TRUE(lock->Write("pid 42 since now\n").ok());
  ASSERT_TRUE(lock->Append("note\n").ok());
  int rc = InChild([&] {
    auto other = FileLock::TryAcquire(path);
    if (other.ok()) return 1;
    if (other.status().code() != Code::kBusy) return 2;
    if (other.status().message().find(path) == std::string::npos) return 3;
    auto note = ReadFileToString(path);
    return note.ok() && *note == "pid 42 since now\nnote\n" ? 0 : 4;
  });
  EXPECT_EQ(rc, 0);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = lock->Read();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read, "pid 42 since now\nnote\n");
  ASSERT_TRUE(lock->Write("short\n").ok());
  EXPECT_EQ(*lock->Read(), "short\n");
}

TEST(FileLock, ReleasedLockIsTakenByTheNextProcess) {
  TempDir dir;
  const std::string path = dir / "x.lock";
  {
    auto lock = FileLock::TryAcquire(path);
    ASSERT_TRUE(lock.ok());
    FileLock moved = std::move(*lock);
    EXPECT_TRUE(moved.held());
    EXPECT_FALSE(lock->held());
    moved.Release();
    EXPECT_TRUE(PathExists(path));
  }
  EXPECT_EQ(InChild([&] { return FileLock::TryAcquire(path).ok() ? 0 : 1; }), 0);
}

TEST(FileLock, RemovedOrReplacedFileIsNoLongerNamed) {
  TempDir dir;
  const std::string path = dir / "x.lock";
  auto lock = FileLock::TryAcquire(path);
  ASSERT_TRUE(lock.ok());
  EXPECT_TRUE(lock->StillNamed());
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_FALSE(lock->StillNamed());
  ASSERT_TRUE(WriteFileAtomic(path, "someone else's").ok());
  EXPECT_FALSE(lock->StillNamed());
  auto second = FileLock::TryAcquire(path);
  ASSERT_TRUE(second.ok()) << "the new file is a new lock";
  second->ReleaseAndRemove();
  EXPECT_FALSE(PathExists(path));
  EXPECT_FALSE(second->held());
}

TEST(FileLock, UnopenableLockFileSaysWhy) {
  TempDir dir;
  auto lock = FileLock::TryAcquire(dir / "missing-dir/x.lock");
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::kNotFound);
  EXPECT_NE(lock.status().message().find("missing-dir"), std::string::npos);
}

TEST(Platform, RestrictToOwnerMakesFiles0600AndDirectories0700) {
  TempDir dir;
  const std::string file = dir / "key";
  ASSERT_TRUE(WriteFileAtomic(file, "secret", 0644).ok());
  ASSERT_TRUE(CreateDirectories(dir / "spool", 0755).ok());
  ASSERT_TRUE(RestrictToOwner(file).ok());
  ASSERT_TRUE(RestrictToOwner(dir / "spool").ok());
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir / "spool").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(RestrictToOwner(dir / "nothing").code(), Code::kNotFound);
}

// The state and spool folders: made owner-only when the agent creates them, and an existing
// folder (perhaps the application's own, named by mistake) is never re-permissioned.
TEST(Platform, PrivateDirectoryIsOwnerOnlyWhenCreatedAndAnExistingOneIsLeftAlone) {
  TempDir dir;
  const mode_t old_umask = ::umask(0);  // even when the umask would allow more
  Status made = CreatePrivateDirectories(dir / "state/sub");
  ::umask(old_umask);
  ASSERT_TRUE(made.ok()) << made.ToString();
  struct stat st {};
  ASSERT_EQ(::stat((dir / "state/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(CreateDirectories(dir / "shared", 0755).ok());
  ASSERT_EQ(::chmod((dir / "shared").c_str(), 0755), 0);
  ASSERT_TRUE(CreatePrivateDirectories(dir / "shared").ok());
  ASSERT_EQ(::stat((dir / "shared").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
}

TEST(Platform, SyncDirectoryNeedsADirectory) {
  TempDir dir;
  EXPECT_TRUE(SyncDirectory(dir.path()).ok());
  EXPECT_EQ(SyncDirectory(dir / "nothing").code(), Code::kNotFound);
  EXPECT_EQ(ProcessId(), static_cast<int>(::getpid()));
}

}  // namespace
}  // namespace aura::platform
