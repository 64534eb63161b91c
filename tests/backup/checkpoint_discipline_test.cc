// The agent's checkpoints and SQLite's WAL-reset bug (docs/REPLICATION.md): the bug needs a
// checkpoint running while another connection's commit resets the WAL, and a reset needs the
// write lock. So the replicator checkpoints only while it holds the write lock itself: with the
// lock held by someone else (a writer mid-transaction), it does not checkpoint at all, and it
// does once the lock is free. Read from the WAL-index (the -shm file), not from the agent.
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "backup/replicator.h"
#include "backup/storage/local_storage.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

// The WAL-index header's mxFrame (offset 16) and the checkpoint info's nBackfill (offset 96),
// both in native byte order (sqlite/src/wal.c: WalIndexHdr, WalCkptInfo).
struct WalIndex {
  uint32_t max_frame = 0;
  uint32_t backfilled = 0;
};

WalIndex ReadWalIndex(const std::string& db) {
  std::ifstream in(db + "-shm", std::ios::binary);
  char buf[128] = {};
  in.read(buf, sizeof buf);
  WalIndex w;
  std::memcpy(&w.max_frame, buf + 16, 4);
  std::memcpy(&w.backfilled, buf + 96, 4);
  return w;
}

TEST(CheckpointDiscipline, TheAgentNeverCheckpointsWhileAnotherConnectionHoldsTheWriteLock) {
  TempDir dir;
  const std::string db = dir / "live.db";
  ASSERT_TRUE(testtools::GenerateAuraDb({db, 1u << 20, 3, true}).ok());
  auto app = SqliteDb::Open(db, SQLITE_OPEN_READWRITE, 5000);
  ASSERT_TRUE(app.ok());
  ASSERT_TRUE(app->Exec("PRAGMA wal_autocheckpoint=0").ok());  // only the agent checkpoints
  ASSERT_TRUE(testtools::PrepareWorkload(*app).ok());
  KeySource none;
  none.kind = KeySource::Kind::kNone;
  std::shared_ptr<Repository> repo(
      Repository::OpenForWrite(std::make_shared<LocalStorage>(dir / "repo"), none,
                               SystemClock::Instance())
          .value()
          .release());
  ReplicatorOptions o;
  o.db_path = db;
  o.database = "live";
  o.spool_dir = dir / "spool";
  o.segment_max_age = std::chrono::milliseconds(0);
  o.checkpoint_pages = 10;
  o.restart_pages = 1u << 30;  // no restart: the plain checkpoint is what is tested
  Replicator r(o, repo);
  ASSERT_TRUE(r.Start().ok());
  for (uint64_t step = 1; step <= 20; ++step) {
    ASSERT_TRUE(testtools::ApplyWorkloadStep(*app, 9, step).ok());
  }
  const WalIndex before = ReadWalIndex(db);
  ASSERT_GT(before.max_frame, o.checkpoint_pages) << "the WAL must be past the checkpoint size";

  // A writer holds the write lock (its transaction open): the agent ships but never checkpoints.
  auto locker = SqliteDb::Open(db, SQLITE_OPEN_READWRITE, 0);
  ASSERT_TRUE(locker.ok());
  ASSERT_TRUE(locker->Exec("BEGIN IMMEDIATE").ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(r.Step().ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the attempts' spacing
  }
  EXPECT_GT(r.status().spooled_txid, 0u) << "shipping must go on while the lock is held";
  EXPECT_EQ(ReadWalIndex(db).backfilled, before.backfilled)
      << "the agent checkpointed while another connection could reset the WAL";

  // The lock is free again: the agent checkpoints within a few steps (a step cuts the segment
  // it started in the step before).
  ASSERT_TRUE(locker->Exec("ROLLBACK").ok());
  ASSERT_TRUE(testtools::ApplyWorkloadStep(*app, 9, 21).ok());
  for (int i = 0; i < 20 && ReadWalIndex(db).backfilled == before.backfilled; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(r.Step().ok());
  }
  EXPECT_GT(ReadWalIndex(db).backfilled, before.backfilled)
      << "no checkpoint once the lock was free";
}

}  // namespace
}  // namespace aura::backup
