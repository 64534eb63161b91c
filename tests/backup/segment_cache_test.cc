// SegmentCache: the compaction cache's copies, and the room it leaves to the spool on their
// shared disk.
#include "backup/segment_cache.h"

#include <gtest/gtest.h>

#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

constexpr uint64_t kMiB = uint64_t{1} << 20;

// A disk of `total` bytes with `free` of them free, whatever the real one has.
DiskSpaceProbe Disk(uint64_t free, uint64_t total) {
  return [=](const std::string&) { return std::optional<DiskSpace>(DiskSpace{free, total}); };
}

SegmentRef Ref(uint64_t first, uint64_t last) { return {"db", 7, 0, first, last, 0}; }

TEST(SegmentCache, ReserveIsATenthOfTheDiskBetween64MiBAnd1GiB) {
  EXPECT_EQ(CacheReserve(100 * kMiB), 64 * kMiB);
  EXPECT_EQ(CacheReserve(2000 * kMiB), 200 * kMiB);
  EXPECT_EQ(CacheReserve(uint64_t{1} << 40), 1024 * kMiB);
}

TEST(SegmentCache, KeepsTheUploadedSpoolFileWhileTheDiskHasRoom) {
  TempDir dir;
  SegmentCache cache(dir / "cache", Disk(500 * kMiB, 1000 * kMiB));
  ASSERT_TRUE(WriteFileAtomic(dir / "spooled.seg", "segment bytes").ok());
  EXPECT_TRUE(cache.Adopt(dir / "spooled.seg", Ref(1, 5)));
  ASSERT_TRUE(cache.Find(Ref(1, 5)).has_value());
  EXPECT_EQ(*ReadFileToString(*cache.Find(Ref(1, 5))), "segment bytes");
}

// The chaos soak's spool disk (a tmpfs) filled with cached copies seconds after space returned;
// with no room left for a merge's output nothing drained them, and shipping stopped for good.
TEST(SegmentCache, CompactionCacheFilledTheSpoolDiskAndShippingStoppedForGood) {
  TempDir dir;
  // 60 MiB free of 192: under the 64 MiB reserve.
  SegmentCache cache(dir / "cache", Disk(60 * kMiB, 192 * kMiB));
  ASSERT_TRUE(WriteFileAtomic(dir / "spooled.seg", "segment bytes").ok());
  EXPECT_FALSE(cache.Adopt(dir / "spooled.seg", Ref(1, 5)));
  EXPECT_FALSE(PathExists(dir / "spooled.seg")) << "the spool's file must go, not stay";
  EXPECT_FALSE(cache.Find(Ref(1, 5)).has_value());

  auto merged = cache.Begin(Ref(1, 9));
  ASSERT_TRUE(merged.ok()) << merged.status().ToString();
  const std::string temp = merged->temp_path();
  ASSERT_TRUE(merged->file().WriteAll({reinterpret_cast<const uint8_t*>("m"), 1}).ok());
  EXPECT_FALSE(cache.Keep(std::move(*merged)));
  EXPECT_FALSE(PathExists(temp));
  EXPECT_FALSE(cache.Find(Ref(1, 9)).has_value());
}

// The cache folder does not exist before the first copy: its disk is the one it will be made on
// (reading it as "cannot tell" made the real cache keep nothing).
TEST(SegmentCache, TheDiskOfAFolderNotMadeYetIsItsParentsDisk) {
  TempDir dir;
  auto made = StatDiskSpace(dir.path());
  auto later = StatDiskSpace(dir / "cache/not/yet");
  ASSERT_TRUE(made.has_value());
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->total, made->total);
  SegmentCache cache(dir / "cache/not/yet");
  ASSERT_TRUE(WriteFileAtomic(dir / "spooled.seg", "x").ok());
  if (made->free > CacheReserve(made->total) + kMiB) {
    EXPECT_TRUE(cache.Adopt(dir / "spooled.seg", Ref(1, 1)));
  }
}

TEST(SegmentCache, ADiskWhoseSpaceCannotBeReadCachesNothing) {
  TempDir dir;
  SegmentCache cache(dir / "cache", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(WriteFileAtomic(dir / "spooled.seg", "x").ok());
  EXPECT_FALSE(cache.Adopt(dir / "spooled.seg", Ref(1, 1)));
  EXPECT_FALSE(PathExists(dir / "spooled.seg"));
}

}  // namespace
}  // namespace aura::backup
