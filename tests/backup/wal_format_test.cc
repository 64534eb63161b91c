// The WAL scanner against WAL files SQLite itself wrote, then damaged or extended by hand.
#include "backup/wal_format.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/sqlite.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

class WalScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "w.db", true, 400).ok());
    auto db = SqliteDb::Open(dir_ / "w.db", SQLITE_OPEN_READONLY, 0);
    pages_ = static_cast<uint32_t>(*db->QueryInt("PRAGMA page_count"));
    wal_ = *ReadFileToString(dir_ / "w.db-wal");
  }

  WalScan Scan(const std::string& bytes) {
    EXPECT_TRUE(WriteFileAtomic(dir_ / "copy-wal", bytes).ok());
    auto s = ScanWal(dir_ / "copy-wal");
    EXPECT_TRUE(s.ok());
    return *s;
  }

  TempDir dir_;
  uint32_t pages_ = 0;
  std::string wal_;
};

TEST_F(WalScanTest, FindsTheLastCommitAndTheDatabaseSize) {
  WalScan s = Scan(wal_);
  ASSERT_TRUE(s.has_header);
  EXPECT_EQ(s.db_pages, pages_);
  EXPECT_EQ(WalFrameOffset(s.header.page_size, s.last_commit_frame + 1), wal_.size())
      << "every frame SQLite wrote here is committed";
}

TEST_F(WalScanTest, BadChecksumInTheLastFrameDropsItsTransaction) {
  WalScan whole = Scan(wal_);
  std::string bad = wal_;
  size_t last = WalFrameOffset(whole.header.page_size, whole.last_commit_frame);
  bad[last + 16] ^= 0x01;  // checksum-1 of the final (commit) frame
  WalScan s = Scan(bad);
  EXPECT_LT(s.last_commit_frame, whole.last_commit_frame);
  EXPECT_GT(s.last_commit_frame, 0u);
}

TEST_F(WalScanTest, TornPageInTheLastFrameIsNeverCommitted) {
  WalScan whole = Scan(wal_);
  std::string bad = wal_;
  bad[bad.size() - 100] ^= 0x40;  // inside the last frame's page
  EXPECT_LT(Scan(bad).last_commit_frame, whole.last_commit_frame);
}

TEST_F(WalScanTest, FrameWithAnotherSaltEndsTheLog) {
  WalScan whole = Scan(wal_);
  std::string bad = wal_;
  size_t second = WalFrameOffset(whole.header.page_size, 2);
  bad[second + 8] ^= 0x01;  // salt-1 of frame 2: a frame left over from an older WAL
  WalScan s = Scan(bad);
  EXPECT_LE(s.last_commit_frame, 1u);
}

TEST_F(WalScanTest, ValidFramesWithoutACommitAreExcluded) {
  WalScan whole = Scan(wal_);
  const uint32_t ps = whole.header.page_size;
  // Append a frame with a correct running checksum but no commit mark: a transaction that is
  // still being written.
  std::string frame(kWalFrameHeaderSize + ps, '\0');
  auto* f = reinterpret_cast<uint8_t*>(frame.data());
  PutBE32(f, 1);
  PutBE32(f + 4, 0);
  PutBE32(f + 8, whole.header.salt1);
  PutBE32(f + 12, whole.header.salt2);
  WalChecksum c = WalChecksumUpdate(whole.header.big_endian_checksums, {f, 8}, whole.checksum);
  c = WalChecksumUpdate(whole.header.big_endian_checksums, {f + 24, ps}, c);
  PutBE32(f + 16, c.s0);
  PutBE32(f + 20, c.s1);
  WalScan s = Scan(wal_ + frame);
  EXPECT_EQ(s.last_commit_frame, whole.last_commit_frame);
  EXPECT_EQ(s.page_frames.at(1), whole.page_frames.at(1)) << "page 1 must come from a commit";
}

TEST_F(WalScanTest, MissingOrEmptyWalHasNoFrames) {
  auto missing = ScanWal(dir_ / "absent-wal");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_header);
  EXPECT_EQ(Scan("").last_commit_frame, 0u);
  EXPECT_EQ(Scan(wal_.substr(0, 20)).last_commit_frame, 0u);
}

}  // namespace
}  // namespace aura::backup
