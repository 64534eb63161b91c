#include "common/sqlite_version.h"

#include <sqlite3.h>

namespace aura {

std::string SqliteLibraryVersion() { return sqlite3_libversion(); }

bool HasWalResetBug(int v) {
  if (v < 3007000 || v > 3051002) return false;
  if (v >= 3044006 && v < 3045000) return false;  // the 3.44 backport
  if (v >= 3050007 && v < 3051000) return false;  // the 3.50 backport
  return true;
}

bool SqliteLibraryHasWalResetBug() { return HasWalResetBug(sqlite3_libversion_number()); }

std::string VersionLine(const std::string& agent_version) {
  return "aura-agent " + agent_version + " (SQLite " + SqliteLibraryVersion() +
         (SqliteLibraryHasWalResetBug()
              ? ", with the WAL-reset bug: see docs/REPLICATION.md, \"SQLite's WAL-reset bug\")"
              : ")");
}

std::string WalResetBugWarning() {
  if (!SqliteLibraryHasWalResetBug()) return "";
  return "SQLite " + SqliteLibraryVersion() +
         " has the WAL-reset bug (3.7.0 to 3.51.2; fixed in 3.51.3, 3.50.7 and 3.44.6): the "
         "agent's own checkpoints hold the write lock so they cannot meet it, but checkpoints the "
         "application runs itself still can; set PRAGMA wal_autocheckpoint=0 in the application "
         "and build the agent against a fixed SQLite (docs/REPLICATION.md, \"SQLite's WAL-reset "
         "bug\")";
}

}  // namespace aura
