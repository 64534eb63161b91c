// The SQLite library the agent runs with, and whether it has the WAL-reset bug
// (sqlite.org/wal.html#walresetbug: 3.7.0 to 3.51.2, fixed in 3.51.3 and in the 3.44.6 and
// 3.50.7 backports). docs/REPLICATION.md explains why the agent's own checkpoints cannot meet the
// race and what an application's own checkpoints still can.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

namespace aura {

// The version of the library linked at run time ("3.40.1"), not the headers built against.
std::string SqliteLibraryVersion();

// True for versions (SQLITE_VERSION_NUMBER form, e.g. 3040001) with the WAL-reset bug.
bool HasWalResetBug(int version_number);
bool SqliteLibraryHasWalResetBug();

// "aura-agent 1.2.3 (SQLite 3.40.1, has the WAL-reset bug: see docs/REPLICATION.md)".
std::string VersionLine(const std::string& agent_version);

// The warning logged at start when the library is affected; "" otherwise.
std::string WalResetBugWarning();

}  // namespace aura
