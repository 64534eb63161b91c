// Migration sources: a directory of SQL files named like EF Core migration ids, and scripts
// produced by `dotnet ef migrations script`.
//
//   <14 digits>_<Name>.sql        one migration's up SQL (the id is the file name without .sql)
//   <14 digits>_<Name>.down.sql   optional: the SQL that undoes it
//   anything-else.sql             a `dotnet ef migrations script` file: many migrations, each
//                                 ending with its own INSERT INTO "__EFMigrationsHistory" row,
//                                 which names it
//
// In every file the wrappers EF writes (BEGIN TRANSACTION;/COMMIT;, PRAGMA foreign_keys,
// CREATE TABLE "__EFMigrationsHistory", the history INSERT or, in a down file, DELETE) are
// recognized and removed: `up`/`down` hold only the statements the runner executes. A
// per-migration file may carry its own history row only for its own id. Statements that cannot
// run in a transaction are errors here, naming file and line, before anything runs. Files that are
// not *.sql are ignored (a README beside the migrations is fine).
//
// Checksums: `sha256` is the hex SHA-256 of the migration's source bytes: the whole file for a
// per-migration file; for a migration inside an EF script, the bytes of the file from the end of
// the previous migration's history INSERT statement (or the file's start) to the end of its own.
// The audit table records it, so a changed file is detected (drift).
//
// Thread-safety: pure functions over the file system.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "migrations/sql_text.h"

namespace aura::migrations {

struct Migration {
  std::string id;    // "20251110120000_InitialCreate"
  std::string name;  // "InitialCreate"
  std::string file;  // the file its up SQL comes from (path as found in the directory)
  int line = 1;      // line of its first statement in `file`
  std::vector<SqlStatement> up;
  std::string down_file;  // empty: no down SQL
  std::vector<SqlStatement> down;
  std::string sha256;        // of the up source, as described above
  std::string down_sha256;   // of the down file; empty without one
  bool from_script = false;  // came out of a `dotnet ef migrations script` file
};

// "<14 digits>_<Name>" where Name is [A-Za-z0-9_]+ (what EF Core generates).
bool IsMigrationId(std::string_view id);

// One per-migration file's contents. `file` names it in errors and gives the id
// (its base name without .sql / .down.sql). kRefused "FILE:LINE: ..." for a rejected statement,
// a BEGIN without COMMIT or a COMMIT without BEGIN, or a history row for another id.
Result<Migration> ParseMigrationFile(std::string_view text, const std::string& file);
// A down file's statements (wrappers and its own history DELETE removed), same errors.
Result<std::vector<SqlStatement>> ParseDownFile(std::string_view text, const std::string& file,
                                                const std::string& id);

// A `dotnet ef migrations script` file: its migrations in file order. kRefused "FILE:LINE: ..."
// as above, and for statements after the last history INSERT that would belong to no migration,
// or ids not in ascending order.
Result<std::vector<Migration>> ParseEfScript(std::string_view text, const std::string& file);

// Every migration in `dir`, sorted by id. kNotFound when `dir` does not exist; kRefused naming
// both files when two sources define one id, naming the file for a down file without its
// migration and for a *.sql file that is neither a migration file nor an EF script.
Result<std::vector<Migration>> LoadMigrations(const std::string& dir);

}  // namespace aura::migrations
