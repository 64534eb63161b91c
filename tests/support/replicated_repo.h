// ReplicatedRepoTest: a real Aura-like database in WAL mode that a real writer changes (the
// workload of tests/tools/aura_dataset.h), a local repository behind the fault wrapper, and
// shipping by a real Replicator on a fake clock. Shared by the restore, verify and drill tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backup/compactor.h"
#include "backup/replicator.h"
#include "backup/storage/fault_storage.h"
#include "backup/storage/local_storage.h"
#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::testing {

class ReplicatedRepoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testtools::GenerateAuraDb({dir_ / "live.db", 1u << 20, 5, true}).ok());
    auto app = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READWRITE, 5000);
    ASSERT_TRUE(app.ok());
    app_ = std::make_unique<SqliteDb>(std::move(app).value());
    ASSERT_TRUE(testtools::PrepareWorkload(*app_).ok());
    backup::KeySource none;
    none.kind = backup::KeySource::Kind::kNone;
    faulty_ = std::make_shared<backup::FaultStorage>(
        std::make_shared<backup::LocalStorage>(dir_ / "repo"));
    repo_ = std::shared_ptr<backup::Repository>(
        backup::Repository::OpenForWrite(faulty_, none, SystemClock::Instance()).value().release());
  }

  // Shipping of live.db on the fake clock, a segment per commit.
  backup::ReplicatorOptions ShippingOptions() {
    backup::ReplicatorOptions o;
    o.db_path = dir_ / "live.db";
    o.database = "live";
    o.spool_dir = dir_ / "spool";
    o.segment_max_age = std::chrono::milliseconds(0);
    o.clock = &clock_;
    return o;
  }

  // Ships `commits` transactions, 30 s of fake time apart; compacts afterwards if asked.
  void Ship(int commits, bool compact) {
    backup::Replicator r(ShippingOptions(), repo_);
    ASSERT_TRUE(r.Start().ok());
    for (int i = 0; i < commits; ++i) {
      clock_.Advance(std::chrono::seconds(30));
      ASSERT_TRUE(testtools::ApplyWorkloadStep(*app_, 3, ++step_).ok());
      ASSERT_TRUE(r.Step().ok());
      ASSERT_TRUE(r.Upload().ok());
    }
    ASSERT_TRUE(r.Flush().ok());
    ASSERT_TRUE(r.Upload().ok());
    if (!compact) return;
    clock_.Advance(std::chrono::hours(2));
    backup::Compactor c(repo_, "live", dir_ / "scratch", &clock_);
    ASSERT_TRUE(c.Run().ok());
  }

  // Commits `commits` transactions through `r`, `apart` of fake time apart, one txid each,
  // recording the source's logical checksum after each in truth_.
  void ShipRecording(backup::Replicator& r, int commits, std::chrono::seconds apart) {
    for (int i = 0; i < commits; ++i) {
      clock_.Advance(apart);
      const uint64_t before = r.status().spooled_txid;
      ASSERT_TRUE(testtools::ApplyWorkloadStep(*app_, 3, ++step_).ok());
      for (int tries = 0; tries < 100 && r.status().spooled_txid == before; ++tries) {
        ASSERT_TRUE(r.Step().ok());
      }
      ASSERT_EQ(r.status().spooled_txid, before + 1) << "one commit, one transaction";
      truth_[before + 1] = Source();
      ASSERT_TRUE(r.Upload().ok());
    }
  }

  // The segments of `level`, oldest first.
  std::vector<backup::SegmentRef> Segments(int level) {
    auto all = repo_->ListSegments("live");
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::vector<backup::SegmentRef> out;
    if (!all.ok()) return out;
    for (const backup::SegmentRef& s : all.value()) {
      if (s.level == level) out.push_back(s);
    }
    return out;
  }

  void FlipByte(const std::string& object) {
    const std::string path = dir_ / ("repo/" + object);
    std::string bytes = *ReadFileToString(path);
    bytes[bytes.size() / 2] ^= 0x20;
    ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  }

  std::string Source() { return *integrity::LogicalChecksumOfFile(dir_ / "live.db"); }

  TempDir dir_;
  FakeClock clock_{SystemClock::Instance().Now()};
  std::unique_ptr<SqliteDb> app_;
  std::shared_ptr<backup::FaultStorage> faulty_;
  std::shared_ptr<backup::Repository> repo_;
  uint64_t step_ = 0;
  std::map<uint64_t, std::string> truth_;  // txid -> the source's logical checksum then
};

}  // namespace aura::testing
