// LostWritesDisk: a test double on the file-I/O seam (common/file_io_seam.h) that models what a
// power cut keeps of the folders under test, the way leveldb's FaultInjectionTestEnv and SQLite's
// test VFS do. A SIGKILL keeps the page cache, so only this shows what fsync alone makes durable.
//
// The model (POSIX fsync semantics and nothing more):
//   - A file's content is durable as of its last fsync (File::Sync): the double copies its bytes
//     then (test files are small). A file that was never fsynced is empty after the cut.
//   - A folder's entries (names of files and folders) are durable as of its last fsync
//     (SyncDirectory): the double records its listing then. Whatever was created, renamed or
//     removed in it since is undone by the cut: a new name vanishes, a renamed file is back under
//     its old name, a removed one is back, each with the content its file last made durable.
//   - Everything under the roots when the double is made is durable as it is (the test's setup
//     stands for what an earlier, completed run left on disk).
// Files are told apart by (device, inode). The double holds a descriptor open on every file and
// folder it models, so that none is freed and its inode number reused while the model may name it
// (whether it is removed through the seam or not: a lock file, an rmdir).
//
// Durable steps are the fsyncs of files and folders under the roots, counted from 1. CutAt(k):
// the k-th step and every file operation after it (any path) fail with kIOError "power cut" and
// do nothing. ApplyPowerCut() then rewrites the roots as the machine finds them after the reboot
// (contents, modes and modification times) and starts a new model from there. Or the cut stands
// for a SIGKILL instead: AfterKill() lets operations work again with the page cache as it was
// (nothing rewritten, the model still knowing what is durable), so that a later ApplyPowerCut
// shows what a rerun after the kill made durable itself and what it took on trust.
//
// Not modelled: torn sectors and writes reordered inside a file (a file is either as at its last
// fsync or, never synced, empty); metadata made durable by a journal commit for another file
// (ext4 may keep a renamed but unsynced file as a name with no data: here the name is lost too);
// files written behind the seam (lock files; SQLite's, unless tests/support/sqlite_vfs_seam.h
// routes them through it): they are kept as at the last fsync the double saw, empty if none.
// The double never closes a descriptor of a modelled file while it runs (only ApplyPowerCut and
// the destructor do, with no connection open): that would drop SQLite's fcntl locks on it.
//
// Thread-safety: Before() may be called from any thread (the snapshot pipeline's workers); the
// other methods from the test's thread while no operation runs.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/file_io.h"
#include "common/file_io_seam.h"

namespace aura::testing {

class LostWritesDisk final : public FileIoObserver {
 public:
  // `roots`: existing folders (absolute paths) whose contents the power cut rewrites.
  explicit LostWritesDisk(std::vector<std::string> roots) {
    for (std::string& r : roots) roots_.push_back(std::filesystem::path(r).lexically_normal());
    Model();
  }
  ~LostWritesDisk() override { Unpin(); }
  LostWritesDisk(const LostWritesDisk&) = delete;
  LostWritesDisk& operator=(const LostWritesDisk&) = delete;

  // The power goes out at durable step `step` (1-based; 0: never).
  void CutAt(uint64_t step) {
    std::lock_guard<std::mutex> lock(mu_);
    cut_at_ = step;
  }
  // Durable steps done (or, once cut, reached) so far.
  uint64_t durable_steps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return steps_;
  }
  bool power_is_out() const {
    std::lock_guard<std::mutex> lock(mu_);
    return out_;
  }
  // The step the power went out at, e.g. "fsync directory /tmp/x/repo/live (step 7)".
  std::string cut_step() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cut_step_;
  }

  Status Before(const FileOpEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (out_) return PowerCut(e);
    const bool sync = e.op == FileOp::kSyncFile || e.op == FileOp::kSyncDirectory;
    if (sync && Tracked(e.path)) {
      if (++steps_ == cut_at_) {
        out_ = true;
        cut_step_ = std::string(FileOpName(e.op)) + " " + std::string(e.path) + " (step " +
                    std::to_string(steps_) + ")";
        return PowerCut(e);
      }
      return e.op == FileOp::kSyncFile ? CaptureFile(e) : CaptureFolder(std::string(e.path));
    }
    return Status::Ok();
  }

  // The cut was a SIGKILL of the process, not of the machine: operations work again and the
  // page cache keeps everything (what is durable stays as the model knows it).
  void AfterKill() {
    std::lock_guard<std::mutex> lock(mu_);
    out_ = false;
    cut_at_ = 0;
  }

  // Rewrites every root as it is after the reboot, then models the result as durable (the power
  // is back on: operations work again).
  Status ApplyPowerCut() {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<NodeId, std::string> linked;  // a file with two durable names gets one inode
    for (const auto& root : roots_) {
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
        std::filesystem::remove_all(entry.path(), ec);
        if (ec) return IOError("power cut: cannot clear " + entry.path().string());
      }
      std::set<NodeId> folders;
      AURA_RETURN_IF_ERROR(Rebuild(root, root_ids_.at(root.string()), linked, folders));
    }
    out_ = false;
    steps_ = 0;
    cut_at_ = 0;
    Model();
    return Status::Ok();
  }

 private:
  using NodeId = uint64_t;
  struct Node {
    bool folder = false;
    std::string content;                    // a file's durable bytes
    std::map<std::string, NodeId> entries;  // a folder's durable names
    mode_t mode = 0600;
    struct timespec mtime = {0, UTIME_NOW};  // a file's, as of its durable content
    int pin = -1;                            // a read-only descriptor, open while modelled
  };

  static Status PowerCut(const FileOpEvent& e) {
    return IOError("power cut (simulated): " + std::string(FileOpName(e.op)) + " " +
                   std::string(e.path) + " did not happen; the machine is off");
  }

  bool Tracked(std::string_view path) const {
    const std::string p = std::filesystem::path(path).lexically_normal().string();
    for (const auto& root : roots_) {
      const std::string r = root.string();
      if (p == r || (p.size() > r.size() && p.compare(0, r.size(), r) == 0 && p[r.size()] == '/'))
        return true;
    }
    return false;
  }

  // The node of the file or folder `st` describes (reached at `path`), made (never durable) and
  // pinned when first seen.
  NodeId IdOf(const struct stat& st, const std::string& path) {
    const auto key = std::make_pair(static_cast<uint64_t>(st.st_dev), uint64_t{st.st_ino});
    auto it = ids_.find(key);
    if (it != ids_.end() && nodes_.at(it->second).folder == S_ISDIR(st.st_mode)) return it->second;
    const NodeId id = next_id_++;
    ids_[key] = id;
    Node& n = nodes_[id];
    n.folder = S_ISDIR(st.st_mode);
    n.mode = st.st_mode & 07777;
    n.pin = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (n.pin >= 0) pins_.push_back(n.pin);
    return id;
  }

  void Unpin() {
    for (int fd : pins_) ::close(fd);
    pins_.clear();
  }

  // The file's bytes now, read through its pin. Never through a descriptor opened and closed
  // here: closing any descriptor of a file drops every fcntl lock this process holds on it, and
  // SQLite's locks on a database are fcntl locks.
  static Result<std::string> ReadPinned(const Node& n) {
    struct stat st {};
    if (n.pin < 0 || ::fstat(n.pin, &st) != 0) return IOError("lost-writes model: unreadable file");
    std::string out(static_cast<size_t>(st.st_size), '\0');
    size_t done = 0;
    while (done < out.size()) {
      const ssize_t r = ::pread(n.pin, out.data() + done, out.size() - done, off_t(done));
      if (r <= 0) break;
      done += static_cast<size_t>(r);
    }
    out.resize(done);
    return out;
  }

  Status CaptureFile(const FileOpEvent& e) {
    struct stat st {};
    const int rc = e.fd >= 0 ? ::fstat(e.fd, &st) : ::stat(std::string(e.path).c_str(), &st);
    if (rc != 0) return ErrnoStatus(errno, "lost-writes model: stat", e.path);
    // The descriptor may be write-only: pin the file it names through /proc.
    const std::string path =
        e.fd >= 0 ? "/proc/self/fd/" + std::to_string(e.fd) : std::string(e.path);
    Node& n = nodes_[IdOf(st, path)];
    AURA_ASSIGN_OR_RETURN(std::string bytes, ReadPinned(n));
    n.content = std::move(bytes);
    n.mode = st.st_mode & 07777;
    n.mtime = st.st_mtim;
    return Status::Ok();
  }

  Status CaptureFolder(const std::string& dir) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return ErrnoStatus(errno, "lost-writes model: stat", dir);
    std::map<std::string, NodeId> entries;
    for (const std::string& name : ListDirectory(dir)) {
      struct stat cst {};
      if (::lstat((dir + "/" + name).c_str(), &cst) != 0) continue;
      if (S_ISREG(cst.st_mode) || S_ISDIR(cst.st_mode)) entries[name] = IdOf(cst, dir + "/" + name);
    }
    nodes_[IdOf(st, dir)].entries = std::move(entries);
    return Status::Ok();
  }

  // Everything under the roots as it is now, durable.
  void Model() {
    Unpin();
    ids_.clear();
    nodes_.clear();
    root_ids_.clear();
    for (const auto& root : roots_) root_ids_[root.string()] = ModelTree(root.string());
  }

  NodeId ModelTree(const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return 0;
    const NodeId id = IdOf(st, path);
    if (S_ISDIR(st.st_mode)) {
      std::map<std::string, NodeId> entries;
      for (const std::string& name : ListDirectory(path)) {
        struct stat cst {};
        const std::string child = path + "/" + name;
        if (::lstat(child.c_str(), &cst) != 0) continue;
        if (S_ISREG(cst.st_mode) || S_ISDIR(cst.st_mode)) entries[name] = ModelTree(child);
      }
      nodes_[id].entries = std::move(entries);
    } else {
      auto bytes = ReadPinned(nodes_[id]);
      nodes_[id].content = bytes.ok() ? *bytes : "";
      nodes_[id].mtime = st.st_mtim;
    }
    return id;
  }

  Status Rebuild(const std::filesystem::path& dir, NodeId folder,
                 std::map<NodeId, std::string>& linked, std::set<NodeId>& folders) {
    if (!folders.insert(folder).second) return Status::Ok();  // a folder under two names
    for (const auto& [name, id] : nodes_.at(folder).entries) {
      const Node& n = nodes_.at(id);
      const std::string p = (dir / name).string();
      if (n.folder) {
        if (::mkdir(p.c_str(), n.mode) != 0 || ::chmod(p.c_str(), n.mode) != 0) {
          return ErrnoStatus(errno, "power cut: mkdir", p);
        }
        AURA_RETURN_IF_ERROR(Rebuild(p, id, linked, folders));
        continue;
      }
      auto first = linked.find(id);
      if (first != linked.end()) {
        if (::link(first->second.c_str(), p.c_str()) != 0) return ErrnoStatus(errno, "link", p);
        continue;
      }
      AURA_RETURN_IF_ERROR(WriteFile(p, n));
      linked[id] = p;
    }
    return Status::Ok();
  }

  static Status WriteFile(const std::string& p, const Node& n) {
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, n.mode);
    if (fd < 0) return ErrnoStatus(errno, "power cut: create", p);
    size_t done = 0;
    while (done < n.content.size()) {
      const ssize_t w = ::write(fd, n.content.data() + done, n.content.size() - done);
      if (w <= 0) break;
      done += static_cast<size_t>(w);
    }
    const struct timespec times[2] = {{0, UTIME_OMIT}, n.mtime};
    const bool ok =
        done == n.content.size() && ::fchmod(fd, n.mode) == 0 && ::futimens(fd, times) == 0;
    ::close(fd);
    return ok ? Status::Ok() : IOError("power cut: cannot rewrite " + p);
  }

  mutable std::mutex mu_;
  std::vector<std::filesystem::path> roots_;
  std::vector<int> pins_;  // descriptors that keep every modelled inode allocated
  std::map<std::string, NodeId> root_ids_;
  std::map<std::pair<uint64_t, uint64_t>, NodeId> ids_;  // (device, inode) -> node
  std::map<NodeId, Node> nodes_;
  NodeId next_id_ = 1;
  uint64_t steps_ = 0;
  uint64_t cut_at_ = 0;
  bool out_ = false;
  std::string cut_step_;
};

}  // namespace aura::testing
