// Windows-only helpers shared by the Windows units (platform_windows.cc, open_files_windows.cc,
// windows-service/): UTF-8 <-> UTF-16 and a Status from a Win32 error code. Compiled only on
// Windows (and by scripts/windows-check with mingw-w64 on Linux).
#pragma once

#ifndef _WIN32
#error "common/win_util.h is for Windows builds only"
#endif

#include <windows.h>
// windows.h first: the others use its types.
#include <aclapi.h>
#include <sddl.h>

#include <string>
#include <string_view>

#include "common/status.h"

namespace aura::win {

inline std::wstring Widen(std::string_view utf8) {
  if (utf8.empty()) return {};
  int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

inline std::string Narrow(std::wstring_view utf16) {
  if (utf16.empty()) return {};
  int n = WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), nullptr, 0,
                              nullptr, nullptr);
  std::string out(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), out.data(), n,
                      nullptr, nullptr);
  return out;
}

// The system's text for a Win32 error code, without the trailing newline.
inline std::string ErrorText(DWORD err) {
  wchar_t* buf = nullptr;
  DWORD n = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, err, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::string text = n > 0 ? Narrow(std::wstring_view(buf, n)) : "error " + std::to_string(err);
  if (buf != nullptr) LocalFree(buf);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == '.')) {
    text.pop_back();
  }
  return text;
}

// "<operation> <path>: <system text>" with the Code a caller can act on.
inline Status ErrorStatus(DWORD err, std::string_view operation, std::string_view path) {
  std::string m = std::string(operation) + " " + std::string(path) + ": " + ErrorText(err);
  switch (err) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return NotFound(m);
    case ERROR_ACCESS_DENIED:
      return PermissionDenied(m);
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
      return Busy(m);
    case ERROR_ALREADY_EXISTS:
    case ERROR_FILE_EXISTS:
      return AlreadyExists(m);
    default:
      return IOError(m);
  }
}

// Replaces the DACL of `path` with the one in `sddl`, protected from inheritance.
inline Status SetProtectedDacl(const std::string& path, const wchar_t* sddl) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, nullptr)) {
    return ErrorStatus(GetLastError(), "build the access list for", path);
  }
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL dacl = nullptr;
  GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
  std::wstring wide = Widen(path);
  DWORD rc = SetNamedSecurityInfoW(wide.data(), SE_FILE_OBJECT,
                                   DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                   nullptr, nullptr, dacl, nullptr);
  LocalFree(sd);
  if (rc != ERROR_SUCCESS) return ErrorStatus(rc, "restrict access to", path);
  return Status::Ok();
}

}  // namespace aura::win
