// The file-I/O seam: one process-wide observer that the agent's durable file operations consult
// before they act, so that a test double can count them, fail them, or remember what a power cut
// would keep (tests/support/lost_writes.h), the way leveldb's FaultInjectionTestEnv and SQLite's
// test VFS do. Production never installs one; then each operation pays one atomic pointer load.
//
// Which operations call it (all in common/file_io.cc, which the rest of the agent goes through for
// the files it makes durable: repository objects on a local target, the spool, the compactor's
// scratch and cache, key files):
//   kCreate         File::CreateExclusive, TempFile::Create (path: the name pattern, whose folder
//                   is the one the file is created in)
//   kWrite          File::WriteAll, File::WriteAt
//   kSyncFile       File::Sync (fd: the file's descriptor)
//   kSyncDirectory  SyncDirectory
//   kRename         RenameNoReplace, RenameReplace (and so TempFile::Commit)
//   kRemove         RemoveFile (and so TempFile::Abandon)
//   kMakeDirectory  CreateDirectories, once per folder it makes
// Not through it: SQLite's own files (databases, WAL, journals), platform::FileLock's lock files,
// and restores writing a target database (their durability is SQLite's or the final rename's).
//
// Contract: Before() runs before the operation acts. A non-OK Status makes the operation fail
// with it and do nothing. The observer must outlive its installation and be safe to call from
// several threads at once (the snapshot pipeline writes from worker threads).
//
// Thread-safety: installing and removing are atomic; install from one thread at a time (tests).
#pragma once

#include <atomic>
#include <string_view>

#include "common/status.h"

namespace aura {

enum class FileOp { kCreate, kWrite, kSyncFile, kSyncDirectory, kRename, kRemove, kMakeDirectory };

// "fsync", "rename", ... for messages.
std::string_view FileOpName(FileOp op);

struct FileOpEvent {
  FileOp op;
  std::string_view path;  // the file or folder; for kRename the source
  std::string_view to;    // kRename: the destination; empty otherwise
  int fd = -1;            // kWrite and kSyncFile: the open descriptor; -1 otherwise
};

class FileIoObserver {
 public:
  virtual ~FileIoObserver() = default;
  // Called before `e` acts. Non-OK: the operation fails with this Status and does nothing.
  virtual Status Before(const FileOpEvent& e) = 0;
};

namespace file_io_seam {
// The installed observer, nullptr when none (always, outside tests).
inline std::atomic<FileIoObserver*> g_observer{nullptr};
}  // namespace file_io_seam

// What the operations call. With no observer installed: one pointer load and Ok.
inline Status BeforeFileOp(FileOp op, std::string_view path, int fd = -1,
                           std::string_view to = {}) {
  FileIoObserver* o = file_io_seam::g_observer.load(std::memory_order_acquire);
  if (o == nullptr) return Status::Ok();
  return o->Before(FileOpEvent{op, path, to, fd});
}

// Installs `observer` for its lifetime and puts back the one before it on destruction.
class ScopedFileIoObserver {
 public:
  explicit ScopedFileIoObserver(FileIoObserver* observer)
      : previous_(file_io_seam::g_observer.exchange(observer, std::memory_order_acq_rel)) {}
  ~ScopedFileIoObserver() { file_io_seam::g_observer.store(previous_, std::memory_order_release); }
  ScopedFileIoObserver(const ScopedFileIoObserver&) = delete;
  ScopedFileIoObserver& operator=(const ScopedFileIoObserver&) = delete;

 private:
  FileIoObserver* previous_;
};

}  // namespace aura
