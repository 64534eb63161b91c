// Promotion of a warm standby (standby.h).
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "backup/standby.h"
#include "common/file_io.h"

namespace aura::backup {

namespace {

// The pid in a follower's lock note ("pid 123: restore --follow"); 0 if none.
pid_t HolderPid(const std::string& note) {
  if (note.rfind("pid ", 0) != 0) return 0;
  return static_cast<pid_t>(std::strtol(note.c_str() + 4, nullptr, 10));
}

// Waits up to `deadline` for the lock a follower holds; `who` names it in the error.
Result<platform::FileLock> WaitForLock(const std::string& path, const std::string& who,
                                       std::chrono::steady_clock::time_point deadline,
                                       std::chrono::milliseconds wait) {
  for (;;) {
    auto lock = platform::FileLock::TryAcquire(StandbyLockPath(path));
    if (lock.status().code() != Code::kBusy) return lock;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Busy("the follower of standby " + path + " (" + who + ") did not stop within " +
                  std::to_string(wait.count()) + " ms; stop it, then promote again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// The standby's lock, asking the follower that holds it to let go and waiting up to `wait`: a
// `restore --follow` gets SIGTERM; the daemon's [[standby]] finds the release file at its next
// poll and lets go until the file is gone (removed when the promotion ends, either way).
Result<platform::FileLock> TakeOverLock(const std::string& path, std::chrono::milliseconds wait) {
  const std::string lock_path = StandbyLockPath(path);
  auto lock = platform::FileLock::TryAcquire(lock_path);
  if (lock.status().code() != Code::kBusy) return lock;
  auto read = ReadFileToString(lock_path, 4096);
  const std::string note = read.ok() ? *read : std::string();
  const pid_t pid = HolderPid(note);
  const auto deadline = std::chrono::steady_clock::now() + wait;
  if (note.find("[[standby]]") != std::string::npos) {
    AURA_RETURN_IF_ERROR(WriteFileAtomic(
        StandbyReleasePath(path), "pid " + std::to_string(::getpid()) + ": promote\n", 0600));
    return WaitForLock(path, "the agent's [[standby]], pid " + std::to_string(pid), deadline, wait);
  }
  if (note.find("restore --follow") == std::string::npos || pid <= 0) {
    return Busy("standby " + path + " is followed by " + (note.empty() ? "another process" : note) +
                "; stop that process, then promote");
  }
  if (::kill(pid, SIGTERM) != 0 && errno != ESRCH) {
    return ErrnoStatus(errno, "signal the follower (pid " + std::to_string(pid) + ") of", path);
  }
  return WaitForLock(path, "pid " + std::to_string(pid), deadline, wait);
}

// Removes the release file when the promotion ends, whatever the outcome: a refused promotion
// leaves the daemon following again.
struct ReleaseFileGuard {
  std::string path;
  ~ReleaseFileGuard() { ::unlink(StandbyReleasePath(path).c_str()); }
};

Status CheckIntegrityOf(const std::string& path, IntegrityLevel check) {
  if (check == IntegrityLevel::kNone) return Status::Ok();
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open("file:" + path + "?immutable=1",
                                                    SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 0));
  AURA_RETURN_IF_ERROR(UseMappedReads(db));
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> problems, RunIntegrityCheck(db, check, 20));
  if (!problems.empty()) {
    return Corruption("standby " + path + " fails " + IntegrityLevelName(check) +
                      " integrity check (" + problems[0] + "); it was not promoted");
  }
  return Status::Ok();
}

}  // namespace

Result<StandbyState> PromoteStandby(const std::string& path, IntegrityLevel check, int threads,
                                    std::chrono::milliseconds wait) {
  AURA_ASSIGN_OR_RETURN(StandbyState state, ReadStandbyState(path));
  ReleaseFileGuard release{path};
  AURA_ASSIGN_OR_RETURN(platform::FileLock lock, TakeOverLock(path, wait));
  AURA_ASSIGN_OR_RETURN(state, ReadStandbyState(path));  // the follower may have moved it on
  if (state.seeding) {
    return InvalidArgument("standby " + path +
                           " was being seeded and holds no verified point; run restore --follow "
                           "again to finish seeding it");
  }
  AURA_RETURN_IF_ERROR(RecoverStandbyRedo(path, state));
  AURA_ASSIGN_OR_RETURN(uint64_t sum,
                        ChecksumDatabaseFile(path, state.page_size, state.pages, threads));
  if (sum != state.checksum) {
    return Corruption("standby " + path + " does not hold the database of txid " +
                      std::to_string(state.txid) +
                      " (checksum mismatch: the file was changed outside the follower); it was "
                      "not promoted: reseed it with restore --follow --force");
  }
  AURA_RETURN_IF_ERROR(CheckIntegrityOf(path, check));
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    if (::unlink((path + suffix).c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove stale", path + suffix);
    }
  }
  if (::unlink(StandbyStatePath(path).c_str()) != 0) {
    return ErrnoStatus(errno, "remove", StandbyStatePath(path));
  }
  AURA_RETURN_IF_ERROR(SyncDirectory(DirName(path)));
  lock.ReleaseAndRemove();
  return state;
}

}  // namespace aura::backup
