// SQL text as migration files hold it: split into statements with their line numbers, tokenized,
// and classified into what the migration runner executes and what it handles itself.
//
// `dotnet ef migrations script` for SQLite wraps each migration in `BEGIN TRANSACTION;` ...
// `COMMIT;`, puts `PRAGMA foreign_keys = 0;` / `= 1;` around table rebuilds (outside any
// transaction, where SQLite honours them), creates `__EFMigrationsHistory` first and inserts each
// migration's history row itself. The runner applies everything in one transaction of its own
// with foreign keys off, and writes history rows itself, so those statements are recognized
// here and never executed from the file. Statements SQLite cannot run inside a transaction
// (VACUUM, ATTACH, ...) are rejected before anything runs.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace aura::migrations {

struct SqlStatement {
  std::string sql;  // the statement without its trailing ';' and surrounding whitespace
  int line = 0;     // 1-based line of its first token in its file
};

// Splits `text` into complete statements: sqlite3_complete() decides where one ends, so a
// `CREATE TRIGGER ... BEGIN ...; END;` is one statement and a ';' inside a string, quoted name or
// comment ends nothing. Text after the last ';' that holds only whitespace and comments is
// ignored; any other unterminated remainder is kept as a final statement. Comments inside a
// statement are kept; a statement that is only a comment is dropped.
// kInvalidArgument "FILE:LINE: unterminated string|quoted name|comment" when one never closes.
Result<std::vector<SqlStatement>> SplitStatements(std::string_view text, std::string_view file);

enum class TokenKind {
  kWord,        // keyword or bare identifier, as written
  kQuotedName,  // "name", [name] or `name`: text holds the name unquoted ("" -> ")
  kString,      // 'text': text holds the value unquoted ('' -> ')
  kNumber,
  kPunct,  // one character: ( ) , ; . = and the rest
};

struct Token {
  TokenKind kind;
  std::string text;
  // A name (bare word or quoted name) equal to `name`, case-insensitively (SQLite's rule).
  bool IsName(std::string_view name) const;
  // A bare word equal to `keyword`, case-insensitively (keywords are never quoted).
  bool IsKeyword(std::string_view keyword) const;
};

// The tokens of one statement; comments and whitespace are skipped.
std::vector<Token> Tokenize(std::string_view sql);

// Case-insensitive equality of SQL names (ASCII, as SQLite compares them).
bool SameName(std::string_view a, std::string_view b);

inline constexpr std::string_view kHistoryTable = "__EFMigrationsHistory";
inline constexpr std::string_view kEfLockTable = "__EFMigrationsLock";

enum class StatementKind {
  kRun,                // executed in the runner's transaction
  kBegin,              // BEGIN [DEFERRED|IMMEDIATE|EXCLUSIVE] [TRANSACTION]
  kCommit,             // COMMIT [TRANSACTION] or END [TRANSACTION]
  kForeignKeysPragma,  // PRAGMA foreign_keys = ... (the runner turns them off itself)
  kCreateHistory,      // CREATE TABLE [IF NOT EXISTS] "__EFMigrationsHistory" (...)
  kHistoryInsert,      // INSERT INTO "__EFMigrationsHistory" (...) VALUES ('<id>', '<version>')
  kHistoryDelete,      // DELETE FROM "__EFMigrationsHistory" WHERE "MigrationId" = '<id>'
  kEfLock,             // EF Core 9+'s CREATE TABLE / INSERT / DELETE of "__EFMigrationsLock": the
                       // runner takes that lock itself (migration_lock.h); skipped
  kRejected,           // cannot run inside a transaction, or would end it: see `reason`
};

struct Classified {
  StatementKind kind = StatementKind::kRun;
  std::string migration_id;     // kHistoryInsert, kHistoryDelete
  std::string product_version;  // kHistoryInsert
  // kRejected: what the statement is and why it cannot run, e.g. "VACUUM cannot run inside a
  // transaction; run it separately after the migration". Rejected: VACUUM; ATTACH; DETACH;
  // ROLLBACK (not ROLLBACK TO); SAVEPOINT/RELEASE are allowed; PRAGMA journal_mode, locking_mode,
  // page_size, auto_vacuum, wal_checkpoint, synchronous, temp_store, writable_schema; any other
  // statement touching "__EFMigrationsHistory" (UPDATE, DROP, an INSERT whose values are not
  // two string literals) or "__EFMigrationsLock" (other than kEfLock's).
  std::string reason;
};

Classified Classify(const SqlStatement& statement);

}  // namespace aura::migrations
