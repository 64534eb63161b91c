// Where a restore may write: an existing database or its leftover sidecar files are refused
// (without --force) with a message that names the file in the way.
#include <gtest/gtest.h>

#include "backup/restore.h"
#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

// Regression: a target refused because only X.db-wal (or -shm) existed said "X.db already
// exists", sending the operator looking for a file that is not there.
TEST(RestoreTarget, ARefusalBecauseOfALeftoverSidecarNamesIt) {
  TempDir dir;
  for (const char* suffix : {"-wal", "-shm", "-journal"}) {
    const std::string target = dir / (std::string("t") + suffix + ".db");
    ASSERT_TRUE(WriteFileAtomic(target + suffix, "left over").ok());
    Status s = CheckRestoreTarget(target, false);
    EXPECT_EQ(s.code(), Code::kAlreadyExists) << suffix;
    EXPECT_NE(s.message().find(target + suffix + " does"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find("does not exist"), std::string::npos) << s.message();
  }
  const std::string db = dir / "present.db";
  ASSERT_TRUE(WriteFileAtomic(db, "x").ok());
  Status s = CheckRestoreTarget(db, false);
  EXPECT_NE(s.message().find(db + " already exists"), std::string::npos) << s.message();
  EXPECT_TRUE(CheckRestoreTarget(dir / "free.db", false).ok());
}

}  // namespace
}  // namespace aura::backup
