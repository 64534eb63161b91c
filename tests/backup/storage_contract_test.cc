#include "tests/backup/storage_contract.h"

#include <sys/wait.h>

#include <csignal>
#include <thread>
#include <vector>

#include "backup/storage/fault_storage.h"
#include "backup/storage/local_storage.h"
#include "common/hashing.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 131 + seed + (i >> 12));
  return v;
}

std::string AsString(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

std::vector<std::string> Names(Storage& s, const std::string& prefix) {
  auto list = s.List(prefix);
  EXPECT_TRUE(list.ok()) << list.status().ToString();
  std::vector<std::string> out;
  if (list.ok()) {
    for (const auto& o : *list) out.push_back(o.name);
  }
  return out;
}

TEST_P(StorageContract, PutThenGetReturnsTheSameBytes) {
  auto data = Pattern(1000, 1);
  ASSERT_TRUE(PutObject(*storage_, "db/a.bin", data).ok());
  auto got = GetObject(*storage_, "db/a.bin");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, AsString(data));
}

TEST_P(StorageContract, StreamedMultiMegabyteObjectRoundTrips) {
  auto data = Pattern(7 << 20, 2);
  auto w = storage_->Create("db/big.bin", {});
  ASSERT_TRUE(w.ok());
  for (size_t off = 0; off < data.size(); off += 300000) {
    size_t n = std::min<size_t>(300000, data.size() - off);
    ASSERT_TRUE((*w)->Append({data.data() + off, n}).ok());
  }
  ASSERT_TRUE((*w)->Commit().ok());
  auto got = GetObject(*storage_, "db/big.bin", 64 << 20);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(Sha256::Of(*got), Sha256::Of(data));
  auto st = storage_->Stat("db/big.bin");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size, data.size());
}

TEST_P(StorageContract, EmptyObjectRoundTrips) {
  ASSERT_TRUE(PutObject(*storage_, "empty", {}).ok());
  auto got = GetObject(*storage_, "empty");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

TEST_P(StorageContract, MissingObjectIsNotFound) {
  EXPECT_EQ(storage_->Open("nope/x", 0, kToEnd).status().code(), Code::kNotFound);
  EXPECT_EQ(storage_->Stat("nope/x").status().code(), Code::kNotFound);
}

TEST_P(StorageContract, RangedReadReturnsTheSlice) {
  auto data = Pattern(100000, 3);
  ASSERT_TRUE(PutObject(*storage_, "r", data).ok());
  auto r = storage_->Open("r", 1000, 5000);
  ASSERT_TRUE(r.ok());
  std::vector<uint8_t> buf(10000);
  size_t total = 0;
  for (;;) {
    auto n = (*r)->Read(std::span<uint8_t>(buf.data() + total, buf.size() - total));
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    total += *n;
  }
  ASSERT_EQ(total, 5000u);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 5000, data.begin() + 1000));
  auto tail = storage_->Open("r", 99990, kToEnd);
  ASSERT_TRUE(tail.ok());
  auto n = (*tail)->Read(buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 10u);
}

// At or past the end, and an empty range, read nothing; an object larger than one read chunk
// (8 MiB on S3) reads back whole from an offset.
TEST_P(StorageContract, RangesAtTheEdgesAndAcrossChunks) {
  auto data = Pattern(9u << 20, 5);
  ASSERT_TRUE(PutObject(*storage_, "big", data).ok());
  for (uint64_t off : {uint64_t{9} << 20, (uint64_t{9} << 20) + 7}) {
    auto r = storage_->Open("big", off, kToEnd);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::vector<uint8_t> buf(16);
    auto n = (*r)->Read(buf);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 0u) << "offset " << off;
  }
  auto none = storage_->Open("big", 10, 0);
  ASSERT_TRUE(none.ok());
  std::vector<uint8_t> one(1);
  EXPECT_EQ(*(*none)->Read(one), 0u);
  EXPECT_EQ(storage_->Open("nope/y", 5, 0).status().code(), Code::kNotFound);
  auto r = storage_->Open("big", 12345, kToEnd);
  ASSERT_TRUE(r.ok());
  std::vector<uint8_t> got;
  std::vector<uint8_t> buf(1 << 20);
  for (;;) {
    auto n = (*r)->Read(buf);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (*n == 0) break;
    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
  }
  ASSERT_EQ(got.size(), data.size() - 12345);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin() + 12345));
  auto empty_tail = storage_->Open("empty-after", 0, kToEnd);
  EXPECT_EQ(empty_tail.status().code(), Code::kNotFound);
}

TEST_P(StorageContract, ListIsSortedAndFilteredByPrefix) {
  for (const char* n : {"b/2", "a/b/x", "a/bc", "a/b/y/z", "c"}) {
    ASSERT_TRUE(PutObject(*storage_, n, Pattern(10, 4)).ok());
  }
  EXPECT_EQ(Names(*storage_, "a/b"), (std::vector<std::string>{"a/b/x", "a/b/y/z", "a/bc"}));
  EXPECT_EQ(Names(*storage_, "a/b/"), (std::vector<std::string>{"a/b/x", "a/b/y/z"}));
  EXPECT_EQ(Names(*storage_, ""),
            (std::vector<std::string>{"a/b/x", "a/b/y/z", "a/bc", "b/2", "c"}));
  EXPECT_TRUE(Names(*storage_, "zzz").empty());
}

TEST_P(StorageContract, UncommittedWriteIsInvisibleAndLeavesNothing) {
  {
    auto w = storage_->Create("db/partial", {});
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append(Pattern(5000, 5)).ok());
    EXPECT_EQ(storage_->Stat("db/partial").status().code(), Code::kNotFound);
    EXPECT_TRUE(Names(*storage_, "").empty());
  }  // destroyed without Commit
  EXPECT_TRUE(Names(*storage_, "").empty());
  auto w = storage_->Create("db/aborted", {});
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append(Pattern(10, 6)).ok());
  (*w)->Abort();
  EXPECT_TRUE(Names(*storage_, "").empty());
}

TEST_P(StorageContract, NoOverwriteKeepsTheExistingObject) {
  ASSERT_TRUE(PutObject(*storage_, "m", Pattern(10, 7)).ok());
  WriteOptions o;
  o.no_overwrite = true;
  Status s = PutObject(*storage_, "m", Pattern(20, 8), o);
  EXPECT_EQ(s.code(), Code::kAlreadyExists) << s.ToString();
  EXPECT_EQ(*GetObject(*storage_, "m"), AsString(Pattern(10, 7)));
  EXPECT_EQ(Names(*storage_, ""), std::vector<std::string>{"m"});
}

TEST_P(StorageContract, PlainWriteReplaces) {
  ASSERT_TRUE(PutObject(*storage_, "m", Pattern(10, 7)).ok());
  ASSERT_TRUE(PutObject(*storage_, "m", Pattern(20, 8)).ok());
  EXPECT_EQ(*GetObject(*storage_, "m"), AsString(Pattern(20, 8)));
}

TEST_P(StorageContract, DeleteIsIdempotent) {
  ASSERT_TRUE(PutObject(*storage_, "d/x", Pattern(10, 9)).ok());
  EXPECT_TRUE(storage_->Delete("d/x").ok());
  EXPECT_EQ(storage_->Stat("d/x").status().code(), Code::kNotFound);
  EXPECT_TRUE(storage_->Delete("d/x").ok());
  EXPECT_TRUE(storage_->Delete("never/was").ok());
}

TEST_P(StorageContract, NamesWithSpacesAndUnicodeRoundTrip) {
  if (!GetParam().no_unicode_names.empty()) GTEST_SKIP() << GetParam().no_unicode_names;
  const std::string name = "host one/caf\xc3\xa9 db/snapshots/r\xc3\xa9sum\xc3\xa9 #1.data";
  ASSERT_TRUE(PutObject(*storage_, name, Pattern(33, 10)).ok());
  EXPECT_EQ(Names(*storage_, "host one/"), std::vector<std::string>{name});
  EXPECT_EQ(*GetObject(*storage_, name), AsString(Pattern(33, 10)));
}

TEST_P(StorageContract, InvalidNamesAreRejected) {
  for (const char* bad : {"", "/abs", "a//b", "a/../b", ".hidden", "a/.tmp", "a/", "x\ny"}) {
    EXPECT_EQ(storage_->Create(bad, {}).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST_P(StorageContract, ConcurrentWritersToDifferentNames) {
  std::vector<std::thread> threads;
  std::vector<Status> results(8);
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      results[i] = PutObject(*storage_, "c/" + std::to_string(i), Pattern(200000, uint8_t(i)));
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].ToString();
    EXPECT_EQ(*GetObject(*storage_, "c/" + std::to_string(i)),
              AsString(Pattern(200000, uint8_t(i))));
  }
}

TEST_P(StorageContract, DeleteManyRemovesExactlyTheNamedObjects) {
  for (const char* n : {"d/a.manifest", "d/a.data", "d/b.manifest", "d/b.data", "e/c"}) {
    ASSERT_TRUE(PutObject(*storage_, n, Pattern(10, 1)).ok()) << n;
  }
  Status s = storage_->DeleteMany({"d/a.manifest", "d/a.data", "never/was", "e/c"});
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Names(*storage_, ""), (std::vector<std::string>{"d/b.data", "d/b.manifest"}));
  EXPECT_TRUE(storage_->DeleteMany({}).ok());
  EXPECT_TRUE(storage_->DeleteMany({"d/a.data"}).ok()) << "repeating is safe";
}

TEST_P(StorageContract, DeleteManyRejectsAnInvalidNameBeforeDeletingAnything) {
  ASSERT_TRUE(PutObject(*storage_, "d/x", Pattern(10, 1)).ok());
  EXPECT_EQ(storage_->DeleteMany({"d/x", "a/../b"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(Names(*storage_, ""), std::vector<std::string>{"d/x"});
}

TEST_P(StorageContract, DeleteManyCoversMoreThanOneBatch) {
  // S3's DeleteObjects takes 1000 names a request: 1001 need two, and none may be missed.
  std::vector<std::string> names;
  for (int i = 0; i < 1001; ++i) names.push_back("many/" + std::to_string(10000 + i));
  for (const std::string& n : names) ASSERT_TRUE(PutObject(*storage_, n, {}).ok()) << n;
  ASSERT_TRUE(PutObject(*storage_, "kept", {}).ok());
  Status s = storage_->DeleteMany(names);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(Names(*storage_, ""), std::vector<std::string>{"kept"});
}

// What it does is only visible to a power cut (tests/backup/power_cut_test.cc); here: on every
// backend it succeeds, on any prefix (also one that names nothing), repeatedly, and changes
// nothing.
TEST_P(StorageContract, MakeDurableChangesNothingVisible) {
  for (const char* n : {"db/snapshots/a", "db/wal/1/0/b", "other/c"}) {
    ASSERT_TRUE(PutObject(*storage_, n, Pattern(10, 1)).ok()) << n;
  }
  for (const char* prefix : {"db/", "db/wal/", "", "none/"}) {
    Status s = storage_->MakeDurable(prefix);
    EXPECT_TRUE(s.ok()) << prefix << ": " << s.ToString();
  }
  EXPECT_TRUE(storage_->MakeDurable("db/").ok()) << "repeating is safe";
  EXPECT_EQ(Names(*storage_, ""),
            (std::vector<std::string>{"db/snapshots/a", "db/wal/1/0/b", "other/c"}));
}

TEST_P(StorageContract, WriteOfAKilledProcessIsInvisibleAndRemovedOnlyOnceOld) {
  ASSERT_TRUE(PutObject(*storage_, "db/committed", Pattern(10, 1)).ok());
  // A real process opens the same storage, writes more than one S3 part (so a multipart upload
  // is open) and is killed with SIGKILL: no destructor, no Abort.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::shared_ptr<Storage> s = GetParam().make(dir_.path());
    auto w = s->Create("db/snapshots/killed.data", {});
    if (!w.ok()) ::_exit(3);
    if (!(*w)->Append(Pattern(6u << 20, 2)).ok()) ::_exit(4);
    ::raise(SIGKILL);
    ::_exit(5);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the writer process failed before it was killed (status " << status << ")";
  EXPECT_EQ(Names(*storage_, ""), std::vector<std::string>{"db/committed"});

  auto elsewhere = storage_->RemoveAbandonedWrites(std::chrono::seconds(0), "other");
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status().ToString();
  EXPECT_EQ(*elsewhere, 0) << "only under the folder asked for";
  if (GetParam().no_write_start_times.empty()) {
    auto young = storage_->RemoveAbandonedWrites(std::chrono::hours(1));
    ASSERT_TRUE(young.ok()) << young.status().ToString();
    EXPECT_EQ(*young, 0) << "a write started seconds ago may still be in flight";
  }
  auto removed = storage_->RemoveAbandonedWrites(std::chrono::seconds(0), "db");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 1);
  auto again = storage_->RemoveAbandonedWrites(std::chrono::seconds(0));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(Names(*storage_, ""), std::vector<std::string>{"db/committed"});
}

INSTANTIATE_TEST_SUITE_P(
    Local, StorageContract,
    ::testing::Values(StorageFactory{"local",
                                     [](const std::string& scratch) -> std::shared_ptr<Storage> {
                                       return std::make_shared<LocalStorage>(scratch + "/repo");
                                     }},
                      StorageFactory{"fault_wrapper_without_faults",
                                     [](const std::string& scratch) -> std::shared_ptr<Storage> {
                                       return std::make_shared<FaultStorage>(
                                           std::make_shared<LocalStorage>(scratch + "/repo"));
                                     }}),
    StorageFactoryName);

// Fault wrapper behaviour beyond the contract.

TEST(FaultStorage, FailsTheNthCallOnceWhenTransient) {
  TempDir dir;
  auto fs = std::make_shared<FaultStorage>(std::make_shared<LocalStorage>(dir / "repo"));
  fs->FailNth(StorageOp::kCommit, 2, Unavailable("injected"));
  EXPECT_TRUE(PutObject(*fs, "a", Pattern(10, 1)).ok());
  EXPECT_EQ(PutObject(*fs, "b", Pattern(10, 1)).code(), Code::kUnavailable);
  EXPECT_TRUE(PutObject(*fs, "c", Pattern(10, 1)).ok());
  EXPECT_EQ(Names(*fs, ""), (std::vector<std::string>{"a", "c"}));
}

TEST(FaultStorage, FaultsReachTheOptionalCapabilities) {
  TempDir dir;
  auto fs = std::make_shared<FaultStorage>(std::make_shared<LocalStorage>(dir / "repo"));
  ASSERT_TRUE(PutObject(*fs, "a", Pattern(10, 1)).ok());
  fs->FailNth(StorageOp::kDeleteMany, 1, Unavailable("injected"));
  fs->FailNth(StorageOp::kRemoveAbandoned, 1, IOError("injected"));
  EXPECT_EQ(fs->DeleteMany({"a"}).code(), Code::kUnavailable);
  EXPECT_EQ(fs->RemoveAbandonedWrites(std::chrono::seconds(0)).status().code(), Code::kIOError);
  EXPECT_EQ(Names(*fs, ""), std::vector<std::string>{"a"}) << "a failed batch deletes nothing";
  EXPECT_TRUE(fs->DeleteMany({"a"}).ok());
  EXPECT_TRUE(Names(*fs, "").empty());
  EXPECT_EQ(fs->Calls(StorageOp::kDeleteMany), 2);
  EXPECT_EQ(fs->Calls(StorageOp::kRemoveAbandoned), 1);
}

TEST(FaultStorage, PersistentFaultKeepsFailing) {
  TempDir dir;
  auto fs = std::make_shared<FaultStorage>(std::make_shared<LocalStorage>(dir / "repo"));
  fs->FailNth(StorageOp::kList, 1, IOError("injected"), /*persistent=*/true);
  EXPECT_FALSE(fs->List("").ok());
  EXPECT_FALSE(fs->List("").ok());
  fs->Clear();
  EXPECT_TRUE(fs->List("").ok());
}

TEST(FaultStorage, DiskFullFailsTheWriteAndLeavesNothingVisible) {
  TempDir dir;
  auto local = std::make_shared<LocalStorage>(dir / "repo");
  auto fs = std::make_shared<FaultStorage>(local);
  fs->DiskFullAfter(1000);
  Status s = PutObject(*fs, "x/full", Pattern(5000, 1));
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s.message();
  EXPECT_TRUE(Names(*local, "").empty());
  // And no temp file is left behind either.
  auto removed = local->RemoveAbandonedWrites(std::chrono::seconds(0));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0);
}

TEST(LocalStorage, StaleTempFilesFromACrashAreRemoved) {
  TempDir dir;
  LocalStorage local(dir / "repo");
  ASSERT_TRUE(CreateDirectories(dir / "repo/db", 0750).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "repo/db/.x.data.tmp-abc123", "partial").ok());
  EXPECT_TRUE(Names(local, "").empty());
  auto removed = local.RemoveAbandonedWrites(std::chrono::seconds(0));
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(PathExists(dir / "repo/db/.x.data.tmp-abc123"));
}

}  // namespace
}  // namespace aura::backup
