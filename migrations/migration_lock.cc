#include "migrations/migration_lock.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "common/file_io.h"

namespace aura::migrations {
namespace {

constexpr int kAcquireAttempts = 20;

// What the holder wrote ("pid N since T"), as "pid N, since T"; empty when nothing is there yet.
std::string HolderOf(const std::string& path) {
  Result<std::string> read = ReadFileToString(path, 64 << 10);
  std::string text = read.ok() ? *read : "";
  text = text.substr(0, text.find('\n'));
  while (!text.empty() && text.back() == '\r') text.pop_back();
  size_t since = text.find(" since ");
  if (since != std::string::npos) text.replace(since, 7, ", since ");
  return text;
}

Status HeldStatus(const std::string& path, const std::string& database_path) {
  std::string holder = HolderOf(path);
  return Busy("another aura-agent" + (holder.empty() ? "" : " (" + holder + ")") +
              " is migrating " + database_path + "; wait for it or stop it");
}

// One attempt: the lock, nullopt when the file was replaced under us (try again), or an error.
// `left` receives what a killed holder left in the file.
Result<std::optional<platform::FileLock>> TryLock(const std::string& path,
                                                  const std::string& database_path,
                                                  std::string& left) {
  Result<platform::FileLock> lock = platform::FileLock::TryAcquire(path);
  if (!lock.ok()) {
    if (lock.status().code() == Code::kBusy) return HeldStatus(path, database_path);
    return Status(lock.status().code(), "cannot take the migration lock of " + database_path +
                                            ": " + lock.status().message());
  }
  if (!lock->StillNamed()) return std::optional<platform::FileLock>();
  Result<std::string> read = lock->Read(1024);
  left = read.ok() ? *read : "";
  Status written = lock->Write("pid " + std::to_string(platform::ProcessId()) + " since " +
                               FormatRfc3339(std::chrono::system_clock::now(), 0) + "\n");
  if (!written.ok()) {
    lock->ReleaseAndRemove();
    return written;
  }
  return std::optional<platform::FileLock>(std::move(*lock));
}

// --- EF Core's lock table ------------------------------------------------------------------

Result<bool> EfLockTableExists(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(int64_t n,
                        db.QueryInt("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                    "name = '__EFMigrationsLock'"));
  return n > 0;
}

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
    AURA_ASSIGN_OR_RETURN(std::optional<platform::FileLock> lock,
                          TryLock(path, database_path, left));
    if (lock) return MigrationLock(std::move(*lock), std::move(left));
  }
  return Busy("the migration lock file " + path +
              " keeps being replaced by other processes; wait for them and retry");
}

Status MigrationLock::Note(const std::string& line) { return lock_.Append(line + "\n"); }

MigrationLock& MigrationLock::operator=(MigrationLock&& other) noexcept {
  if (this != &other) {
    lock_.ReleaseAndRemove();
    lock_ = std::move(other.lock_);
    left_ = std::move(other.left_);
  }
  return *this;
}

// Removed while still held: a process waiting on the old file sees it unnamed and opens a new
// one.
MigrationLock::~MigrationLock() { lock_.ReleaseAndRemove(); }

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
  AURA_RETURN_IF_ERROR(InWriteTransaction(db, [&]() -> Status {
    AURA_ASSIGN_OR_RETURN(bool taken, InsertOurRow(db, now));
    if (taken) return Status::Ok();
    AURA_ASSIGN_OR_RETURN(EfLockState state, ReadEfLock(db));
    if (state.held && (!IsStale(state, now, stale_after) || !break_stale)) {
      return EfBusy(state, now, stale_after);
    }
    AURA_RETURN_IF_ERROR(db.Exec("DELETE FROM \"__EFMigrationsLock\""));
    AURA_ASSIGN_OR_RETURN(taken, InsertOurRow(db, now));
    if (!taken) return InternalError("could not insert into __EFMigrationsLock of " + db.path());
    return Status::Ok();
  }));
  return true;
}

Status ReleaseEfLock(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(bool exists, EfLockTableExists(db));
  if (!exists) return Status::Ok();
  return InWriteTransaction(db, [&] { return db.Exec("DELETE FROM \"__EFMigrationsLock\""); });
}

}  // namespace aura::migrations
