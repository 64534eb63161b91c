#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace aura {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInternal:
      return "internal";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kConfig:
      return "config";
    case Code::kNotFound:
      return "not_found";
    case Code::kCorruption:
      return "corruption";
    case Code::kKeyError:
      return "key_error";
    case Code::kBusy:
      return "busy";
    case Code::kIOError:
      return "io_error";
    case Code::kAlreadyExists:
      return "already_exists";
    case Code::kNotADatabase:
      return "not_a_database";
    case Code::kUnsupported:
      return "unsupported";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kPermissionDenied:
      return "permission_denied";
    case Code::kCancelled:
      return "cancelled";
    case Code::kRefused:
      return "refused";
  }
  return "unknown";
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string m(context);
  m += ": ";
  m += message_;
  return Status(code_, std::move(m));
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

Status ErrnoStatus(int err, std::string_view operation, std::string_view path) {
  std::string m(operation);
  m += " ";
  m += path;
  m += ": ";
  m += std::strerror(err);
  switch (err) {
    case ENOENT:
      return NotFound(std::move(m));
    case EACCES:
    case EPERM:
    case EROFS:
      return PermissionDenied(std::move(m));
    case EEXIST:
      return AlreadyExists(std::move(m));
    case ENOSPC:
#ifdef EDQUOT  // not in the Windows C runtime
    case EDQUOT:
#endif
      return IOError(m + " (disk full: free space or point the target elsewhere)");
    default:
      return IOError(std::move(m));
  }
}

}  // namespace aura
