// The Windows side of common/platform.h: LockFileEx, no directory sync, owner-only DACLs.
// Compiled only on Windows (scripts/windows-check compiles it with mingw-w64 on Linux).
#include <aclapi.h>
#include <sddl.h>
#include <windows.h>

#include <string>
#include <utility>

#include "common/platform.h"
#include "common/win_util.h"

namespace aura::platform {

Result<FileLock> FileLock::TryAcquire(const std::string& path) {
  // FILE_SHARE_DELETE: a releasing holder may delete the file while a waiter has it open, as
  // unlink does on POSIX.
  HANDLE h = CreateFileW(win::Widen(path).c_str(), GENERIC_READ | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return win::ErrorStatus(GetLastError(), "open lock file", path);
  // One byte far past the contents: Windows locks are mandatory, and a refused process must
  // still read the holder's note at offset 0.
  OVERLAPPED at = {};
  at.OffsetHigh = 0x7fffffff;
  if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &at)) {
    const DWORD err = GetLastError();
    CloseHandle(h);
    if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING) {
      return Busy("the lock file " + path + " is held by another process");
    }
    return win::ErrorStatus(err, "lock", path);
  }
  return FileLock(h, path);
}

bool FileLock::held() const { return handle_ != kNone; }

Result<std::string> FileLock::Read(size_t max_bytes) const {
  std::string buf(max_bytes, '\0');
  OVERLAPPED at = {};
  DWORD n = 0;
  if (!ReadFile(handle_, buf.data(), static_cast<DWORD>(buf.size()), &n, &at) &&
      GetLastError() != ERROR_HANDLE_EOF) {
    return win::ErrorStatus(GetLastError(), "read lock file", path_);
  }
  buf.resize(n);
  return buf;
}

Status FileLock::Write(std::string_view text) {
  LARGE_INTEGER zero = {};
  if (!SetFilePointerEx(handle_, zero, nullptr, FILE_BEGIN) || !SetEndOfFile(handle_)) {
    return win::ErrorStatus(GetLastError(), "truncate lock file", path_);
  }
  return Append(text);
}

Status FileLock::Append(std::string_view text) {
  LARGE_INTEGER zero = {};
  DWORD n = 0;
  if (!SetFilePointerEx(handle_, zero, nullptr, FILE_END) ||
      !WriteFile(handle_, text.data(), static_cast<DWORD>(text.size()), &n, nullptr) ||
      n != text.size()) {
    return win::ErrorStatus(GetLastError(), "write lock file", path_);
  }
  return Status::Ok();
}

bool FileLock::StillNamed() const {
  BY_HANDLE_FILE_INFORMATION open_info = {};
  if (!GetFileInformationByHandle(handle_, &open_info)) return false;
  HANDLE named = CreateFileW(win::Widen(path_).c_str(), 0,
                             FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                             OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (named == INVALID_HANDLE_VALUE) return false;
  BY_HANDLE_FILE_INFORMATION named_info = {};
  const bool ok = GetFileInformationByHandle(named, &named_info) != 0;
  CloseHandle(named);
  return ok && open_info.dwVolumeSerialNumber == named_info.dwVolumeSerialNumber &&
         open_info.nFileIndexHigh == named_info.nFileIndexHigh &&
         open_info.nFileIndexLow == named_info.nFileIndexLow;
}

void FileLock::ReleaseAndRemove() {
  if (handle_ == kNone) return;
  DeleteFileW(win::Widen(path_).c_str());
  Release();
}

void FileLock::Release() {
  if (handle_ == kNone) return;
  CloseHandle(handle_);  // closing releases the LockFileEx range
  handle_ = kNone;
}

Status SyncDirectory(const std::string& dir) {
  (void)dir;
  return Status::Ok();
}

Status RestrictToOwner(const std::string& path) {
  // Protected (no inherited entries): full control for the owner, SYSTEM and Administrators.
  return win::SetProtectedDacl(path, L"D:P(A;OICI;FA;;;OW)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)");
}

int ProcessId() { return static_cast<int>(GetCurrentProcessId()); }

uint64_t RaiseOpenFileLimit() { return 0; }  // handles are not limited this way

}  // namespace aura::platform
