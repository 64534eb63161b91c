// The jobs shared by the CLI and the daemon (agent/jobs.h), on targets wrapped in FaultStorage the
// way the fault tests wrap them.
#include "agent/jobs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "backup/snapshot.h"
#include "backup/storage/fault_storage.h"
#include "backup/storage/local_storage.h"
#include "common/file_io.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::agent {
namespace {

using aura::testing::TempDir;

// Regression: prune cast the storage to its concrete type, so a wrapped target deleted one object
// at a time and kept the temp files of crashed writes for ever.
TEST(Jobs, PruneThroughAWrappedTargetDeletesInBatchesAndRemovesAbandonedWrites) {
  TempDir dir;
  ASSERT_TRUE(testtools::GenerateAuraDb({dir / "live.db", 1u << 20, 4, true}).ok());
  auto local = std::make_shared<backup::LocalStorage>(dir / "repo");
  auto wrapped = std::make_shared<backup::FaultStorage>(local);
  auto repo = backup::Repository::OpenForWrite(wrapped, {backup::KeySource::Kind::kNone},
                                               SystemClock::Instance());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  const TargetHandle target{"t", std::shared_ptr<backup::Repository>(std::move(repo).value())};
  DatabaseConfig db;
  db.name = "live";
  db.path = dir / "live.db";
  db.keep_last = 1;
  std::string newest;
  for (int i = 0; i < 3; ++i) {
    auto snap = RunManualSnapshot(db, "manual", target, 1);
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    newest = snap->ref.id;
  }
  // A write a crash interrupted two days ago: a temp file, never listed.
  const std::string temp = dir / "repo/live/snapshots/.x.data.tmp-abc123";
  ASSERT_TRUE(WriteFileAtomic(temp, "partial").ok());
  const struct timespec two_days_ago[2] = {{::time(nullptr) - 2 * 86400, 0},
                                           {::time(nullptr) - 2 * 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, temp.c_str(), two_days_ago, 0), 0);

  auto report = RunPrune(*target.repo, db, {}, SystemClock::Instance().Now(), false);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->deleted, 4u) << "two snapshots: a manifest and a data object each";
  EXPECT_EQ(wrapped->Calls(backup::StorageOp::kDelete), 0) << "no one-by-one deletes";
  EXPECT_EQ(wrapped->Calls(backup::StorageOp::kDeleteMany), 2) << "manifests, then data";
  EXPECT_EQ(report->stale_temp_files, 1);
  EXPECT_FALSE(PathExists(temp));
  auto left = target.repo->ListSnapshots("live");
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().id, newest);
}

// Regression: with an increment's base manifest gone, the base's data counted as an orphan and a
// prune a day later deleted it, so the increment could never be restored.
TEST(Jobs, PruneKeepsTheBaseDataOfAnIncrementWhoseBaseManifestIsMissing) {
  TempDir dir;
  ASSERT_TRUE(testtools::GenerateAuraDb({dir / "live.db", 1u << 20, 4, true}).ok());
  auto repo =
      backup::Repository::OpenForWrite(std::make_shared<backup::LocalStorage>(dir / "repo"),
                                       {backup::KeySource::Kind::kNone}, SystemClock::Instance());
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  backup::PageState pages;
  backup::SnapshotOptions o;
  o.database_name = "live";
  o.pages = &pages;
  auto full = backup::TakeSnapshot(dir / "live.db", **repo, o);
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  o.base = full->ref.id;
  auto inc = backup::TakeSnapshot(dir / "live.db", **repo, o);
  ASSERT_TRUE(inc.ok()) << inc.status().ToString();
  ASSERT_TRUE((*repo)->storage().Delete(full->ref.ManifestName()).ok());
  const std::string base_data = dir / ("repo/" + full->ref.DataName());
  const struct timespec two_days_ago[2] = {{::time(nullptr) - 2 * 86400, 0},
                                           {::time(nullptr) - 2 * 86400, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, base_data.c_str(), two_days_ago, 0), 0);

  DatabaseConfig db;
  db.name = "live";
  db.path = dir / "live.db";
  auto dry = RunPrune(**repo, db, {}, SystemClock::Instance().Now(), true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_TRUE(dry->orphans.empty());
  ASSERT_EQ(dry->kept_without_manifest.size(), 1u) << "--dry-run says why it stays";
  EXPECT_EQ(dry->kept_without_manifest[0].first, full->ref.DataName());
  EXPECT_NE(dry->kept_without_manifest[0].second.find(inc->ref.id), std::string::npos);
  auto report = RunPrune(**repo, db, {}, SystemClock::Instance().Now(), false);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(PathExists(base_data)) << "a restore still needs it";
}

}  // namespace
}  // namespace aura::agent
