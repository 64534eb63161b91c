// Test helpers: scratch directories, running the real binaries as child processes, and file
// hashes. Header-only so every test binary can use it without another library.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/file_io.h"
#include "common/hashing.h"
#include "common/sqlite.h"

extern char** environ;

namespace aura::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
// How many times slower than a plain build the sanitizer this build carries runs the agent:
// for the few checks that bound how late the agent notices something (a commit's observed time),
// never for a speed assertion.
#if defined(__SANITIZE_THREAD__)
inline constexpr int kSanitizerSlowdown = 10;
#elif defined(__SANITIZE_ADDRESS__)
inline constexpr int kSanitizerSlowdown = 3;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr int kSanitizerSlowdown = 10;
#elif __has_feature(address_sanitizer)
inline constexpr int kSanitizerSlowdown = 3;
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif
#else
inline constexpr int kSanitizerSlowdown = 1;
#endif

// Polls `pred` every `poll` (50 ms; 1 ms to catch a short-lived state) until it holds or
// `timeout` passes.
template <typename F>
bool WaitUntil(F&& pred, std::chrono::milliseconds timeout,
               std::chrono::milliseconds poll = std::chrono::milliseconds(50)) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(poll);
  }
  return pred();
}

// A minute of the hour half an hour from now: a policy at it does not run during a test.
inline int MinuteHalfAnHourAway() {
  return static_cast<int>((std::chrono::duration_cast<std::chrono::minutes>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count() +
                           30) %
                          60);
}

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/aura-test-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) std::abort();
    path_ = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string FileSha256(const std::string& path) {
  auto data = ReadFileToString(path, size_t{8} << 30);
  if (!data.ok()) return "missing:" + data.status().message();
  return HexEncode(Sha256::Of(*data));
}

inline void CopyFile(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
}

// A database with `rows` rows of mixed content, including overflow pages and deleted rows. In
// WAL mode the WAL keeps uncheckpointed commits (no autocheckpoint, no checkpoint on close), so
// anything reading it must merge the WAL.
inline Status MakeTestDb(const std::string& path, bool wal, int rows) {
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::OpenOrCreate(path, 1000));
  AURA_RETURN_IF_ERROR(db.Exec(wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE"));
  AURA_RETURN_IF_ERROR(db.Exec("PRAGMA wal_autocheckpoint=0"));
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  AURA_RETURN_IF_ERROR(
      db.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, body BLOB);"
              "CREATE INDEX t_name ON t(name)"));
  for (int batch = 0; batch < 4; ++batch) {
    AURA_RETURN_IF_ERROR(db.Exec("BEGIN"));
    for (int i = 0; i < rows / 4; ++i) {
      int id = batch * (rows / 4) + i;
      AURA_RETURN_IF_ERROR(db.Exec("INSERT INTO t(name, body) VALUES('name-" +
                                   std::to_string(id * 7919 % 1000) + "', randomblob(" +
                                   std::to_string(id % 17 == 0 ? 9000 : 200) + "))"));
    }
    AURA_RETURN_IF_ERROR(db.Exec("COMMIT"));
  }
  return db.Exec("DELETE FROM t WHERE id % 5 = 0");
}

struct ProcessResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// A child process with its stdout (and stderr) connected to pipes.
class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv,
                        const std::vector<std::string>& extra_env = {}) {
    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) std::abort();
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> env_store;
    for (char** e = environ; *e != nullptr; ++e) env_store.emplace_back(*e);
    for (const std::string& e : extra_env) env_store.push_back(e);
    std::vector<char*> env;
    for (std::string& e : env_store) env.push_back(e.data());
    env.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), env.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&fa);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
  }

  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
  }

  pid_t pid() const { return pid_; }

  // Reads one line of stdout (without the newline); false at end of output.
  bool ReadLine(std::string& line) {
    line.clear();
    char c;
    for (;;) {
      ssize_t n = ::read(out_fd_, &c, 1);
      if (n <= 0) return !line.empty();
      if (c == '\n') return true;
      line += c;
    }
  }

  // Never kill(-1): a program that did not start has no process to signal.
  void Signal(int sig) {
    if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
  }

  // Whether the process has not exited yet (it stays unreaped, so Wait still reports how it
  // ended).
  bool Running() {
    if (pid_ <= 0 || reaped_) return false;
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
      return false;
    }
    return info.si_pid == 0;
  }

  // Waits for exit, collecting the rest of stdout and stderr.
  ProcessResult Wait() {
    ProcessResult r;
    std::thread err_reader([&] { r.err = Drain(err_fd_); });
    r.out = Drain(out_fd_);
    err_reader.join();
    if (pid_ <= 0) {  // posix_spawn failed (no such program): never waitpid(-1), any child
      r.exit_code = 127;
      r.err += "could not start the program (posix_spawn failed)";
      reaped_ = true;
      return r;
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    reaped_ = true;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
  }

 private:
  static std::string Drain(int fd) {
    std::string s;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      s.append(buf, static_cast<size_t>(n));
    }
    return s;
  }

  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  bool reaped_ = false;
};

inline ProcessResult RunProcess(const std::vector<std::string>& argv,
                                const std::vector<std::string>& extra_env = {}) {
  ChildProcess p(argv, extra_env);
  return p.Wait();
}

}  // namespace aura::testing
