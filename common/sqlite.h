// RAII handles for SQLite connections and statements, and the mapping from SQLite result codes
// to Status codes (SQLITE_BUSY/LOCKED are transient kBusy; NOTADB is kNotADatabase; CORRUPT is
// kCorruption; FULL is a disk-full kIOError).
//
// Thread-safety: one SqliteDb per thread at a time (the library is built THREADSAFE=1, but the
// agent never shares a connection between threads).
#pragma once

#include <sqlite3.h>

#include <concepts>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace aura {

// Status for a failed SQLite call: "<what>: <sqlite message> (<path>)" with the mapped code.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~Statement();
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // true: a row is available; false: done.
  Result<bool> Step();
  Status Reset();
  Status BindInt64(int index, int64_t v);
  Status BindText(int index, std::string_view v);
  Status BindBlob(int index, std::span<const uint8_t> v);
  Status BindNull(int index);
  // Binds `values` to parameters 1..N in order: strings as text, integers as int64, byte spans
  // as blobs. Stops at the first failure.
  template <typename... Ts>
  Status BindAll(const Ts&... values) {
    int index = 0;
    Status s = Status::Ok();
    ((s = s.ok() ? BindOne(++index, values) : s), ...);
    return s;
  }

  int ColumnCount() const { return sqlite3_column_count(stmt_); }
  int ColumnType(int i) const { return sqlite3_column_type(stmt_, i); }
  int64_t ColumnInt64(int i) const { return sqlite3_column_int64(stmt_, i); }
  double ColumnDouble(int i) const { return sqlite3_column_double(stmt_, i); }
  std::string ColumnText(int i) const;
  std::span<const uint8_t> ColumnBlob(int i) const;
  sqlite3_stmt* get() const { return stmt_; }

 private:
  Status BindOne(int index, std::string_view v) { return BindText(index, v); }
  Status BindOne(int index, std::span<const uint8_t> v) { return BindBlob(index, v); }
  template <std::integral T>
  Status BindOne(int index, T v) {
    return BindInt64(index, static_cast<int64_t>(v));
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

class SqliteDb {
 public:
  SqliteDb() = default;
  ~SqliteDb();
  SqliteDb(SqliteDb&& other) noexcept;
  SqliteDb& operator=(SqliteDb&& other) noexcept;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Opens an existing database (never creates one: NotFound if missing) with `flags`
  // (SQLITE_OPEN_READONLY or SQLITE_OPEN_READWRITE; URI names allowed) and a busy timeout.
  static Result<SqliteDb> Open(const std::string& path, int flags, int busy_timeout_ms);
  // Opens or creates a database read-write.
  static Result<SqliteDb> OpenOrCreate(const std::string& path, int busy_timeout_ms);
  // The same for a database only the agent's account may read (the state database, scratch
  // copies of an application's database): a file this call creates is 0600, whatever the umask.
  static Result<SqliteDb> OpenOrCreatePrivate(const std::string& path, int busy_timeout_ms);

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  // Runs a query that returns one integer (e.g. "PRAGMA page_count").
  Result<int64_t> QueryInt(std::string_view sql);
  // Runs a query that returns one text value.
  Result<std::string> QueryText(std::string_view sql);

  Status Close();

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// BEGIN IMMEDIATE, `body`, then COMMIT when `body` succeeded and `commit` is set; rolled back in
// every other case (a failed body, a dry run, a failed COMMIT). The body's error wins over a
// failed rollback's.
Status InWriteTransaction(SqliteDb& db, const std::function<Status()>& body, bool commit = true);

}  // namespace aura
