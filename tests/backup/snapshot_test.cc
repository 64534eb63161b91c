// Snapshots and restores through the library: round trips, and every bad input leaves nothing
// partial behind and the source untouched.
#include "backup/snapshot.h"

#include <gtest/gtest.h>

#include <thread>

#include "backup/restore.h"
#include "backup/storage/fault_storage.h"
#include "backup/storage/local_storage.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "integrity/verify.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::FileSha256;
using aura::testing::TempDir;

void MakeDb(const std::string& path, bool wal, int rows) {
  ASSERT_TRUE(aura::testing::MakeTestDb(path, wal, rows).ok());
}

class SnapshotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage_ = std::make_shared<LocalStorage>(dir_ / "repo");
    ASSERT_TRUE(CreateKeyFile(dir_ / "key").ok());
    keys_.kind = KeySource::Kind::kKeyFile;
    keys_.key_file = dir_ / "key";
  }

  std::unique_ptr<Repository> Repo(std::shared_ptr<Storage> storage = nullptr) {
    auto r = Repository::OpenForWrite(storage ? storage : storage_, keys_, SystemClock::Instance());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }

  Result<SnapshotResult> Snap(const std::string& db, Repository& repo, int busy_ms = 2000) {
    SnapshotOptions o;
    o.database_name = "db";
    o.busy_timeout_ms = busy_ms;
    o.block_size = 64 * 1024;
    return TakeSnapshot(db, repo, o);
  }

  std::vector<std::string> RepoObjects() {
    std::vector<std::string> names;
    auto list = storage_->List("");
    EXPECT_TRUE(list.ok());
    for (const auto& o : *list) names.push_back(o.name);
    return names;
  }

  TempDir dir_;
  std::shared_ptr<LocalStorage> storage_;
  KeySource keys_;
};

TEST_F(SnapshotTest, RollbackJournalRoundTripIsByteIdentical) {
  MakeDb(dir_ / "src.db", false, 2000);
  auto repo = Repo();
  auto snap = Snap(dir_ / "src.db", *repo);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(snap->manifest.journal_mode, "rollback");
  auto r = RestoreSnapshot(*repo, snap->ref, dir_ / "out.db", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->integrity, "ok");
  EXPECT_EQ(FileSha256(dir_ / "out.db"), FileSha256(dir_ / "src.db"));
  EXPECT_EQ(FileSha256(dir_ / "out.db"), snap->manifest.sha256);
}

TEST_F(SnapshotTest, WalRoundTripEqualsTheCheckpointedSource) {
  MakeDb(dir_ / "src.db", true, 2000);
  ASSERT_GT(std::filesystem::file_size(dir_ / "src.db-wal"), 0u) << "test needs WAL frames";
  const std::string wal_before = FileSha256(dir_ / "src.db-wal");
  auto repo = Repo();
  auto snap = Snap(dir_ / "src.db", *repo);
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_EQ(snap->manifest.journal_mode, "wal");
  ASSERT_TRUE(snap->manifest.wal.has_value());
  EXPECT_GT(snap->manifest.wal->frame, 0u);
  EXPECT_EQ(FileSha256(dir_ / "src.db-wal"), wal_before) << "the snapshot changed the WAL";
  auto r = RestoreSnapshot(*repo, snap->ref, dir_ / "out.db", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "out.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "src.db"));
  {
    auto db = SqliteDb::Open(dir_ / "src.db", SQLITE_OPEN_READWRITE, 1000);
    ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  }
  EXPECT_EQ(FileSha256(dir_ / "out.db"), FileSha256(dir_ / "src.db"));
}

TEST_F(SnapshotTest, SnapshotLeavesTheSourceUntouched) {
  MakeDb(dir_ / "src.db", true, 500);
  std::string db_before = FileSha256(dir_ / "src.db");
  std::string wal_before = FileSha256(dir_ / "src.db-wal");
  auto repo = Repo();
  ASSERT_TRUE(Snap(dir_ / "src.db", *repo).ok());
  EXPECT_EQ(FileSha256(dir_ / "src.db"), db_before);
  EXPECT_EQ(FileSha256(dir_ / "src.db-wal"), wal_before);
}

// Regression: the snapshot used to open and close its own descriptor of the database file, which
// drops every POSIX lock the process holds on it, including another connection's SHARED lock. An
// external process closing its connection then believed it was the last one and deleted the WAL
// and shared-memory files from under the connection still reading them.
TEST_F(SnapshotTest, SnapshotKeepsOtherConnectionsLocksInTheProcess) {
  MakeDb(dir_ / "src.db", true, 500);
  auto other = SqliteDb::Open(dir_ / "src.db", SQLITE_OPEN_READWRITE, 1000);
  sqlite3_db_config(other->get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  ASSERT_TRUE(other->Exec("BEGIN").ok());
  ASSERT_TRUE(other->QueryInt("SELECT count(*) FROM t").ok());
  auto repo = Repo();
  ASSERT_TRUE(Snap(dir_ / "src.db", *repo).ok());
  auto app = aura::testing::RunProcess(
      {"/usr/bin/sqlite3", dir_ / "src.db", "INSERT INTO t(name) VALUES('after-snapshot');"});
  ASSERT_EQ(app.exit_code, 0) << app.err;
  EXPECT_TRUE(PathExists(dir_ / "src.db-wal")) << "the WAL was deleted under an open connection";
  EXPECT_TRUE(PathExists(dir_ / "src.db-shm"));
  ASSERT_TRUE(other->Exec("COMMIT").ok());
  *other = SqliteDb();
  auto check = SqliteDb::Open(dir_ / "src.db", SQLITE_OPEN_READONLY, 1000);
  EXPECT_EQ(*check->QueryInt("SELECT count(*) FROM t WHERE name = 'after-snapshot'"), 1);
}

TEST_F(SnapshotTest, MissingDatabaseIsNotFound) {
  auto repo = Repo();
  auto snap = Snap(dir_ / "nope.db", *repo);
  EXPECT_EQ(snap.status().code(), Code::kNotFound);
  EXPECT_EQ(RepoObjects(), std::vector<std::string>{kRepositoryConfigName});
}

TEST_F(SnapshotTest, NonSqliteFileIsRejected) {
  ASSERT_TRUE(
      WriteFileAtomic(dir_ / "notes.txt", "these are not the pages you are looking for").ok());
  auto repo = Repo();
  auto snap = Snap(dir_ / "notes.txt", *repo);
  EXPECT_EQ(snap.status().code(), Code::kNotADatabase);
  EXPECT_NE(snap.status().message().find("not an SQLite database"), std::string::npos);
  EXPECT_EQ(RepoObjects(), std::vector<std::string>{kRepositoryConfigName});
}

TEST_F(SnapshotTest, DatabaseLockedByAWriterTimesOutWithBusy) {
  MakeDb(dir_ / "src.db", false, 200);
  // Hash first: closing any descriptor of the file would drop this process's POSIX locks.
  std::string before = FileSha256(dir_ / "src.db");
  auto holder = SqliteDb::Open(dir_ / "src.db", SQLITE_OPEN_READWRITE, 0);
  ASSERT_TRUE(holder->Exec("BEGIN EXCLUSIVE").ok());
  ASSERT_TRUE(holder->Exec("INSERT INTO t(name) VALUES('uncommitted')").ok());
  auto repo = Repo();
  auto t0 = std::chrono::steady_clock::now();
  auto snap = Snap(dir_ / "src.db", *repo, 300);
  auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(snap.status().code(), Code::kBusy) << snap.status().ToString();
  EXPECT_NE(snap.status().message().find("locked"), std::string::npos);
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_EQ(RepoObjects(), std::vector<std::string>{kRepositoryConfigName});
  ASSERT_TRUE(holder->Exec("ROLLBACK").ok());
  EXPECT_EQ(FileSha256(dir_ / "src.db"), before);
}

TEST_F(SnapshotTest, DiskFullLeavesNoObjectAndNoTempFile) {
  MakeDb(dir_ / "src.db", true, 3000);
  auto repo = Repo();  // repository file written before the fault is armed
  auto faulty = std::make_shared<FaultStorage>(storage_);
  faulty->DiskFullAfter(50000);
  auto frepo = Repo(faulty);
  auto snap = Snap(dir_ / "src.db", *frepo);
  EXPECT_EQ(snap.status().code(), Code::kIOError);
  EXPECT_NE(snap.status().message().find("disk full"), std::string::npos);
  EXPECT_EQ(RepoObjects(), std::vector<std::string>{kRepositoryConfigName});
  EXPECT_EQ(*storage_->RemoveAbandonedWrites(std::chrono::seconds(0)), 0);
  // Once space is back, the same call succeeds.
  faulty->Clear();
  EXPECT_TRUE(Snap(dir_ / "src.db", *frepo).ok());
}

TEST_F(SnapshotTest, FailedManifestWriteLeavesNoListedSnapshot) {
  MakeDb(dir_ / "src.db", true, 300);
  Repo();
  auto faulty = std::make_shared<FaultStorage>(storage_);
  auto frepo = Repo(faulty);
  faulty->FailNth(StorageOp::kCommit, 2, IOError("injected manifest failure"));
  EXPECT_FALSE(Snap(dir_ / "src.db", *frepo).ok());
  EXPECT_TRUE(frepo->ListSnapshots("").value().empty());
  auto report = integrity::VerifyRepository(*frepo, {});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->orphans.size(), 1u) << "the data object without a manifest is an orphan";
}

TEST_F(SnapshotTest, NoEncryptionDecisionIsAKeyError) {
  KeySource unset;
  auto r = Repository::OpenForWrite(storage_, unset, SystemClock::Instance());
  EXPECT_EQ(r.status().code(), Code::kKeyError);
  EXPECT_NE(r.status().message().find("--no-encryption"), std::string::npos);
}

// Regression: a missing key file used to recurse in OpenForWrite until the stack overflowed.
TEST_F(SnapshotTest, MissingKeyFileFailsBeforeWritingAnything) {
  KeySource missing;
  missing.kind = KeySource::Kind::kKeyFile;
  missing.key_file = dir_ / "absent.key";
  auto r = Repository::OpenForWrite(storage_, missing, SystemClock::Instance());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_TRUE(RepoObjects().empty());
}

TEST_F(SnapshotTest, PlaintextIsRefusedIntoAnEncryptedRepository) {
  Repo();
  KeySource none;
  none.kind = KeySource::Kind::kNone;
  auto r = Repository::OpenForWrite(storage_, none, SystemClock::Instance());
  EXPECT_EQ(r.status().code(), Code::kKeyError);
}

TEST_F(SnapshotTest, RestoreRefusesAnExistingTargetUnlessForced) {
  MakeDb(dir_ / "src.db", true, 300);
  auto repo = Repo();
  auto snap = Snap(dir_ / "src.db", *repo);
  ASSERT_TRUE(snap.ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ / "out.db", "precious").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ / "out.db-wal", "stale wal").ok());
  auto r = RestoreSnapshot(*repo, snap->ref, dir_ / "out.db", {});
  EXPECT_EQ(r.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(*ReadFileToString(dir_ / "out.db"), "precious");
  RestoreOptions force;
  force.force = true;
  r = RestoreSnapshot(*repo, snap->ref, dir_ / "out.db", force);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(PathExists(dir_ / "out.db-wal")) << "a stale WAL would be replayed onto it";
  EXPECT_EQ(FileSha256(dir_ / "out.db"), snap->manifest.sha256);
}

TEST_F(SnapshotTest, ForcedRestoreRefusesATargetOpenInAnotherProcess) {
  MakeDb(dir_ / "src.db", true, 300);
  auto repo = Repo();
  auto snap = Snap(dir_ / "src.db", *repo);
  MakeDb(dir_ / "live.db", true, 10);
  // The "application": another process with the database open (idle, between transactions).
  // (sqlite3 buffers its output into a pipe, so it signals readiness with a marker file.)
  aura::testing::ChildProcess app({"/usr/bin/sqlite3", dir_ / "live.db", "SELECT count(*) FROM t;",
                                   ".shell touch " + (dir_ / "ready") + "; sleep 2"});
  for (int i = 0; i < 500 && !PathExists(dir_ / "ready"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(PathExists(dir_ / "ready")) << "sqlite3 did not start";
  std::string before = FileSha256(dir_ / "live.db");
  RestoreOptions force;
  force.force = true;
  auto r = RestoreSnapshot(*repo, snap->ref, dir_ / "live.db", force);
  EXPECT_EQ(r.status().code(), Code::kBusy) << r.status().ToString();
  EXPECT_EQ(FileSha256(dir_ / "live.db"), before);
}

TEST_F(SnapshotTest, RestoreFromAPlainDatabaseFile) {
  MakeDb(dir_ / "aura_backup_20251110_120000.db", true, 400);
  auto r = RestoreFromDatabaseFile(dir_ / "aura_backup_20251110_120000.db", dir_ / "out.db", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "out.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "aura_backup_20251110_120000.db"));
}

TEST_F(SnapshotTest, CorruptSnapshotIsNeverRenamedIntoPlace) {
  MakeDb(dir_ / "src.db", false, 1000);
  auto repo = Repo();
  auto snap = Snap(dir_ / "src.db", *repo);
  ASSERT_TRUE(snap.ok());
  std::string path = dir_ / ("repo/" + snap->ref.DataName());
  std::string bytes = *ReadFileToString(path);
  bytes[bytes.size() / 2] ^= 0x20;
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  auto r = RestoreSnapshot(*repo, snap->ref, dir_ / "out.db", {});
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()), {}), 3)
      << "no temp file left beside the target (src.db, key, repo only)";

  auto report = integrity::VerifyRepository(*repo, {});
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->bad.size(), 1u);
  EXPECT_EQ(report->bad[0].name, snap->ref.DataName());
}

TEST_F(SnapshotTest, AFailedCopyCheckIsNeverRenamedIntoPlace) {
  MakeDb(dir_ / "src.db", false, 1000);
  auto repo = Repo();
  auto snap = Snap(dir_ / "src.db", *repo);
  ASSERT_TRUE(snap.ok());
  RestoreOptions o;
  int64_t pages_seen = 0;
  o.copy_check = [&](const std::string& uri) -> Status {
    AURA_ASSIGN_OR_RETURN(SqliteDb db,
                          SqliteDb::Open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 0));
    AURA_ASSIGN_OR_RETURN(pages_seen, db.QueryInt("PRAGMA page_count"));
    return Corruption("assertion `SELECT 0` is false on the restored database");
  };
  auto r = RestoreSnapshot(*repo, snap->ref, dir_ / "out.db", o);
  EXPECT_EQ(r.status().code(), Code::kCorruption) << r.status().ToString();
  EXPECT_NE(r.status().message().find("SELECT 0"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(uint64_t(pages_seen), uint64_t(snap->manifest.summary.page_count))
      << "the check saw the whole copy";
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_.path()), {}), 3)
      << "no temp file left beside the target (src.db, key, repo only)";
}

}  // namespace
}  // namespace aura::backup
