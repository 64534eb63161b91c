#include "common/sqlite.h"

#include <mutex>
#include <utility>

#include "common/file_io.h"

namespace aura {

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  std::string m(what);
  m += ": ";
  m += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* file = sqlite3_db_filename(db, "main");
    if (file != nullptr && *file != '\0') {
      m += " (";
      m += file;
      m += ")";
    }
  }
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Busy(m + "; another process holds the lock, retry later or raise the busy timeout");
    case SQLITE_NOTADB:
      return NotADatabase(std::move(m));
    case SQLITE_CORRUPT:
      return Corruption(std::move(m));
    case SQLITE_FULL:
      return IOError(m + " (disk full)");
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return PermissionDenied(std::move(m));
    case SQLITE_CANTOPEN:
      return IOError(std::move(m));
    case SQLITE_IOERR:
      return IOError(std::move(m));
    case SQLITE_INTERRUPT:
      return Cancelled(std::move(m));
    default:
      return InternalError(std::move(m));
  }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    db_ = other.db_;
    stmt_ = std::exchange(other.stmt_, nullptr);
  }
  return *this;
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteStatus(db_, rc, "step");
}

Status Statement::Reset() {
  int rc = sqlite3_reset(stmt_);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "reset");
  return Status::Ok();
}

Status Statement::BindInt64(int index, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, index, v);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(db_, rc, "bind");
}

Status Statement::BindText(int index, std::string_view v) {
  int rc = sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(db_, rc, "bind");
}

Status Statement::BindBlob(int index, std::span<const uint8_t> v) {
  int rc = sqlite3_bind_blob64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(db_, rc, "bind");
}

Status Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  return rc == SQLITE_OK ? Status::Ok() : SqliteStatus(db_, rc, "bind");
}

std::string Statement::ColumnText(int i) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  if (p == nullptr) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i)));
}

std::span<const uint8_t> Statement::ColumnBlob(int i) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
  return {p, static_cast<size_t>(sqlite3_column_bytes(stmt_, i))};
}

SqliteDb::~SqliteDb() { (void)Close(); }

SqliteDb::SqliteDb(SqliteDb&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

SqliteDb& SqliteDb::operator=(SqliteDb&& other) noexcept {
  if (this != &other) {
    (void)Close();
    db_ = std::exchange(other.db_, nullptr);
    path_ = std::move(other.path_);
  }
  return *this;
}

namespace {

// Process-wide, before SQLite initializes: no up-front page cache allocation per connection
// (SQLite's default is 20 pages, ~86 KiB, for every connection, even one that reads a single
// page). Pages are still cached as they are read. A daemon following a thousand databases holds
// a few connections each; this is most of their memory. Fails harmlessly (SQLITE_MISUSE) if
// something initialized SQLite first.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, nullptr, 0, 0); });
}

}  // namespace

Result<SqliteDb> SqliteDb::Open(const std::string& path, int flags, int busy_timeout_ms) {
  ConfigureSqliteOnce();
  SqliteDb out;
  out.path_ = path;
  int rc = sqlite3_open_v2(path.c_str(), &out.db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = SqliteStatus(out.db_, rc, "open " + path);
    if ((rc & 0xff) == SQLITE_CANTOPEN) s = NotFound("cannot open database " + path);
    return s;
  }
  sqlite3_extended_result_codes(out.db_, 1);
  sqlite3_busy_timeout(out.db_, busy_timeout_ms);
  return out;
}

Result<SqliteDb> SqliteDb::OpenOrCreate(const std::string& path, int busy_timeout_ms) {
  return Open(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, busy_timeout_ms);
}

Result<SqliteDb> SqliteDb::OpenOrCreatePrivate(const std::string& path, int busy_timeout_ms) {
  // An empty file is an empty database; SQLite creates its -wal, -shm and -journal files with the
  // database file's mode, so they are owner-only too.
  auto created = File::CreateExclusive(path, 0600);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  return OpenOrCreate(path, busy_timeout_ms);
}

Status SqliteDb::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "exec");
  return Status::Ok();
}

Result<Statement> SqliteDb::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return SqliteStatus(db_, rc, "prepare");
  return Statement(db_, stmt);
}

Result<int64_t> SqliteDb::QueryInt(std::string_view sql) {
  AURA_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  AURA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return InternalError("query returned no row: " + std::string(sql));
  return st.ColumnInt64(0);
}

Result<std::string> SqliteDb::QueryText(std::string_view sql) {
  AURA_ASSIGN_OR_RETURN(Statement st, Prepare(sql));
  AURA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return InternalError("query returned no row: " + std::string(sql));
  return st.ColumnText(0);
}

Status SqliteDb::Close() {
  if (db_ == nullptr) return Status::Ok();
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    // Statements still open: close when they are finalized rather than leak the handle.
    sqlite3_close_v2(db_);
  }
  db_ = nullptr;
  return Status::Ok();
}

Status InWriteTransaction(SqliteDb& db, const std::function<Status()>& body, bool commit) {
  AURA_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = body();
  if (s.ok() && commit) s = db.Exec("COMMIT");
  if (sqlite3_get_autocommit(db.get()) == 0) {
    Status rolled = db.Exec("ROLLBACK");
    if (s.ok() && !rolled.ok()) s = rolled;
  }
  return s;
}

}  // namespace aura
