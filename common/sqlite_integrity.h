// PRAGMA integrity_check / quick_check on an open database, with the result as a list of
// problems (empty when the database is sound).
//
// integrity_check reads every page and cross-checks every index (O(N log N)); quick_check skips
// the index/table agreement (O(N)). Restores use integrity_check unless told otherwise.
#pragma once

#include <string>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"

namespace aura {

enum class IntegrityLevel { kNone, kQuick, kFull };

// "full", "quick" or "none".
Result<IntegrityLevel> ParseIntegrityLevel(const std::string& text);
const char* IntegrityLevelName(IntegrityLevel level);

// Makes `db` read its file through mmap(2) (up to SQLite's limit, 2 GiB in Debian's build) instead
// of read(2) into its 2 MiB page cache. Only for a file nothing else writes or truncates while
// it is open (a restored copy opened with immutable=1): a mapped file that shrinks, or a read
// error on the disk, is a SIGBUS instead of an error. Why: integrity_check revisits index
// pages far more often than a 2 MiB cache holds them; on a 1 GiB Aura database it spent 3 s of
// its 5.7 s in read(2) system calls, and 4.2 s in all with the file mapped (docs/PERFORMANCE.md,
// issue 10). The mapped pages are the page cache's, counted in the process's RSS while mapped.
Status UseMappedReads(SqliteDb& db);

// Runs the check; returns the problems found (at most max_errors), empty when sound.
Result<std::vector<std::string>> RunIntegrityCheck(SqliteDb& db, IntegrityLevel level,
                                                   int max_errors = 100);

// PRAGMA foreign_key_check: "foreign key: table T row R has no parent in P" for each violation
// (at most `max`); empty when every reference resolves.
Result<std::vector<std::string>> ForeignKeyViolations(SqliteDb& db, size_t max = 100);

// Whether an operator's assertion (SQL whose first column of its first row is true: not NULL, 0
// or empty) holds on `db`. kInvalidArgument "assertion `SQL` failed to run: ..." when it cannot
// run.
Result<bool> AssertionHolds(SqliteDb& db, const std::string& sql);

}  // namespace aura
