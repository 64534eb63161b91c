// The POSIX side of common/platform.h (Linux, macOS): flock, fsync of directories, chmod.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "common/platform.h"

namespace aura::platform {

Result<FileLock> FileLock::TryAcquire(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "open lock file", path);
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return Busy("the lock file " + path + " is held by another process");
    return ErrnoStatus(err, "lock", path);
  }
  return FileLock(fd, path);
}

bool FileLock::held() const { return handle_ != kNone; }

Result<std::string> FileLock::Read(size_t max_bytes) const {
  std::string buf(max_bytes, '\0');
  ssize_t n = ::pread(handle_, buf.data(), buf.size(), 0);
  if (n < 0) return ErrnoStatus(errno, "read lock file", path_);
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Status FileLock::Write(std::string_view text) {
  if (::ftruncate(handle_, 0) != 0) return ErrnoStatus(errno, "truncate lock file", path_);
  ssize_t n = ::pwrite(handle_, text.data(), text.size(), 0);
  if (n != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus(n < 0 ? errno : EIO, "write lock file", path_);
  }
  return Status::Ok();
}

Status FileLock::Append(std::string_view text) {
  struct stat st {};
  if (::fstat(handle_, &st) != 0) return ErrnoStatus(errno, "stat lock file", path_);
  ssize_t n = ::pwrite(handle_, text.data(), text.size(), st.st_size);
  if (n != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus(n < 0 ? errno : EIO, "write lock file", path_);
  }
  return Status::Ok();
}

bool FileLock::StillNamed() const {
  struct stat open_st {};
  struct stat path_st {};
  if (::fstat(handle_, &open_st) != 0 || ::stat(path_.c_str(), &path_st) != 0) return false;
  return open_st.st_dev == path_st.st_dev && open_st.st_ino == path_st.st_ino;
}

void FileLock::ReleaseAndRemove() {
  if (handle_ == kNone) return;
  ::unlink(path_.c_str());
  Release();
}

void FileLock::Release() {
  if (handle_ == kNone) return;
  ::close(handle_);
  handle_ = kNone;
}

Status SyncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync directory", dir);
  return Status::Ok();
}

Status RestrictToOwner(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  const mode_t mode = S_ISDIR(st.st_mode) ? 0700 : 0600;
  if (::chmod(path.c_str(), mode) != 0) return ErrnoStatus(errno, "chmod", path);
  return Status::Ok();
}

int ProcessId() { return static_cast<int>(::getpid()); }

uint64_t RaiseOpenFileLimit() {
  struct rlimit lim = {};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    struct rlimit want = lim;
    want.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) == 0) lim = want;
  }
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(lim.rlim_cur);
}

}  // namespace aura::platform
