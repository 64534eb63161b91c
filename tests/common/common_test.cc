#include <gtest/gtest.h>

#include <thread>

#include "common/clock.h"
#include "common/file_io.h"
#include "common/hashing.h"
#include "common/ordered_pipeline.h"
#include "common/status.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::TempDir;

TEST(Status, ExitCodeNumbersAreStable) {
  // These numbers are the documented exit codes (docs/CLI.md); changing one breaks scripts.
  EXPECT_EQ(static_cast<int>(Code::kCorruption), 5);
  EXPECT_EQ(static_cast<int>(Code::kKeyError), 6);
  EXPECT_EQ(static_cast<int>(Code::kBusy), 7);
  EXPECT_EQ(static_cast<int>(Code::kAlreadyExists), 9);
  EXPECT_EQ(static_cast<int>(Code::kNotADatabase), 10);
  EXPECT_TRUE(Busy("x").IsTransient());
  EXPECT_TRUE(Unavailable("x").IsTransient());
  EXPECT_FALSE(Corruption("x").IsTransient());
  EXPECT_EQ(Corruption("bad").WithContext("obj").ToString(), "corruption: obj: bad");
}

TEST(Status, DiskFullErrnoSaysSo) {
  Status s = ErrnoStatus(ENOSPC, "write", "/x");
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("disk full"), std::string::npos);
}

TEST(Clock, Rfc3339RoundTrips) {
  auto t = ParseRfc3339("2026-11-24T20:14:05.123456Z");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-24T20:14:05.123456Z");
  EXPECT_EQ(FormatCompactUtc(*t), "20261124T201405.123Z");
  auto offset = ParseRfc3339("2026-11-24T21:14:05+01:00");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(FormatRfc3339(*offset, 0), "2026-11-24T20:14:05Z");
  EXPECT_FALSE(ParseRfc3339("yesterday").ok());
  EXPECT_FALSE(ParseRfc3339("2026-13-01T00:00:00Z").ok());
}

TEST(FileIo, TempFileIsInvisibleUntilCommitAndGoneIfAbandoned) {
  TempDir dir;
  {
    auto t = TempFile::Create(dir / "out.db");
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t->file().WriteAll(AsBytes("partial")).ok());
    EXPECT_FALSE(PathExists(dir / "out.db"));
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
  auto t = TempFile::Create(dir / "out.db");
  ASSERT_TRUE(t->file().WriteAll(AsBytes("whole")).ok());
  ASSERT_TRUE(t->Commit(true).ok());
  EXPECT_EQ(*ReadFileToString(dir / "out.db"), "whole");
}

TEST(FileIo, NoReplaceCommitKeepsTheExistingFile) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "f", "first").ok());
  EXPECT_EQ(WriteFileAtomic(dir / "f", "second", 0644, true).code(), Code::kAlreadyExists);
  EXPECT_EQ(*ReadFileToString(dir / "f"), "first");
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(Hashing, KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256::Of(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto b = Base64Decode(Base64Encode(AsBytes("hello!!")));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(std::string(b->begin(), b->end()), "hello!!");
}

TEST(OrderedPipeline, DeliversInOrderWithBoundedInFlight) {
  std::vector<int> got;
  std::atomic<int> in_flight{0}, max_in_flight{0};
  OrderedPipeline<int, int> p(
      [&](int&& x) -> Result<int> {
        int now = ++in_flight;
        max_in_flight = std::max(max_in_flight.load(), now);
        std::this_thread::sleep_for(std::chrono::microseconds((x * 7919) % 300));
        --in_flight;
        return x * 2;
      },
      [&](int&& y) {
        got.push_back(y);
        return Status::Ok();
      },
      4, 6);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(p.Submit(int(i)).ok());
  ASSERT_TRUE(p.Finish().ok());
  ASSERT_EQ(got.size(), 500u);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(got[i], i * 2);
  EXPECT_LE(max_in_flight.load(), 4);
}

TEST(OrderedPipeline, FirstErrorSticks) {
  OrderedPipeline<int, int> p(
      [](int&& x) -> Result<int> {
        if (x == 10) return Corruption("ten");
        return x;
      },
      [](int&&) { return Status::Ok(); }, 2, 4);
  Status last;
  for (int i = 0; i < 100 && last.ok(); ++i) last = p.Submit(int(i));
  Status fin = p.Finish();
  EXPECT_EQ(fin.code(), Code::kCorruption);
}

}  // namespace
}  // namespace aura
