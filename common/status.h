// Status and Result<T>: errors as values across every module boundary.
//
// A Status carries a Code (one stable table, below, that also fixes the CLI's exit codes) and a
// message that says what failed, on which database or object, and what to do about it. An
// exception never crosses a module boundary; code that calls a throwing library catches at the
// call and returns a Status.
//
// Transient or fatal: IsTransient() is true for kBusy and kUnavailable, the two conditions that a
// retry can cure (a writer holding a lock, a store that is briefly unreachable). Retry loops key
// off that and nothing else, the way SQLite treats SQLITE_BUSY/SQLITE_LOCKED.
//
// Thread-safety: values; safe to copy between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace aura {

// The numbers are stable: they are the process exit codes documented in docs/CLI.md.
enum class Code : uint8_t {
  kOk = 0,
  kInternal = 1,         // a bug or an unexpected library failure
  kInvalidArgument = 2,  // bad command line or API use
  kConfig = 3,           // configuration file invalid
  kNotFound = 4,         // database, snapshot, object or key file missing
  kCorruption = 5,     // checksum/authentication failure, truncated object, failed integrity_check
  kKeyError = 6,       // key missing, wrong key, or encryption not decided
  kBusy = 7,           // database locked by another process (transient)
  kIOError = 8,        // read/write/fsync failed, disk full
  kAlreadyExists = 9,  // refusing to overwrite
  kNotADatabase = 10,  // file is not an SQLite database
  kUnsupported = 11,   // unknown format version or feature
  kUnavailable = 12,   // storage unreachable (transient)
  kPermissionDenied = 13,  // OS or storage refused access
  kCancelled = 14,         // interrupted by a signal or shutdown
  kRefused = 15,  // a migration refused as unsafe (drift, data loss, a failed check); unchanged
};

// Short stable name, e.g. "corruption"; used in --json output.
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsTransient() const { return code_ == Code::kBusy || code_ == Code::kUnavailable; }

  // Returns a copy whose message is "context: message". Used to add the object or database name
  // as an error travels up.
  Status WithContext(std::string_view context) const;

  // "corruption: <message>"; "ok" for success.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InternalError(std::string m) { return Status(Code::kInternal, std::move(m)); }
inline Status InvalidArgument(std::string m) {
  return Status(Code::kInvalidArgument, std::move(m));
}
inline Status ConfigError(std::string m) { return Status(Code::kConfig, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
inline Status KeyError(std::string m) { return Status(Code::kKeyError, std::move(m)); }
inline Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }
inline Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
inline Status AlreadyExists(std::string m) { return Status(Code::kAlreadyExists, std::move(m)); }
inline Status NotADatabase(std::string m) { return Status(Code::kNotADatabase, std::move(m)); }
inline Status Unsupported(std::string m) { return Status(Code::kUnsupported, std::move(m)); }
inline Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
inline Status PermissionDenied(std::string m) {
  return Status(Code::kPermissionDenied, std::move(m));
}
inline Status Cancelled(std::string m) { return Status(Code::kCancelled, std::move(m)); }
inline Status Refused(std::string m) { return Status(Code::kRefused, std::move(m)); }

// Maps an errno value from a failed system call to a Status naming the operation and path.
// ENOENT -> kNotFound, EACCES/EPERM -> kPermissionDenied, EEXIST -> kAlreadyExists,
// ENOSPC/EDQUOT -> kIOError with "disk full" in the message, anything else -> kIOError.
Status ErrnoStatus(int err, std::string_view operation, std::string_view path);

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace aura

#define AURA_CONCAT_INNER(a, b) a##b
#define AURA_CONCAT(a, b) AURA_CONCAT_INNER(a, b)

// Returns from the enclosing function when `expr` (a Status) is not OK.
#define AURA_RETURN_IF_ERROR(expr) \
  AURA_RETURN_IF_ERROR_IMPL(AURA_CONCAT(aura_status_, __LINE__), expr)
#define AURA_RETURN_IF_ERROR_IMPL(tmp, expr) \
  do {                                       \
    ::aura::Status tmp = (expr);             \
    if (!tmp.ok()) return tmp;               \
  } while (0)

// `lhs = value of expr` (a Result<T>), or returns its Status from the enclosing function.
#define AURA_ASSIGN_OR_RETURN(lhs, expr) \
  AURA_ASSIGN_OR_RETURN_IMPL(AURA_CONCAT(aura_result_, __LINE__), lhs, expr)
#define AURA_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
