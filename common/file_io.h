// File I/O with explicit durability: RAII file descriptors, full reads and writes, fsync of
// files and directories, and temp-file-then-rename commits.
//
// Durability contract used across the project: a file is visible under its final name only when
// it is complete and durable, i.e. written to a temp name in the same directory, fsynced,
// renamed, and the directory fsynced. TempFile implements that; WriteFileAtomic is the one-shot
// form.
//
// Every operation that writes, creates, renames, removes or syncs consults the file-I/O seam first
// (common/file_io_seam.h), so a test double can model a power cut; without one it costs nothing.
//
// Thread-safety: a File is used by one thread at a time; different Files are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace aura {

class File {
 public:
  File() = default;
  explicit File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Opens an existing file read-only. NotFound if it does not exist.
  static Result<File> OpenForRead(const std::string& path);
  // Creates a new file for writing with exactly `mode` (whatever the umask); AlreadyExists if
  // `path` exists.
  static Result<File> CreateExclusive(const std::string& path, int mode);

  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  // Reads up to buf.size() bytes at the current offset; returns the count, 0 at end of file.
  Result<size_t> Read(std::span<uint8_t> buf);
  // Reads until buf is full or end of file; returns the count.
  Result<size_t> ReadFull(std::span<uint8_t> buf);
  // Reads buf.size() bytes at `offset` (pread); returns the count (short only at end of file).
  Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> buf) const;
  Status WriteAll(std::span<const uint8_t> data);
  // Writes all of `data` at `offset` (pwrite), leaving the current offset where it was.
  Status WriteAt(uint64_t offset, std::span<const uint8_t> data);
  Status Sync();
  // Starts writing [offset, offset+length) back to disk without waiting (Linux
  // sync_file_range), so a final Sync of a large file has little left to do. Best effort.
  void StartWriteback(uint64_t offset, uint64_t length);
  Result<uint64_t> Size() const;
  Status Close();

 private:
  int fd_ = -1;
  std::string path_;
};

// fsync on a directory so that a rename or unlink inside it is durable.
Status SyncDirectory(const std::string& dir);

// Makes folder `dir` durable where it is: fsyncs its parent, and the parent of each folder above
// it that this account owns, up to the first one owned by someone else (a mount point, /var/lib)
// or whose parent it may not read. A folder that exists is not durable for that: a run killed
// between its mkdir and the fsync of its parent left the name in the page cache only, and a
// power cut takes it with everything acknowledged inside since. Folders in `*durable` are known
// durable already (the walk stops at them); those made durable are added to it.
Status SyncFolderChain(const std::string& dir, std::set<std::string>* durable = nullptr);

// rename(2) that fails with AlreadyExists instead of replacing `to`.
Status RenameNoReplace(const std::string& from, const std::string& to);

// rename(2), replacing `to` if it exists.
Status RenameReplace(const std::string& from, const std::string& to);

// unlink(2). kNotFound when `path` does not exist. Every file the agent removes goes through
// this (or TempFile::Abandon, which calls it), so the file-I/O seam sees each removal.
Status RemoveFile(const std::string& path);

// Directory part of a path ("." when there is none).
std::string DirName(const std::string& path);
// Last component of a path.
std::string BaseName(const std::string& path);

// mkdir -p. The folders this call creates get exactly `mode` (chmod after mkdir, so the umask
// can neither widen nor narrow it); existing ones are left as they are. No default: every caller
// says who may use what it creates (SECURITY.md lists the modes).
Status CreateDirectories(const std::string& dir, int mode);

// mkdir -p for a folder only the agent's account may use (state, spool): a folder this call
// creates is made owner-only (platform::RestrictToOwner: 0700, or an owner-only DACL on
// Windows); one that exists is left as the admin set it.
Status CreatePrivateDirectories(const std::string& dir);

bool PathExists(const std::string& path);

// Names in a directory, without "." and ".."; empty if it cannot be read.
std::vector<std::string> ListDirectory(const std::string& dir);

// Reads a whole file; fails with kIOError if it is larger than max_bytes.
Result<std::string> ReadFileToString(const std::string& path, size_t max_bytes = 64 << 20);
// The same from an open file, from its current offset.
Result<std::string> ReadFileToString(File& file, size_t max_bytes);

// A file being written under a temporary name beside its final name. Destroying it without
// Commit() deletes the temp file, so an interrupted write never leaves a partial file visible.
class TempFile {
 public:
  // Creates "<dir>/.<base>.tmp-XXXXXX" for final path `final_path`, with `mode`.
  static Result<TempFile> Create(const std::string& final_path, int mode = 0644);

  TempFile() = default;
  ~TempFile();
  TempFile(TempFile&& other) noexcept;
  TempFile& operator=(TempFile&&) noexcept;

  File& file() { return file_; }
  const std::string& temp_path() const { return temp_path_; }
  const std::string& final_path() const { return final_path_; }

  // Gives the temp file the owner and group of `replaced` (normally final_path()), and with
  // kOwnerAndMode its permission bits too, so the file that replaces it stays usable by whoever
  // used it (a database the application's account owns, a key the agent's account reads). Call
  // it before Commit. Nothing to do when `replaced` does not exist. kPermissionDenied, naming the
  // owner, when this process may not give the file away (not root, and `replaced` is another
  // user's or in a group this user is not in): the caller then replaces nothing.
  enum class Keep { kOwner, kOwnerAndMode };
  Status KeepAttributesOf(const std::string& replaced, Keep what);
  // fsync, rename to the final path, fsync the directory. With no_replace, fails with
  // AlreadyExists (and keeps nothing) when the final path already exists.
  Status Commit(bool no_replace);
  // Commit under another final name in the same directory (when the name is known only at the
  // end, as for a WAL segment named by its last transaction).
  Status CommitTo(const std::string& final_path, bool no_replace);
  // Deletes the temp file now. Idempotent.
  void Abandon();

 private:
  File file_;
  std::string temp_path_;
  std::string final_path_;
};

// Writes `data` to `path` through a TempFile: complete and durable, or not there at all.
Status WriteFileAtomic(const std::string& path, std::string_view data, int mode = 0644,
                       bool no_replace = false);

}  // namespace aura
