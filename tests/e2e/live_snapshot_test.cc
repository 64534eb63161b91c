// Snapshots of a database that a separate process keeps committing to. Each restored snapshot
// must pass integrity_check and equal the source exactly as it was after one commit: the writer
// is deterministic, so the state after commit N is rebuilt by replaying steps 1..N on a copy of
// the initial database, and the two are compared by logical checksum.
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;

constexpr uint64_t kSeed = 5;

class LiveSnapshotTest : public ::testing::TestWithParam<bool> {
 protected:
  bool wal() const { return GetParam(); }

  void SetUp() override {
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "initial.db", "8", "--seed", "3",
                                     "--journal", wal() ? "wal" : "delete"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    aura::testing::CopyFile(dir_ / "initial.db", dir_ / "live.db");
    ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "k"}).exit_code, 0);
  }

  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args);
  }

  // Rebuilds "the source after commit `step`" incrementally in replay.db.
  std::string ReplayChecksum(uint64_t step) {
    if (!replay_) {
      aura::testing::CopyFile(dir_ / "initial.db", dir_ / "replay.db");
      auto db = SqliteDb::Open(dir_ / "replay.db", SQLITE_OPEN_READWRITE, 5000);
      EXPECT_TRUE(db.ok());
      replay_ = std::make_unique<SqliteDb>(std::move(db).value());
      EXPECT_TRUE(replay_->Exec("PRAGMA synchronous=OFF").ok());
      EXPECT_TRUE(testtools::PrepareWorkload(*replay_).ok());
    }
    for (; replayed_ < step; ++replayed_) {
      Status s = testtools::ApplyWorkloadStep(*replay_, kSeed, replayed_ + 1);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return *integrity::LogicalChecksum(*replay_);
  }

  TempDir dir_;
  std::unique_ptr<SqliteDb> replay_;
  uint64_t replayed_ = 0;
};

TEST_P(LiveSnapshotTest, EachSnapshotEqualsTheSourceAtOneCommit) {
  ChildProcess writer(
      {AURA_WRITER_BIN, "--db", dir_ / "live.db", "--seed", std::to_string(kSeed), "--forever"});
  std::atomic<uint64_t> committed{0};
  std::thread reader([&] {
    std::string line;
    while (writer.ReadLine(line)) committed = std::stoull(line);
  });
  auto wait_for = [&](uint64_t n) {
    for (int i = 0; i < 3000 && committed < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_GE(committed.load(), n) << "the writer is not committing";
  };

  std::vector<uint64_t> seen_during;
  for (int i = 0; i < 4; ++i) {
    wait_for(committed + 20);
    uint64_t before = committed;
    ProcessResult b =
        Agent({"backup", "--db", dir_ / "live.db", "--to", dir_ / "repo", "--key-file", dir_ / "k",
               "--name", "live", "--busy-timeout", "10000"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    seen_during.push_back(committed - before);
  }
  writer.Signal(SIGTERM);
  reader.join();
  ProcessResult w = writer.Wait();
  EXPECT_EQ(w.exit_code, 0) << w.err;

  ProcessResult l = Agent({"list", "--from", dir_ / "repo", "--json"});
  auto snaps = nlohmann::json::parse(l.out)["snapshots"];
  ASSERT_EQ(snaps.size(), 4u);
  uint64_t previous = 0;
  for (size_t i = 0; i < snaps.size(); ++i) {
    std::string out = dir_ / ("restored" + std::to_string(i) + ".db");
    ProcessResult r = Agent({"restore", "--from", dir_ / "repo", "--snapshot", snaps[i]["snapshot"],
                             "--to", out, "--key-file", dir_ / "k"});
    ASSERT_EQ(r.exit_code, 0) << r.err;  // includes PRAGMA integrity_check
    auto db = SqliteDb::Open(out, SQLITE_OPEN_READONLY, 0);
    uint64_t step = static_cast<uint64_t>(*db->QueryInt("SELECT max(Step) FROM WorkloadTicks"));
    EXPECT_GT(step, previous) << "snapshots must move forward";
    previous = step;
    EXPECT_EQ(*integrity::LogicalChecksum(*db), ReplayChecksum(step))
        << "snapshot " << i << " is not the source as of commit " << step;
  }
  if (wal()) {
    // In WAL mode the writer is never blocked, so it commits during the snapshots.
    uint64_t total = 0;
    for (uint64_t n : seen_during) total += n;
    EXPECT_GT(total, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(JournalModes, LiveSnapshotTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "wal" : "rollback";
                         });

}  // namespace
}  // namespace aura
