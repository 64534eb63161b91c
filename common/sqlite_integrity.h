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

// Runs the check; returns the problems found (at most max_errors), empty when sound.
Result<std::vector<std::string>> RunIntegrityCheck(SqliteDb& db, IntegrityLevel level,
                                                   int max_errors = 100);

}  // namespace aura
