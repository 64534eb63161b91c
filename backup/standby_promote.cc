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

// The standby's lock, asking a `restore --follow` that holds it to stop (SIGTERM) and waiting up
// to `wait` for it to let go. The daemon is not signalled: it follows from its config.
Result<platform::FileLock> TakeOverLock(const std::string& path, std::chrono::milliseconds wait) {
  const std::string lock_path = StandbyLockPath(path);
  auto lock = platform::FileLock::TryAcquire(lock_path);
  if (lock.status().code() != Code::kBusy) return lock;
  auto read = ReadFileToString(lock_path, 4096);
  const std::string note = read.ok() ? *read : std::string();
  const pid_t pid = HolderPid(note);
  if (note.find("restore --follow") == std::string::npos || pid <= 0) {
    return Busy("standby " + path + " is followed by " + (note.empty() ? "another process" : note) +
                "; remove its [[standby]] from the agent's config and reload it, then promote");
  }
  if (::kill(pid, SIGTERM) != 0 && errno != ESRCH) {
    return ErrnoStatus(errno, "signal the follower (pid " + std::to_string(pid) + ") of", path);
  }
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    lock = platform::FileLock::TryAcquire(lock_path);
    if (lock.status().code() != Code::kBusy) return lock;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Busy("the follower of standby " + path + " (pid " + std::to_string(pid) +
                  ") did not stop within " + std::to_string(wait.count()) +
                  " ms; stop it, then promote again");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

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
