#include "backup/retire_workspace.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "common/file_io.h"
#include "common/hashing.h"

namespace aura::backup {

namespace {

// Makes `folder` (a fixed name in a shared folder such as /tmp) or reuses it if it is a real
// folder of this user, and makes it 0700. Another user could have made it first, or put a
// symlink there to steer what the retirement writes.
Status MakeOwnFolder(const std::string& folder) {
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create the key retire folder", folder);
  }
  struct stat st {};
  if (::lstat(folder.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", folder);
  if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
    return PermissionDenied(folder + " is not a folder of this user (" +
                            (S_ISDIR(st.st_mode) ? "owner uid " + std::to_string(st.st_uid)
                                                 : std::string("not a folder")) +
                            "): another user's key retire may be using it; remove it, or point "
                            "TMPDIR elsewhere");
  }
  return platform::RestrictToOwner(folder);
}

// Removes everything under `dir` and counts the files; the folder itself stays or is created.
Result<int> EmptyFolder(const std::string& dir) {
  int files = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) ++files;
  }
  std::filesystem::remove_all(dir, ec);
  if (ec) return IOError("cannot empty " + dir + " (" + ec.message() + "); remove it by hand");
  if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus(errno, "create", dir);
  return files;
}

// Takes the lock file in `folder`. A releasing holder removes the file (and the folder), so a
// lock won on a file that is no longer named there is retried on a new one.
Result<platform::FileLock> LockFolder(const std::string& folder, const std::string& note) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    AURA_RETURN_IF_ERROR(MakeOwnFolder(folder));
    auto lock = platform::FileLock::TryAcquire(folder + "/lock");
    if (!lock.ok()) {
      if (lock.status().code() == Code::kNotFound) continue;  // gone with a releasing holder
      return lock.status();
    }
    if (!lock->StillNamed()) continue;  // won on the file a releasing holder has removed
    AURA_RETURN_IF_ERROR(lock->Write(note));
    return lock;
  }
  return Busy(folder + "/lock keeps being replaced by other runs; try again");
}

std::string HolderOf(const std::string& folder) {
  auto text = ReadFileToString(folder + "/lock", 4096);
  std::string note = text.ok() ? *text : "";
  while (!note.empty() && (note.back() == '\n' || note.back() == ' ')) note.pop_back();
  return note.empty() ? "a process" : note;
}

}  // namespace

std::string RetireFolderId(const std::string& repository_id) {
  bool hex = !repository_id.empty() && repository_id.size() <= 64;
  for (char c : repository_id) hex = hex && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (hex) return repository_id;
  const Digest d = Sha256::Of(repository_id);
  return "h" + HexEncode(std::span<const uint8_t>(d.data(), 8));
}

Result<RetireWorkspace> RetireWorkspace::Open(const std::string& base,
                                              const std::string& repository_id,
                                              const std::string& note) {
  const std::string folder = base + "/aura-retire-" + RetireFolderId(repository_id);
  auto lock = LockFolder(folder, note);
  if (!lock.ok() && lock.status().code() == Code::kBusy) {
    return Busy("another key retire of this repository is running on this host (" +
                HolderOf(folder) + ", lock " + folder +
                "/lock): wait for it to finish; two runs at once could undo each other's work");
  }
  if (!lock.ok()) return lock.status();
  RetireWorkspace w(folder, std::move(lock).value());
  AURA_ASSIGN_OR_RETURN(w.stale_removed_, EmptyFolder(w.scratch_dir()));
  if (w.stale_removed_ > 0) {
    spdlog::info("removed {} file(s) a killed key retire had left in {}", w.stale_removed_,
                 w.scratch_dir());
  }
  return w;
}

RetireWorkspace::~RetireWorkspace() {
  if (!lock_.held()) return;  // moved from
  std::error_code ec;
  std::filesystem::remove_all(scratch_dir(), ec);
  lock_.ReleaseAndRemove();
  ::rmdir(folder_.c_str());  // fails, harmlessly, if a new run has already made a lock there
}

}  // namespace aura::backup
