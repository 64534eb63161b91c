// Where a restore may write: an existing database or its leftover sidecar files are refused
// (without --force) with a message that names the file in the way.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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

// Regression (issue 14): `restore --force` over a database owned by nobody:nogroup, mode 0664,
// left a root:root 0640 file in its place, which the application could no longer open.
TEST(RestoreTarget, AForcedRestoreKeepsTheReplacedFilesOwnerGroupAndMode) {
  TempDir dir;
  const std::string source = dir / "source.db";
  const std::string target = dir / "app.db";
  ASSERT_TRUE(aura::testing::MakeTestDb(source, false, 40).ok());
  ASSERT_TRUE(aura::testing::MakeTestDb(target, false, 10).ok());
  const bool root = ::geteuid() == 0;
  const uid_t uid = root ? 65534 : ::geteuid();
  const gid_t gid = root ? 65534 : ::getegid();
  ASSERT_EQ(::chown(target.c_str(), uid, gid), 0);
  RestoreOptions force;
  force.force = true;
  for (mode_t mode : {0664, 0600, 0644, 0660, 0400}) {
    ASSERT_EQ(::chmod(target.c_str(), mode), 0);
    auto r = RestoreFromDatabaseFile(source, target, force);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    struct stat st;
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, mode);
    EXPECT_EQ(st.st_uid, uid);
    EXPECT_EQ(st.st_gid, gid);
  }
  EXPECT_EQ(aura::testing::FileSha256(target), aura::testing::FileSha256(source));
  // A new file is the agent's, readable by its group only.
  ASSERT_TRUE(RestoreFromDatabaseFile(source, dir / "new.db", {}).ok());
  struct stat fresh;
  ASSERT_EQ(::stat((dir / "new.db").c_str(), &fresh), 0);
  EXPECT_EQ(fresh.st_mode & 07777, 0640u);
  EXPECT_EQ(fresh.st_uid, ::geteuid());
  if (!root) GTEST_SKIP() << "the owner part needs root (chown to another uid)";
}

}  // namespace
}  // namespace aura::backup
