// The S3 storage against a real S3-compatible server (moto_server, signatures checked), with a
// fault proxy of our own in between for resets, 503 SlowDown, stalls and outages.
#include "backup/storage/s3_storage.h"

#include <gtest/gtest.h>

#include "backup/pitr_restore.h"
#include "backup/replicator.h"
#include "backup/restore.h"
#include "backup/snapshot.h"
#include "backup/storage/fault_storage.h"
#include "backup/storage/s3_client.h"
#include "integrity/logical_checksum.h"
#include "tests/backup/storage_contract.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/moto_server.h"
#include "tests/tools/aura_dataset.h"

namespace aura::backup {
namespace {

using aura::testing::FaultProxy;
using aura::testing::MotoServer;
using aura::testing::TempDir;

// One signature-checking server per test process.
MotoServer& CheckedServer() {
  static std::unique_ptr<MotoServer> server = std::make_unique<MotoServer>(true, "aura-test");
  return *server;  // stopped when the test process exits
}

#define REQUIRE_MOTO()                                                   \
  do {                                                                   \
    std::string missing = MotoServer::Missing();                         \
    ASSERT_TRUE(missing.empty()) << missing;                             \
    ASSERT_TRUE(CheckedServer().ready()) << "moto_server did not start"; \
  } while (0)

std::string UniquePrefix() {
  static int n = 0;
  return "t" + std::to_string(::getpid()) + "-" + std::to_string(++n);
}

// The same location for the same scratch directory, so a second process can open it.
std::string PrefixFor(const std::string& scratch) {
  return "c" + std::to_string(std::hash<std::string>{}(scratch) % 1000000000000u);
}

constexpr char kNoStartTimes[] =
    "moto reports every multipart upload as initiated at 2010-11-10T20:48:33Z";

constexpr char kNoUnicode[] =
    "moto's signature check rejects correct signatures for non-ASCII keys; "
    "S3Storage.AwkwardNamesRoundTripWithoutSignatureChecking covers them";

INSTANTIATE_TEST_SUITE_P(
    S3, StorageContract,
    ::testing::Values(
        StorageFactory{"moto_signed",
                       [](const std::string& scratch) -> std::shared_ptr<Storage> {
                         if (!MotoServer::Missing().empty()) return nullptr;
                         return std::make_shared<S3Storage>(
                             CheckedServer().Config(PrefixFor(scratch)));
                       },
                       kNoUnicode, kNoStartTimes},
        // The capabilities (batch delete, abandoned uploads) reach S3 through the wrapper too.
        StorageFactory{"moto_signed_behind_fault_wrapper",
                       [](const std::string& scratch) -> std::shared_ptr<Storage> {
                         if (!MotoServer::Missing().empty()) return nullptr;
                         return std::make_shared<FaultStorage>(std::make_shared<S3Storage>(
                             CheckedServer().Config(PrefixFor(scratch))));
                       },
                       kNoUnicode, kNoStartTimes}),
    StorageFactoryName);

TEST(S3Storage, WrongSecretIsASignatureMismatchNotARetryLoop) {
  REQUIRE_MOTO();
  S3Config c = CheckedServer().Config(UniquePrefix());
  c.credentials.secret_access_key = "not-the-secret";
  S3Storage s(c);
  auto t0 = std::chrono::steady_clock::now();
  Status st = PutObject(s, "x", AsBytes("data"));
  EXPECT_EQ(st.code(), Code::kPermissionDenied) << st.ToString();
  EXPECT_NE(st.message().find("signature mismatch"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("check the secret"), std::string::npos);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2)) << "no retries";
}

TEST(S3Storage, AwkwardNamesRoundTripWithoutSignatureChecking) {
  REQUIRE_MOTO();
  // moto's signature check rejects even botocore's correct signatures for keys with '+', '=',
  // ':' or non-ASCII (../shared/TESTING.md), so this runs against an unchecked server; the
  // encoding itself is proven against the AWS vectors (aws_sigv4_test.cc).
  MotoServer open(false, "aura-open");
  S3Config c = open.Config("pre fix/ü+=:");
  c.list_top_prefix_only = false;  // unchecked: the standard request
  S3Storage s(c);
  const std::string name = "host 1/caf\xc3\xa9 db+x=y:z/snapshots/a b.data";
  ASSERT_TRUE(PutObject(s, name, AsBytes("payload")).ok());
  auto got = GetObject(s, name);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, "payload");
  auto list = s.List("host 1/");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, name);
}

TEST(S3Storage, RetriesThroughResetsSlowDownAndStalls) {
  REQUIRE_MOTO();
  FaultProxy proxy(CheckedServer().port());
  S3Config c = CheckedServer().Config(UniquePrefix(), proxy.port());
  c.stall_timeout_s = 1;
  S3Storage s(c);
  std::vector<uint8_t> data(300000, 7);
  proxy.FailNext(2, FaultProxy::Mode::kReset, "PUT");
  ASSERT_TRUE(PutObject(s, "a", data).ok());
  proxy.FailNext(2, FaultProxy::Mode::kSlowDown, "GET");
  auto got = GetObject(s, "a");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->size(), data.size());
  proxy.FailNext(1, FaultProxy::Mode::kStall, "HEAD");
  EXPECT_TRUE(s.Stat("a").ok());
  EXPECT_GE(proxy.faults(), 5);
}

TEST(S3Storage, UnreachableServerIsUnavailableAfterBoundedRetries) {
  REQUIRE_MOTO();
  FaultProxy proxy(CheckedServer().port());
  proxy.SetMode(FaultProxy::Mode::kRefuse);
  S3Config c = CheckedServer().Config(UniquePrefix(), proxy.port());
  c.max_attempts = 3;
  S3Storage s(c);
  Status st = PutObject(s, "a", AsBytes("x"));
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  EXPECT_TRUE(st.IsTransient());
}

TEST(S3Storage, MultipartSnapshotWithAFailingPartRestoresExactly) {
  REQUIRE_MOTO();
  TempDir dir;
  // Incompressible 64 KiB blobs make a 200 MiB database a ~200 MiB snapshot object.
  {
    auto db = SqliteDb::OpenOrCreate(dir / "big.db", 1000);
    ASSERT_TRUE(
        db->Exec("PRAGMA journal_mode=WAL; CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB);"
                 "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
                 "WHERE i < 3200) INSERT INTO b(v) SELECT randomblob(65536) FROM n; COMMIT;")
            .ok());
  }
  FaultProxy proxy(CheckedServer().port());
  S3Config c = CheckedServer().Config(UniquePrefix(), proxy.port());
  c.part_size = 8u << 20;
  auto storage = std::make_shared<S3Storage>(c);
  ASSERT_TRUE(CreateKeyFile(dir / "k").ok());
  KeySource keys{KeySource::Kind::kKeyFile, dir / "k", "", ""};
  auto repo = Repository::OpenForWrite(storage, keys, SystemClock::Instance());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  proxy.FailNext(1, FaultProxy::Mode::kSlowDown, "partNumber=3&");
  SnapshotOptions o;
  o.database_name = "big";
  auto snap = TakeSnapshot(dir / "big.db", **repo, o);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_GT(snap->manifest.objects[0].stored_size, 180u << 20);
  EXPECT_EQ(proxy.faults(), 1) << "the failing part was retried";
  auto restored = RestoreSnapshot(**repo, snap->ref, dir / "out.db", {});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir / "out.db"),
            *integrity::LogicalChecksumOfFile(dir / "big.db"));
  EXPECT_EQ(*storage->RemoveAbandonedWrites(std::chrono::seconds(0)), 0) << "no upload left open";
}

TEST(S3Storage, AbandonedMultipartUploadLeavesNothingVisibleAndIsCleanedUp) {
  REQUIRE_MOTO();
  S3Config c = CheckedServer().Config(UniquePrefix());
  auto s = std::make_shared<S3Storage>(c);
  // What a process killed in the middle of a multipart upload leaves behind: the upload started
  // and one part sent, never completed nor aborted. Sent with a client of its own, as the killed
  // process did (a leaked writer would keep a part thread running past the storage: ASan saw it).
  {
    S3Client killed(c);
    S3Request start;
    start.method = "POST";
    start.key = c.prefix + "/db/snapshots/x.data";
    start.query = {{"uploads", ""}};
    auto started = killed.Send(start);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    const size_t at = started->body.find("<UploadId>");
    ASSERT_NE(at, std::string::npos) << started->body;
    const std::string id =
        started->body.substr(at + 10, started->body.find("</UploadId>") - at - 10);
    std::vector<uint8_t> part(6u << 20, 1);
    S3Request put;
    put.method = "PUT";
    put.key = start.key;
    put.query = {{"partNumber", "1"}, {"uploadId", id}};
    put.body = part;
    ASSERT_TRUE(killed.Send(put).ok()) << "a part is uploaded";
  }
  EXPECT_TRUE(s->List("").value().empty()) << "an unfinished upload is invisible";
  auto aborted = s->RemoveAbandonedWrites(std::chrono::seconds(0));
  ASSERT_TRUE(aborted.ok()) << aborted.status().ToString();
  EXPECT_EQ(*aborted, 1);
  EXPECT_EQ(*s->RemoveAbandonedWrites(std::chrono::seconds(0)), 0) << "and it is gone";
}

TEST(S3Storage, OutageDuringWalShippingSpoolsAndDrainsExactly) {
  REQUIRE_MOTO();
  TempDir dir;
  ASSERT_TRUE(testtools::GenerateAuraDb({dir / "live.db", 2u << 20, 5, true}).ok());
  auto app = SqliteDb::Open(dir / "live.db", SQLITE_OPEN_READWRITE, 5000);
  ASSERT_TRUE(testtools::PrepareWorkload(*app).ok());
  FaultProxy proxy(CheckedServer().port());
  S3Config c = CheckedServer().Config(UniquePrefix(), proxy.port());
  c.max_attempts = 2;
  auto storage = std::make_shared<S3Storage>(c);
  KeySource none{KeySource::Kind::kNone, "", "", ""};
  std::shared_ptr<Repository> repo(
      Repository::OpenForWrite(storage, none, SystemClock::Instance()).value().release());
  ReplicatorOptions o;
  o.db_path = dir / "live.db";
  o.database = "live";
  o.spool_dir = dir / "spool";
  o.segment_max_age = std::chrono::milliseconds(0);
  Replicator r(o, repo);
  ASSERT_TRUE(r.Start().ok());
  proxy.SetMode(FaultProxy::Mode::kRefuse);  // the server goes away
  for (uint64_t s = 1; s <= 40; ++s) {
    ASSERT_TRUE(testtools::ApplyWorkloadStep(*app, 3, s).ok());
    (void)r.Step();
    (void)r.Upload();
  }
  EXPECT_GT(r.status().spool_segments, 0u);
  EXPECT_FALSE(r.status().last_error.empty());
  proxy.SetMode(FaultProxy::Mode::kPass);  // and comes back
  ASSERT_TRUE(r.Flush().ok());
  ASSERT_TRUE(r.Upload().ok());
  EXPECT_EQ(r.status().uploaded_txid, r.status().spooled_txid);
  auto restored = RestoreToPoint(*repo, "live", {PointInTime::Kind::kLatest}, dir / "out.db", {});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir / "out.db"),
            *integrity::LogicalChecksumOfFile(dir / "live.db"));
}

}  // namespace
}  // namespace aura::backup
