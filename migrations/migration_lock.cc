#include "migrations/migration_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

namespace aura::migrations {
namespace {

constexpr int kAcquireAttempts = 20;

// What the holder wrote ("pid N since T"), as "pid N, since T"; empty when nothing is there yet.
std::string ReadHolder(int fd) {
  char buf[256] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return "";
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  size_t since = text.find(" since ");
  if (since != std::string::npos) text.replace(since, 7, ", since ");
  return text;
}

Status HeldStatus(int fd, const std::string& database_path) {
  std::string holder = ReadHolder(fd);
  return Busy("another aura-agent" + (holder.empty() ? "" : " (" + holder + ")") +
              " is migrating " + database_path + "; wait for it or stop it");
}

// Whether `path` still names the file open as `fd` (a releasing holder unlinks it).
bool StillNamed(int fd, const std::string& path) {
  struct stat open_st {};
  struct stat path_st {};
  if (fstat(fd, &open_st) != 0 || stat(path.c_str(), &path_st) != 0) return false;
  return open_st.st_dev == path_st.st_dev && open_st.st_ino == path_st.st_ino;
}

Status WriteHolder(int fd, const std::string& path) {
  std::string text = "pid " + std::to_string(getpid()) + " since " +
                     FormatRfc3339(std::chrono::system_clock::now(), 0) + "\n";
  if (ftruncate(fd, 0) != 0) return ErrnoStatus(errno, "truncate migration lock file", path);
  ssize_t n = pwrite(fd, text.data(), text.size(), 0);
  if (n != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus(n < 0 ? errno : EIO, "write migration lock file", path);
  }
  return Status::Ok();
}

// The whole file, as a killed holder left it.
std::string ReadAll(int fd) {
  char buf[1024] = {};
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

// One attempt: the locked fd, -1 when the file was replaced under us (try again), or an error.
// `left` receives what a killed holder left in the file.
Result<int> TryLock(const std::string& path, const std::string& database_path, std::string& left) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "create migration lock file", path);
  int rc;
  do {
    rc = flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    Status s = err == EWOULDBLOCK ? HeldStatus(fd, database_path)
                                  : ErrnoStatus(err, "lock migration lock file", path);
    close(fd);
    return s;
  }
  if (!StillNamed(fd, path)) {
    close(fd);
    return -1;
  }
  left = ReadAll(fd);
  Status written = WriteHolder(fd, path);
  if (!written.ok()) {
    unlink(path.c_str());
    close(fd);
    return written;
  }
  return fd;
}

// --- EF Core's lock table ------------------------------------------------------------------

Result<bool> EfLockTableExists(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(int64_t n,
                        db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                    "name = '__EFMigrationsLock'"));
  return n > 0;
}

// Rolls back on destruction unless committed.
class Transaction {
 public:
  explicit Transaction(SqliteDb& db) : db_(db) {}
  ~Transaction() {
    if (open_) (void)db_.Exec("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  Status Begin() {
    AURA_RETURN_IF_ERROR(db_.Exec("BEGIN IMMEDIATE"));
    open_ = true;
    return Status::Ok();
  }
  Status Commit() {
    AURA_RETURN_IF_ERROR(db_.Exec("COMMIT"));
    open_ = false;
    return Status::Ok();
  }

 private:
  SqliteDb& db_;
  bool open_ = false;
};

// DateTimeOffset.UtcNow.ToString("O"): "2026-12-02T01:02:03.1234560+00:00".
std::string EfTimestamp(TimePoint now) {
  std::string t = FormatRfc3339(now, 6);  // "...03.123456Z"
  t.pop_back();
  return t + "0+00:00";
}

std::string Age(std::chrono::seconds age) {
  int64_t s = age.count();
  if (s < 120) return std::to_string(s) + " s";
  if (s < 120 * 60) return std::to_string(s / 60) + " min";
  if (s < 48 * 3600) return std::to_string(s / 3600) + " h";
  return std::to_string(s / 86400) + " days";
}

Status EfBusy(const EfLockState& state, TimePoint now, std::chrono::seconds stale_after) {
  const std::string kName = "EF Core's migration lock (__EFMigrationsLock)";
  if (!state.since) {
    return Busy(kName + " holds '" + state.timestamp +
                "', which is not a time, so it counts as stale (left by a killed process or "
                "another tool); if no migration is running, pass --break-stale-lock");
  }
  auto age = std::chrono::duration_cast<std::chrono::seconds>(now - *state.since);
  std::string at = FormatRfc3339(*state.since, 0);
  if (age < stale_after) {
    return Busy(kName + " is held since " + at + " (" +
                Age(std::max(age, std::chrono::seconds{0})) +
                " ago): the application or dotnet ef is migrating this database; wait for it "
                "to finish and retry");
  }
  return Busy(kName + " was taken at " + at + ", " + Age(age) +
              " ago, and never released (a killed process leaves it forever); if no migration "
              "is running, pass --break-stale-lock");
}

bool IsStale(const EfLockState& state, TimePoint now, std::chrono::seconds stale_after) {
  return !state.since || now - *state.since >= stale_after;
}

// EF's own acquisition: INSERT OR IGNORE of row 1; taken iff it changed a row.
Result<bool> InsertOurRow(SqliteDb& db, TimePoint now) {
  AURA_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("INSERT OR IGNORE INTO \"__EFMigrationsLock\"(\"Id\", "
                                   "\"Timestamp\") VALUES(1, ?1)"));
  AURA_RETURN_IF_ERROR(st.BindAll(EfTimestamp(now)));
  AURA_ASSIGN_OR_RETURN(bool row, st.Step());
  (void)row;
  return sqlite3_changes(db.get()) == 1;
}

}  // namespace

Result<MigrationLock> MigrationLock::Acquire(const std::string& database_path) {
  std::string path = database_path + ".aura-migrate.lock";
  for (int attempt = 0; attempt < kAcquireAttempts; ++attempt) {
    std::string left;
    AURA_ASSIGN_OR_RETURN(int fd, TryLock(path, database_path, left));
    if (fd >= 0) return MigrationLock(fd, path, std::move(left));
  }
  return Busy("the migration lock file " + path +
              " keeps being replaced by other processes; wait for them and retry");
}

MigrationLock::MigrationLock(MigrationLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      left_(std::move(other.left_)) {}

Status MigrationLock::Note(const std::string& line) {
  std::string text = line + "\n";
  struct stat st {};
  if (fstat(fd_, &st) != 0) return ErrnoStatus(errno, "stat migration lock file", path_);
  ssize_t n = pwrite(fd_, text.data(), text.size(), st.st_size);
  if (n != static_cast<ssize_t>(text.size())) {
    return ErrnoStatus(n < 0 ? errno : EIO, "write migration lock file", path_);
  }
  return Status::Ok();
}

MigrationLock& MigrationLock::operator=(MigrationLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) {
      unlink(path_.c_str());
      close(fd_);
    }
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    left_ = std::move(other.left_);
  }
  return *this;
}

MigrationLock::~MigrationLock() {
  if (fd_ < 0) return;
  // Unlink while still holding the lock: a process waiting on the old file sees it unnamed and
  // opens a new one.
  unlink(path_.c_str());
  close(fd_);
}

Result<EfLockState> ReadEfLock(SqliteDb& db) {
  EfLockState state;
  AURA_ASSIGN_OR_RETURN(state.table_exists, EfLockTableExists(db));
  if (!state.table_exists) return state;
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT \"Timestamp\" FROM \"__EFMigrationsLock\" ORDER BY \"Id\" LIMIT 1"));
  AURA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return state;
  state.held = true;
  state.timestamp = st.ColumnText(0);
  auto parsed = ParseRfc3339(state.timestamp);
  if (parsed.ok()) state.since = *parsed;
  return state;
}

Result<bool> TakeEfLock(SqliteDb& db, TimePoint now, std::chrono::seconds stale_after,
                        bool break_stale) {
  // No table (EF Core 8, the Aura application): nothing to take, and no write lock taken to find
  // that out.
  AURA_ASSIGN_OR_RETURN(bool exists, EfLockTableExists(db));
  if (!exists) return false;
  Transaction tx(db);
  AURA_RETURN_IF_ERROR(tx.Begin());
  AURA_ASSIGN_OR_RETURN(bool taken, InsertOurRow(db, now));
  if (!taken) {
    AURA_ASSIGN_OR_RETURN(EfLockState state, ReadEfLock(db));
    if (state.held && (!IsStale(state, now, stale_after) || !break_stale)) {
      return EfBusy(state, now, stale_after);
    }
    AURA_RETURN_IF_ERROR(db.Exec("DELETE FROM \"__EFMigrationsLock\""));
    AURA_ASSIGN_OR_RETURN(taken, InsertOurRow(db, now));
    if (!taken) return InternalError("could not insert into __EFMigrationsLock of " + db.path());
  }
  AURA_RETURN_IF_ERROR(tx.Commit());
  return true;
}

Status ReleaseEfLock(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(bool exists, EfLockTableExists(db));
  if (!exists) return Status::Ok();
  Transaction tx(db);
  AURA_RETURN_IF_ERROR(tx.Begin());
  AURA_RETURN_IF_ERROR(db.Exec("DELETE FROM \"__EFMigrationsLock\""));
  return tx.Commit();
}

}  // namespace aura::migrations
