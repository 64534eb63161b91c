// Whole-database copies through SQLite's online backup API (sqlite3_backup), which reads one
// consistent state and writes through the destination's pager, so it is safe beside the
// application: a copy from the live database reads inside a read transaction (WAL writers go
// on), and a copy into the live database is one write transaction that the application's
// connections see as an ordinary commit (it waits for their locks within the busy timeout, and
// WAL shipping ships it like any other transaction). Replacing the file by rename instead would
// leave the application writing to an unlinked inode.
//
// Thread-safety: the caller's connections, one thread at a time.
#pragma once

#include <string>

#include "common/sqlite.h"
#include "common/status.h"

namespace aura::migrations {

// Copies the state of `from` into a new file `path` (replaced if it exists) and, when `durable`,
// fsyncs it (a scratch copy that is thrown away is not). The new file is 0600 (it holds the
// database's content); a caller that keeps it beside the database gives it that file's mode.
Status CopyDatabaseToFile(SqliteDb& from, const std::string& path, bool durable = true);

// Replaces the content of `live` with the database file `path`, in one transaction.
Status CopyFileIntoDatabase(const std::string& path, SqliteDb& live);

// Removes `path` and its -wal, -shm and -journal files, ignoring any that do not exist.
void RemoveDatabaseFiles(const std::string& path);

// Removes the files in `dir` whose names start with `prefix` (scratch copies a killed run left:
// ".aura.db.rehearsal-<pid>", ...). Only under the migration lock, when no other run can be
// using them.
void RemoveLeftovers(const std::string& dir, const std::string& prefix);

}  // namespace aura::migrations
