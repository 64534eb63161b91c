// What differs between the operating systems the agent runs on, behind one interface: default
// paths, exclusive lock files, directory durability and owner-only permissions.
//
// Two implementations: platform_posix.cc (Linux, macOS: flock(2), fsync of the directory,
// chmod) and platform_windows.cc (LockFileEx, no directory sync, a protected DACL). The paths
// are plain data (platform_paths.cc), so every platform's defaults are unit-tested on Linux.
//
// Thread-safety: free functions are safe from any thread; a FileLock is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace aura::platform {

// Where the agent keeps things when the config does not say. On Windows everything is under
// %ProgramData%\Aura Agent and the status endpoint is loopback TCP with a token file (a Unix
// socket is not an option every Windows admin tool can reach).
struct DefaultPaths {
  std::string config_file;
  std::string state_dir;
  std::string status_socket;      // empty where the default is TCP
  std::string status_tcp;         // "127.0.0.1:PORT", empty where the default is a socket
  std::string status_token_file;  // with status_tcp
  std::string log_dir;
};

DefaultPaths LinuxDefaults();
DefaultPaths MacDefaults();
// `program_data` is %ProgramData% (normally C:\ProgramData).
DefaultPaths WindowsDefaults(std::string_view program_data);
// This build's platform (Windows reads %ProgramData%).
DefaultPaths Defaults();

// The loopback port of the Windows default status endpoint.
inline constexpr uint16_t kDefaultStatusPort = 7465;

// An exclusive lock on a small file, held until destroyed or Release()d. The file holds a note
// from the holder ("pid 123 since ...") so a refused process can say who has it.
//   POSIX: open + flock(LOCK_EX|LOCK_NB) (independent of SQLite's fcntl locks).
//   Windows: CreateFileW (sharing read/write/delete) + LockFileEx(FAIL_IMMEDIATELY).
class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&& other) noexcept;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Opens or creates `path` (owner read/write only) and locks it without waiting. kBusy when
  // another process holds it (the message names `path`; callers say what it guards).
  static Result<FileLock> TryAcquire(const std::string& path);

  bool held() const;
  const std::string& path() const { return path_; }

  // The file's contents (at most `max_bytes`), as a holder or a killed holder left them.
  Result<std::string> Read(size_t max_bytes = 4096) const;
  // Replaces the contents with `text`.
  Status Write(std::string_view text);
  // Appends `text`.
  Status Append(std::string_view text);
  // Whether `path()` still names the file this lock is on (a releasing holder removes it, so a
  // process that waited on the old file must start again with a new one).
  bool StillNamed() const;
  // Removes the file while still holding the lock, then releases it.
  void ReleaseAndRemove();
  // Releases the lock and closes the file (the file stays).
  void Release();

 private:
#ifdef _WIN32
  using Handle = void*;
  static constexpr Handle kNone = nullptr;
#else
  using Handle = int;
  static constexpr Handle kNone = -1;
#endif
  FileLock(Handle h, std::string path) : handle_(h), path_(std::move(path)) {}
  Handle handle_ = kNone;
  std::string path_;
};

// Makes a rename or unlink inside `dir` durable. POSIX: fsync of the directory. Windows: NTFS
// journals its metadata and renames are done with MOVEFILE_WRITE_THROUGH, so nothing to do.
Status SyncDirectory(const std::string& dir);

// Owner-only access to a file or directory the agent created: POSIX chmod 0600 (files) or 0700
// (directories); Windows a protected DACL for the owner, SYSTEM and Administrators only.
Status RestrictToOwner(const std::string& path);

// The id of this process.
int ProcessId();

// Raises this process's limit of open files to the most it may have (POSIX: the soft
// RLIMIT_NOFILE up to the hard one; systemd and most shells start services at a soft 1024).
// Returns the limit now in force (0: unknown, or no such limit, as on Windows).
uint64_t RaiseOpenFileLimit();

}  // namespace aura::platform
