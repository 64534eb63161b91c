#include "common/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <utility>
#include <vector>

#include "common/file_io_seam.h"
#include "common/platform.h"

namespace aura {

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

File::File(File&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

Result<File> File::OpenForRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  return File(fd, path);
}

Result<File> File::CreateExclusive(const std::string& path, int mode) {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kCreate, path));
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ErrnoStatus(errno, "create", path);
  File f(fd, path);
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return ErrnoStatus(errno, "chmod", path);
  return f;
}

Result<size_t> File::Read(std::span<uint8_t> buf) {
  for (;;) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return ErrnoStatus(errno, "read", path_);
  }
}

Result<size_t> File::ReadFull(std::span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    AURA_ASSIGN_OR_RETURN(size_t n, Read(buf.subspan(done)));
    if (n == 0) break;
    done += n;
  }
  return done;
}

Result<size_t> File::ReadAt(uint64_t offset, std::span<uint8_t> buf) const {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n =
        ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path_);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Status File::WriteAll(std::span<const uint8_t> data) {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kWrite, path_, fd_));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path_);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status File::WriteAt(uint64_t offset, std::span<const uint8_t> data) {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kWrite, path_, fd_));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path_);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status File::Sync() {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kSyncFile, path_, fd_));
  if (::fsync(fd_) != 0) return ErrnoStatus(errno, "fsync", path_);
  return Status::Ok();
}

void File::StartWriteback(uint64_t offset, uint64_t length) {
#ifdef __linux__
  ::sync_file_range(fd_, static_cast<off64_t>(offset), static_cast<off64_t>(length),
                    SYNC_FILE_RANGE_WRITE);
#else
  (void)offset;
  (void)length;
#endif
}

Result<uint64_t> File::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoStatus(errno, "stat", path_);
  return static_cast<uint64_t>(st.st_size);
}

Status File::Close() {
  if (fd_ < 0) return Status::Ok();
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return ErrnoStatus(errno, "close", path_);
  return Status::Ok();
}

Status SyncDirectory(const std::string& dir) {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kSyncDirectory, dir));
  return platform::SyncDirectory(dir);
}

Status SyncFolderChain(const std::string& dir, std::set<std::string>* durable) {
  const uid_t me = ::geteuid();
  for (std::string d = dir;;) {
    if (durable != nullptr && durable->count(d)) return Status::Ok();
    const std::string parent = DirName(d);
    Status s = SyncDirectory(parent);
    // A parent this account may not read is not one it made: its owner keeps it.
    if (s.code() == Code::kPermissionDenied) return Status::Ok();
    AURA_RETURN_IF_ERROR(s);
    if (durable != nullptr) durable->insert(d);
    if (parent == "/" || parent == "." || parent == d) return Status::Ok();
    struct stat st;
    if (::lstat(parent.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", parent);
    if (st.st_uid != me) return Status::Ok();  // someone else's folder: they keep it where it is
    d = parent;
  }
}

Status RenameNoReplace(const std::string& from, const std::string& to) {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kRename, from, -1, to));
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) {
    return Status::Ok();
  }
  if (errno != EINVAL && errno != ENOSYS) return ErrnoStatus(errno, "rename to", to);
  // The filesystem cannot do RENAME_NOREPLACE: link(2) fails on an existing name, atomically.
  if (::link(from.c_str(), to.c_str()) != 0) return ErrnoStatus(errno, "link to", to);
  ::unlink(from.c_str());
  return Status::Ok();
}

Status RenameReplace(const std::string& from, const std::string& to) {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kRename, from, -1, to));
  if (::rename(from.c_str(), to.c_str()) != 0) return ErrnoStatus(errno, "rename to", to);
  return Status::Ok();
}

Status RemoveFile(const std::string& path) {
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kRemove, path));
  if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, "delete", path);
  return Status::Ok();
}

std::string DirName(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status CreateDirectories(const std::string& dir, int mode) {
  if (dir.empty()) return Status::Ok();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return IOError(dir + " exists and is not a directory");
  }
  std::string parent = DirName(dir);
  if (parent != dir && parent != "." && parent != "/") {
    AURA_RETURN_IF_ERROR(CreateDirectories(parent, mode));
  }
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kMakeDirectory, dir));
  if (::mkdir(dir.c_str(), mode) != 0) {
    return errno == EEXIST ? Status::Ok() : ErrnoStatus(errno, "mkdir", dir);
  }
  // mkdir gave `mode` less the umask; the folder this call made gets exactly `mode`, so a
  // permissive umask cannot widen it and a strict one does not lock out the group it names.
  if (::chmod(dir.c_str(), static_cast<mode_t>(mode)) != 0) return ErrnoStatus(errno, "chmod", dir);
  return Status::Ok();
}

Status CreatePrivateDirectories(const std::string& dir) {
  const bool existed = PathExists(dir);
  AURA_RETURN_IF_ERROR(CreateDirectories(dir, 0700));
  return existed ? Status::Ok() : platform::RestrictToOwner(dir);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDirectory(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

Result<std::string> ReadFileToString(const std::string& path, size_t max_bytes) {
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path));
  return ReadFileToString(f, max_bytes);
}

Result<std::string> ReadFileToString(File& f, size_t max_bytes) {
  AURA_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  if (size > max_bytes) return IOError(f.path() + " is larger than " + std::to_string(max_bytes));
  std::string out(size, '\0');
  AURA_ASSIGN_OR_RETURN(size_t n, f.ReadFull({reinterpret_cast<uint8_t*>(out.data()), out.size()}));
  out.resize(n);
  return out;
}

Result<TempFile> TempFile::Create(const std::string& final_path, int mode) {
  std::string pattern = DirName(final_path) + "/." + BaseName(final_path) + ".tmp-XXXXXX";
  AURA_RETURN_IF_ERROR(BeforeFileOp(FileOp::kCreate, pattern));
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = ::mkostemp(buf.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "create temp file for", final_path);
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    int err = errno;
    ::close(fd);
    (void)RemoveFile(buf.data());
    return ErrnoStatus(err, "chmod", buf.data());
  }
  TempFile t;
  t.temp_path_ = buf.data();
  t.final_path_ = final_path;
  t.file_ = File(fd, t.temp_path_);
  return t;
}

TempFile::~TempFile() { Abandon(); }

TempFile::TempFile(TempFile&& other) noexcept
    : file_(std::move(other.file_)),
      temp_path_(std::exchange(other.temp_path_, {})),
      final_path_(std::move(other.final_path_)) {}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
  if (this != &other) {
    Abandon();
    file_ = std::move(other.file_);
    temp_path_ = std::move(other.temp_path_);
    final_path_ = std::move(other.final_path_);
    other.temp_path_.clear();
  }
  return *this;
}

Status TempFile::KeepAttributesOf(const std::string& replaced, Keep what) {
  struct stat old;
  if (::stat(replaced.c_str(), &old) != 0) {
    return errno == ENOENT ? Status::Ok() : ErrnoStatus(errno, "stat", replaced);
  }
  struct stat mine;
  if (::fstat(file_.fd(), &mine) != 0) return ErrnoStatus(errno, "stat", temp_path_);
  // The owner first: chown clears the set-id bits a later chmod may set.
  if ((mine.st_uid != old.st_uid || mine.st_gid != old.st_gid) &&
      ::fchown(file_.fd(), old.st_uid, old.st_gid) != 0) {
    if (errno != EPERM) return ErrnoStatus(errno, "chown", temp_path_);
    return PermissionDenied("cannot give the new " + replaced + " the owner of the file it would " +
                            "replace (uid " + std::to_string(old.st_uid) + ", gid " +
                            std::to_string(old.st_gid) + "); nothing was replaced: run this as " +
                            "root or as that user");
  }
  if (what == Keep::kOwnerAndMode && ::fchmod(file_.fd(), old.st_mode & 07777) != 0) {
    return ErrnoStatus(errno, "chmod", temp_path_);
  }
  return Status::Ok();
}

Status TempFile::CommitTo(const std::string& final_path, bool no_replace) {
  final_path_ = final_path;
  return Commit(no_replace);
}

Status TempFile::Commit(bool no_replace) {
  if (temp_path_.empty()) return InternalError("TempFile::Commit without a file");
  AURA_RETURN_IF_ERROR(file_.Sync());
  AURA_RETURN_IF_ERROR(file_.Close());
  Status s = no_replace ? RenameNoReplace(temp_path_, final_path_)
                        : RenameReplace(temp_path_, final_path_);
  if (!s.ok()) {
    Abandon();
    return s;
  }
  temp_path_.clear();
  return SyncDirectory(DirName(final_path_));
}

void TempFile::Abandon() {
  if (temp_path_.empty()) return;
  (void)file_.Close();
  (void)RemoveFile(temp_path_);
  temp_path_.clear();
}

Status WriteFileAtomic(const std::string& path, std::string_view data, int mode, bool no_replace) {
  AURA_ASSIGN_OR_RETURN(TempFile t, TempFile::Create(path, mode));
  AURA_RETURN_IF_ERROR(
      t.file().WriteAll({reinterpret_cast<const uint8_t*>(data.data()), data.size()}));
  return t.Commit(no_replace);
}

}  // namespace aura
