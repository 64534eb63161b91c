// The lost-writes test double (tests/support/lost_writes.h) on the file-I/O seam: what a power cut
// keeps is what was fsynced, file contents and folder entries each on their own.
#include "tests/support/lost_writes.h"

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "common/file_io_seam.h"
#include "common/sqlite.h"
#include "tests/support/sqlite_vfs_seam.h"
#include "tests/support/test_env.h"

namespace aura::testing {
namespace {

std::string Read(const std::string& path) {
  auto s = ReadFileToString(path);
  return s.ok() ? *s : "<" + s.status().ToString() + ">";
}

Status Write(File& f, std::string_view text) {
  return f.WriteAll({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

class LostWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(CreateDirectories(root_, 0700).ok());
    ASSERT_TRUE(WriteFileAtomic(root_ + "/old", "durable").ok());
  }

  TempDir dir_;
  const std::string root_ = dir_ / "disk";
};

TEST_F(LostWritesTest, AWriteThatWasNotFsyncedIsGoneAfterThePowerCut) {
  LostWritesDisk disk({root_});
  {
    ScopedFileIoObserver on(&disk);
    auto synced = File::CreateExclusive(root_ + "/synced", 0600);
    ASSERT_TRUE(synced.ok());
    ASSERT_TRUE(Write(*synced, "kept").ok());
    ASSERT_TRUE(synced->Sync().ok());
    ASSERT_TRUE(Write(*synced, " and lost").ok());
    auto never = File::CreateExclusive(root_ + "/never-synced", 0600);
    ASSERT_TRUE(never.ok());
    ASSERT_TRUE(Write(*never, "lost").ok());
    ASSERT_TRUE(SyncDirectory(root_).ok());  // both names are durable, not their bytes
    auto unnamed = File::CreateExclusive(root_ + "/name-not-synced", 0600);
    ASSERT_TRUE(unnamed.ok());
    ASSERT_TRUE(Write(*unnamed, "lost").ok());
    ASSERT_TRUE(unnamed->Sync().ok());
  }
  EXPECT_EQ(Read(root_ + "/synced"), "kept and lost") << "before the cut the page cache has it";
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_EQ(Read(root_ + "/synced"), "kept");
  EXPECT_EQ(Read(root_ + "/never-synced"), "") << "a durable name, no durable bytes";
  EXPECT_FALSE(PathExists(root_ + "/name-not-synced")) << "its folder was not synced after it";
  EXPECT_EQ(Read(root_ + "/old"), "durable");
}

TEST_F(LostWritesTest, ARenameWhoseFolderWasNotSyncedIsBackUnderItsOldName) {
  LostWritesDisk disk({root_});
  {
    ScopedFileIoObserver on(&disk);
    ASSERT_TRUE(RenameReplace(root_ + "/old", root_ + "/new").ok());
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_EQ(Read(root_ + "/old"), "durable");
  EXPECT_FALSE(PathExists(root_ + "/new"));
  {
    ScopedFileIoObserver on(&disk);
    ASSERT_TRUE(RenameReplace(root_ + "/old", root_ + "/new").ok());
    ASSERT_TRUE(SyncDirectory(root_).ok());
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_FALSE(PathExists(root_ + "/old"));
  EXPECT_EQ(Read(root_ + "/new"), "durable");
}

TEST_F(LostWritesTest, ARemovalWhoseFolderWasNotSyncedIsUndone) {
  ASSERT_TRUE(CreateDirectories(root_ + "/sub", 0700).ok());
  LostWritesDisk disk({root_});
  {
    ScopedFileIoObserver on(&disk);
    ASSERT_TRUE(RemoveFile(root_ + "/old").ok());
    // A freed inode may be reused at once: the double must not mistake the new file for it.
    // (The commit syncs sub/, not the folder `old` was removed from.)
    ASSERT_TRUE(WriteFileAtomic(root_ + "/sub/other", "other bytes").ok());
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_EQ(Read(root_ + "/old"), "durable");
  EXPECT_EQ(Read(root_ + "/sub/other"), "other bytes");
  {
    ScopedFileIoObserver on(&disk);
    ASSERT_TRUE(RemoveFile(root_ + "/old").ok());
    ASSERT_TRUE(SyncDirectory(root_).ok());
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_FALSE(PathExists(root_ + "/old"));
}

TEST_F(LostWritesTest, AReplacingCommitIsDurableOnlyOnceItsFolderIsSynced) {
  LostWritesDisk disk({root_});
  disk.CutAt(2);  // TempFile::Commit: fsync the file (1), rename, fsync the folder (2)
  {
    ScopedFileIoObserver on(&disk);
    Status s = WriteFileAtomic(root_ + "/old", "replaced");
    EXPECT_EQ(s.code(), Code::kIOError);
    EXPECT_NE(s.message().find("power cut"), std::string::npos) << s.ToString();
    EXPECT_EQ(Read(root_ + "/old"), "replaced") << "the rename happened before the cut";
  }
  EXPECT_TRUE(disk.power_is_out());
  EXPECT_EQ(disk.durable_steps(), 2u);
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_EQ(Read(root_ + "/old"), "durable");
  EXPECT_EQ(ListDirectory(root_), std::vector<std::string>{"old"}) << "no temp file either";
}

TEST_F(LostWritesTest, TheCutStepAndEverythingAfterItFailAndDoNothing) {
  LostWritesDisk disk({root_});
  disk.CutAt(1);
  {
    ScopedFileIoObserver on(&disk);
    auto f = File::CreateExclusive(root_ + "/f", 0600);
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE(Write(*f, "x").ok());
    EXPECT_EQ(f->Sync().code(), Code::kIOError);
    EXPECT_EQ(disk.cut_step(), "fsync " + root_ + "/f (step 1)");
    EXPECT_EQ(Write(*f, "y").code(), Code::kIOError);
    EXPECT_EQ(RemoveFile(root_ + "/old").code(), Code::kIOError);
    EXPECT_TRUE(PathExists(root_ + "/old")) << "a failed removal removes nothing";
    EXPECT_EQ(CreateDirectories(root_ + "/sub", 0700).code(), Code::kIOError);
    EXPECT_FALSE(PathExists(root_ + "/sub"));
    EXPECT_EQ(File::CreateExclusive(root_ + "/g", 0600).status().code(), Code::kIOError);
    EXPECT_FALSE(PathExists(root_ + "/g"));
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_EQ(ListDirectory(root_), std::vector<std::string>{"old"});
  // The power is back: the same operations work again.
  {
    ScopedFileIoObserver on(&disk);
    EXPECT_TRUE(WriteFileAtomic(root_ + "/f", "x").ok());
  }
  EXPECT_EQ(disk.durable_steps(), 2u);
}

TEST_F(LostWritesTest, ANewFolderIsDurableOnlyOnceItsParentIsSynced) {
  LostWritesDisk disk({root_});
  {
    ScopedFileIoObserver on(&disk);
    ASSERT_TRUE(CreateDirectories(root_ + "/a/b", 0750).ok());
    ASSERT_TRUE(WriteFileAtomic(root_ + "/a/b/f", "data").ok());  // syncs b, not a nor root
    ASSERT_TRUE(CreateDirectories(root_ + "/c", 0750).ok());
    ASSERT_TRUE(SyncDirectory(root_).ok());
    ASSERT_TRUE(WriteFileAtomic(root_ + "/c/f", "data").ok());
  }
  ASSERT_TRUE(disk.ApplyPowerCut().ok());
  EXPECT_TRUE(PathExists(root_ + "/a")) << "the root's sync made its name durable";
  EXPECT_FALSE(PathExists(root_ + "/a/b")) << "a itself was never synced";
  EXPECT_EQ(Read(root_ + "/c/f"), "data");
  struct stat st {};
  ASSERT_EQ(::stat((root_ + "/c").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

// SQLite's files through the VFS shim (tests/support/sqlite_vfs_seam.h): a commit SQLite did not
// fsync is lost at the power cut, one it did fsync survives.
class LostWritesSqliteTest : public LostWritesTest {
 protected:
  void SetUp() override {
    LostWritesTest::SetUp();
    auto db = SqliteDb::OpenOrCreate(db_, 5000);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(v TEXT)").ok());
  }
  // Commits `v` with PRAGMA synchronous=`sync` through the shim, then the power cut.
  void CommitThenCut(const std::string& sync, const std::string& v) {
    LostWritesDisk disk({root_});
    {
      ScopedFileIoObserver on(&disk);
      ScopedSqliteVfsSeam through_the_seam;
      auto db = SqliteDb::Open(db_, SQLITE_OPEN_READWRITE, 5000);
      ASSERT_TRUE(db.ok());
      ASSERT_TRUE(db->Exec("PRAGMA synchronous=" + sync).ok());
      ASSERT_TRUE(db->Exec("INSERT INTO t VALUES('" + v + "')").ok());
    }
    ASSERT_TRUE(disk.ApplyPowerCut().ok());
  }
  int64_t Rows(const std::string& v) {
    auto db = SqliteDb::Open(db_, SQLITE_OPEN_READWRITE, 5000);
    return db.ok() ? db->QueryInt("SELECT count(*) FROM t WHERE v = '" + v + "'").value() : -1;
  }
  const std::string db_ = root_ + "/app.db";
};

TEST_F(LostWritesSqliteTest, ACommitSqliteDidNotSyncIsLost) {
  CommitThenCut("OFF", "lost");
  EXPECT_EQ(Rows("lost"), 0);
}

TEST_F(LostWritesSqliteTest, ACommitSqliteSyncedSurvives) {
  CommitThenCut("FULL", "kept");
  EXPECT_EQ(Rows("kept"), 1);
}

TEST(FileIoSeam, WithoutAnObserverNothingChanges) {
  ASSERT_EQ(file_io_seam::g_observer.load(), nullptr);
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", "x").ok());
  EXPECT_TRUE(RemoveFile(dir / "f").ok());
  EXPECT_EQ(RemoveFile(dir / "f").code(), Code::kNotFound);
}

}  // namespace
}  // namespace aura::testing
