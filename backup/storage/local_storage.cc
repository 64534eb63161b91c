#include "backup/storage/local_storage.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <functional>

#include "common/file_io.h"

namespace aura::backup {

namespace {

class LocalObjectWriter final : public ObjectWriter {
 public:
  LocalObjectWriter(TempFile temp, bool no_overwrite)
      : temp_(std::move(temp)), no_overwrite_(no_overwrite) {}
  ~LocalObjectWriter() override { Abort(); }

  Status Append(std::span<const uint8_t> data) override {
    if (done_) return InternalError("append after commit or abort");
    AURA_RETURN_IF_ERROR(temp_.file().WriteAll(data));
    written_ += data.size();
    return Status::Ok();
  }

  Status Commit() override {
    if (done_) return InternalError("commit after commit or abort");
    done_ = true;
    return temp_.Commit(no_overwrite_);
  }

  void Abort() override {
    done_ = true;
    temp_.Abandon();
  }

  uint64_t bytes_written() const override { return written_; }

 private:
  TempFile temp_;
  bool no_overwrite_;
  bool done_ = false;
  uint64_t written_ = 0;
};

class LocalObjectReader final : public ObjectReader {
 public:
  LocalObjectReader(File file, uint64_t offset, uint64_t end)
      : file_(std::move(file)), pos_(offset), end_(end) {}

  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (pos_ >= end_) return size_t{0};
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end_ - pos_));
    AURA_ASSIGN_OR_RETURN(size_t n, file_.ReadAt(pos_, buf.first(want)));
    pos_ += n;
    if (n == 0) pos_ = end_;
    return n;
  }

 private:
  File file_;
  uint64_t pos_;
  uint64_t end_;
};

// Calls fn(relative_name, stat) for every regular file under dir, skipping names starting '.'
// (temp files of writes in flight) and, with a warning, files and folders whose name is not a
// valid object name (KeepListedName: an escape sequence, a backslash, a path over 1024 bytes).
Status Walk(const std::string& root, const std::string& rel,
            const std::function<void(const std::string&, const struct stat&)>& fn) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
    return ErrnoStatus(errno, "list", dir);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  ::closedir(d);
  for (const std::string& n : names) {
    std::string child_rel = rel.empty() ? n : rel + "/" + n;
    if (!KeepListedName(child_rel, root)) continue;
    struct stat st;
    if (::lstat((root + "/" + child_rel).c_str(), &st) != 0) continue;  // deleted meanwhile
    if (S_ISDIR(st.st_mode)) {
      AURA_RETURN_IF_ERROR(Walk(root, child_rel, fn));
    } else if (S_ISREG(st.st_mode)) {
      fn(child_rel, st);
    }
  }
  return Status::Ok();
}

TimePoint MTimeOf(const struct stat& st) {
  return FromUnixMicros(static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000 +
                        st.st_mtim.tv_nsec / 1000);
}

}  // namespace

LocalStorage::LocalStorage(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Status LocalStorage::EnsureParentDirs(const std::string& name) {
  const std::string dir = DirName(PathOf(name));
  std::lock_guard<std::mutex> lock(durable_mu_);
  if (durable_dirs_.count(dir) != 0) return Status::Ok();
  AURA_RETURN_IF_ERROR(CreateDirectories(dir, kFolderMode));
  // Regression (power-cut tests): only the parents of folders this call created were fsynced, so
  // a folder a killed run had made was taken as durable and lost, objects and all, in a power cut.
  return SyncFolderChain(dir, &durable_dirs_);
}

Result<std::unique_ptr<ObjectWriter>> LocalStorage::Create(const std::string& name,
                                                           const WriteOptions& options) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  AURA_RETURN_IF_ERROR(EnsureParentDirs(name));
  AURA_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(PathOf(name), kObjectMode));
  return std::unique_ptr<ObjectWriter>(
      std::make_unique<LocalObjectWriter>(std::move(temp), options.no_overwrite));
}

Result<std::unique_ptr<ObjectReader>> LocalStorage::Open(const std::string& name, uint64_t offset,
                                                         uint64_t length) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  auto file = File::OpenForRead(PathOf(name));
  if (!file.ok()) {
    if (file.status().code() == Code::kNotFound) {
      return NotFound("object " + name + " not found in " + root_);
    }
    return file.status();
  }
  AURA_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  uint64_t start = std::min(offset, size);
  uint64_t end = length >= size - start ? size : start + length;
  return std::unique_ptr<ObjectReader>(
      std::make_unique<LocalObjectReader>(std::move(file).value(), start, end));
}

Result<ObjectInfo> LocalStorage::Stat(const std::string& name) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  struct stat st;
  if (::stat(PathOf(name).c_str(), &st) != 0) {
    if (errno == ENOENT) return NotFound("object " + name + " not found in " + root_);
    return ErrnoStatus(errno, "stat", PathOf(name));
  }
  return ObjectInfo{name, static_cast<uint64_t>(st.st_size), MTimeOf(st)};
}

Result<std::vector<ObjectInfo>> LocalStorage::List(const std::string& prefix) {
  // Walk only the deepest directory the prefix names for sure.
  auto slash = prefix.find_last_of('/');
  std::string start = slash == std::string::npos ? "" : prefix.substr(0, slash);
  std::vector<ObjectInfo> out;
  AURA_RETURN_IF_ERROR(Walk(root_, start, [&](const std::string& rel, const struct stat& st) {
    if (rel.compare(0, prefix.size(), prefix) == 0) {
      out.push_back({rel, static_cast<uint64_t>(st.st_size), MTimeOf(st)});
    }
  }));
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

Status LocalStorage::Delete(const std::string& name) {
  AURA_RETURN_IF_ERROR(ValidateObjectName(name));
  Status removed = RemoveFile(PathOf(name));
  if (removed.code() == Code::kNotFound) return Status::Ok();
  AURA_RETURN_IF_ERROR(removed);
  return SyncDirectory(DirName(PathOf(name)));
}

Status LocalStorage::MakeDurable(const std::string& prefix) {
  auto slash = prefix.find_last_of('/');
  const std::string start = slash == std::string::npos ? root_ : PathOf(prefix.substr(0, slash));
  if (!PathExists(start)) return Status::Ok();
  std::lock_guard<std::mutex> lock(durable_mu_);
  AURA_RETURN_IF_ERROR(SyncFolderChain(start, &durable_dirs_));
  std::function<Status(const std::string&)> visit = [&](const std::string& dir) -> Status {
    if (synced_dirs_.count(dir) == 0) {
      AURA_RETURN_IF_ERROR(SyncDirectory(dir));
      synced_dirs_.insert(dir);
    }
    for (const std::string& n : ListDirectory(dir)) {
      struct stat st;
      const std::string p = dir + "/" + n;
      if (n[0] != '.' && ::lstat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        AURA_RETURN_IF_ERROR(visit(p));
      }
    }
    return Status::Ok();
  };
  return visit(start);
}

Result<int> LocalStorage::RemoveAbandonedWrites(std::chrono::seconds older_than,
                                                const std::string& under) {
  const int64_t min_age_seconds = older_than.count();
  int removed = 0;
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::function<Status(const std::string&)> visit = [&](const std::string& dir) -> Status {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return Status::Ok();
    std::vector<std::string> names;
    while (struct dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
    ::closedir(d);
    for (const std::string& n : names) {
      if (n == "." || n == "..") continue;
      std::string p = dir + "/" + n;
      struct stat st;
      if (::lstat(p.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode) && n[0] != '.') {
        AURA_RETURN_IF_ERROR(visit(p));
      } else if (S_ISREG(st.st_mode) && n[0] == '.' && n.find(".tmp-") != std::string::npos &&
                 now - st.st_mtim.tv_sec >= min_age_seconds) {
        if (RemoveFile(p).ok()) ++removed;
      }
    }
    return Status::Ok();
  };
  std::string start = under;
  while (!start.empty() && start.back() == '/') start.pop_back();
  AURA_RETURN_IF_ERROR(visit(start.empty() ? root_ : PathOf(start)));
  return removed;
}

}  // namespace aura::backup
