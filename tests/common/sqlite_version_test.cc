// The SQLite versions with the WAL-reset bug (sqlite.org/wal.html#walresetbug): 3.7.0 to 3.51.2,
// except the fixed backports 3.44.6+ and 3.50.7+; and the version line that reports it.
#include "common/sqlite_version.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

namespace aura {
namespace {

TEST(SqliteVersion, TheWalResetBugRangeAndItsBackports) {
  EXPECT_FALSE(HasWalResetBug(3006023));  // before WAL mode
  EXPECT_TRUE(HasWalResetBug(3007000));
  EXPECT_TRUE(HasWalResetBug(3040001));  // Debian 12
  EXPECT_TRUE(HasWalResetBug(3044005));
  EXPECT_FALSE(HasWalResetBug(3044006));  // backport
  EXPECT_TRUE(HasWalResetBug(3045000));
  EXPECT_TRUE(HasWalResetBug(3050006));
  EXPECT_FALSE(HasWalResetBug(3050007));  // backport
  EXPECT_TRUE(HasWalResetBug(3051002));
  EXPECT_FALSE(HasWalResetBug(3051003));  // the fix
  EXPECT_FALSE(HasWalResetBug(3052000));
}

TEST(SqliteVersion, TheVersionLineNamesTheLibraryAndTheBug) {
  const std::string line = VersionLine("9.9.9");
  EXPECT_EQ(line.rfind("aura-agent 9.9.9 (SQLite " + std::string(sqlite3_libversion()), 0), 0u)
      << line;
  const bool affected = HasWalResetBug(sqlite3_libversion_number());
  EXPECT_EQ(line.find("WAL-reset bug") != std::string::npos, affected) << line;
  EXPECT_EQ(WalResetBugWarning().empty(), !affected);
}

}  // namespace
}  // namespace aura
