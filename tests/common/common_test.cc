#include <gtest/gtest.h>

#include <thread>

#include "common/clock.h"
#include "common/file_io.h"
#include "common/hashing.h"
#include "common/ordered_pipeline.h"
#include "common/secure_wipe.h"
#include "common/sqlite.h"
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

// A fuzzed manifest's "created" in year 8084 overflowed the nanosecond clock (UBSan: signed
// integer overflow in FromUnixMicros); S3 listings' LastModified went the same way.
TEST(Clock, Rfc3339TimeBeyondTheClocksRangeOverflowedIt) {
  for (const char* t : {"8084-12-04T10:00:00.000Z", "1013-12-04T10:00:00Z", "2262-04-12T00:00:00Z",
                        "1969-12-31T23:59:59Z", "-999-01-01T00:00:00Z"}) {
    auto parsed = ParseRfc3339(t);
    ASSERT_FALSE(parsed.ok()) << t;
    EXPECT_NE(parsed.status().message().find("1970 to 2261"), std::string::npos) << t;
  }
  EXPECT_TRUE(ParseRfc3339("2261-12-31T23:59:59Z").ok());
  EXPECT_TRUE(ParseRfc3339("1970-01-01T00:00:00Z").ok());
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

TEST(Sqlite, BindAllBindsTextIntegersAndBlobsInOrder) {
  aura::testing::TempDir dir;
  auto db = SqliteDb::OpenOrCreate(dir / "t.db", 1000);
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(db->Exec("CREATE TABLE t(a TEXT, b INTEGER, c BLOB, d TEXT)").ok());
  auto ins = db->Prepare("INSERT INTO t VALUES(?, ?, ?, ?)");
  ASSERT_TRUE(ins.ok());
  const uint8_t bytes[] = {0, 1, 2, 255};
  const uint64_t big = uint64_t{1} << 40;
  ASSERT_TRUE(ins->BindAll(std::string("x"), big, std::span<const uint8_t>(bytes), "lit").ok());
  ASSERT_TRUE(ins->Step().ok());
  auto q = db->Prepare("SELECT a, b, c, d FROM t");
  ASSERT_TRUE(q.ok());
  ASSERT_TRUE(*q->Step());
  EXPECT_EQ(q->ColumnText(0), "x");
  EXPECT_EQ(q->ColumnInt64(1), int64_t{1} << 40);
  auto blob = q->ColumnBlob(2);
  EXPECT_EQ(std::vector<uint8_t>(blob.begin(), blob.end()), std::vector<uint8_t>({0, 1, 2, 255}));
  EXPECT_EQ(q->ColumnText(3), "lit");
  auto bad = db->Prepare("SELECT ?");
  ASSERT_TRUE(bad.ok());
  EXPECT_FALSE(bad->BindAll(1, 2).ok()) << "a parameter that does not exist is an error";
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

namespace aura {
namespace {

// A wiped string's whole buffer is zeroed in place (its capacity, not only its size: a shrunk
// passphrase leaves its tail there), and the string is left empty.
TEST(SecureWipe, AStringIsZeroedOverItsWholeCapacityInPlace) {
  std::string s(300, 's');
  s.resize(40);
  const size_t capacity = s.capacity();
  ASSERT_GE(capacity, 300U);
  const char* buffer = s.data();
  SecureWipe(s);
  EXPECT_TRUE(s.empty());
  ASSERT_EQ(s.data(), buffer) << "wiped in place, not in a new buffer";
  for (size_t i = 0; i < capacity; ++i) ASSERT_EQ(buffer[i], '\0') << "byte " << i;
}

TEST(SecureWipe, AnArrayAndAVectorAreZeroed) {
  std::array<uint8_t, 32> a{};
  a.fill(0x5A);
  std::vector<uint32_t> v(16, 0xDEADBEEF);
  {
    WipeOnExit wa(a);
    WipeOnExit wv(v);
  }
  for (uint8_t b : a) EXPECT_EQ(b, 0);
  for (uint32_t w : v) EXPECT_EQ(w, 0U);
}

}  // namespace
}  // namespace aura
