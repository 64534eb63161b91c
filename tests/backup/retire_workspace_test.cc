// RetireWorkspace: the per-repository lock and scratch folder of a key retirement.
#include "backup/retire_workspace.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;
namespace fs = std::filesystem;

mode_t ModeOf(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(RetireWorkspaceTest, ASecondOpenOfOneRepositoryIsBusyAndNamesTheHolder) {
  TempDir dir;
  auto first = RetireWorkspace::Open(dir.path(), "00aa11bb22cc33dd", "pid 42, key retire X\n");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->folder(), dir / "aura-retire-00aa11bb22cc33dd");
  EXPECT_EQ(ModeOf(first->folder()), 0700u);
  EXPECT_EQ(ModeOf(first->scratch_dir()), 0700u);
  auto second = RetireWorkspace::Open(dir.path(), "00aa11bb22cc33dd", "pid 43\n");
  ASSERT_EQ(second.status().code(), Code::kBusy);
  EXPECT_NE(second.status().message().find("pid 42, key retire X"), std::string::npos)
      << second.status().message();
  EXPECT_TRUE(RetireWorkspace::Open(dir.path(), "ffff", "other repository\n").ok());
}

TEST(RetireWorkspaceTest, ClosingRemovesTheFolderAndTheNextOpenSucceeds) {
  TempDir dir;
  {
    auto w = RetireWorkspace::Open(dir.path(), "abcd", "");
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(WriteFileAtomic(w->scratch_dir() + "/x.data", "staged").ok());
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
  EXPECT_TRUE(RetireWorkspace::Open(dir.path(), "abcd", "").ok());
}

TEST(RetireWorkspaceTest, OpeningRemovesWhatAKilledRunLeftInTheScratchFolder) {
  TempDir dir;
  const std::string stale = dir / "aura-retire-abcd/objects/db/snapshots/x.data";
  fs::create_directories(fs::path(stale).parent_path());
  ASSERT_TRUE(WriteFileAtomic(stale, "sealed with the new key").ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "aura-retire-abcd/lock", "pid 1 (killed)\n").ok());
  ::chmod((dir / "aura-retire-abcd").c_str(), 0755);
  auto w = RetireWorkspace::Open(dir.path(), "abcd", "");
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->stale_files_removed(), 1);
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::is_empty(w->scratch_dir()));
  EXPECT_EQ(ModeOf(w->folder()), 0700u) << "a folder found open is made owner-only";
}

TEST(RetireWorkspaceTest, ASymlinkInPlaceOfTheFolderIsRefused) {
  TempDir dir;
  fs::create_directories(dir / "elsewhere");
  fs::create_directory_symlink(dir / "elsewhere", dir / "aura-retire-abcd");
  auto w = RetireWorkspace::Open(dir.path(), "abcd", "");
  EXPECT_EQ(w.status().code(), Code::kPermissionDenied) << w.status().ToString();
  EXPECT_TRUE(fs::is_empty(dir / "elsewhere"));
}

TEST(RetireWorkspaceTest, ARepositoryIdThatIsNotPlainHexNamesNoPath) {
  const std::vector<std::string> ids = {
      "../../etc", "/abs", "a/b", "", "ABCD", std::string(65, 'a'), std::string("a\0b", 3),
      "\x1b[31m"};
  for (const std::string& id : ids) {
    const std::string part = RetireFolderId(id);
    EXPECT_EQ(part.size(), 17u) << id;
    EXPECT_EQ(part[0], 'h');
    EXPECT_EQ(part.find_first_not_of("0123456789abcdefh"), std::string::npos) << part;
  }
  EXPECT_NE(RetireFolderId("../a"), RetireFolderId("../b"));
  EXPECT_EQ(RetireFolderId("0123456789abcdef"), "0123456789abcdef");
}

}  // namespace
}  // namespace aura::backup
