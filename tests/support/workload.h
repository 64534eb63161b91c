// The deterministic workload in end-to-end tests: the aura-test-writer child process committing
// step after step, and the replay that rebuilds the source as of any step, so a restore can be
// compared with the exact database the source was at that transaction.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura::testing {

inline constexpr uint64_t kWorkloadSeed = 11;

// The writer as a child process, with each step's commit time as seen when it reported it.
class Writer {
 public:
  using Clock = std::chrono::system_clock;

  Writer(const std::string& db, uint64_t start, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {
        AURA_WRITER_BIN,       "--db",     db, "--seed", std::to_string(kWorkloadSeed), "--start",
        std::to_string(start), "--forever"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = std::make_unique<ChildProcess>(argv);
    reader_ = std::thread([this] {
      std::string line;
      while (proc_->ReadLine(line)) {
        std::lock_guard<std::mutex> lock(mu_);
        last_ = std::stoull(line);
        times_[last_] = Clock::now();
      }
    });
  }
  ~Writer() { Stop(); }

  uint64_t last() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_;
  }
  std::map<uint64_t, Clock::time_point> times() {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }
  void WaitFor(uint64_t step) {
    for (int i = 0; i < 2000 && last() < step; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_GE(last(), step) << "the writer stopped committing";
  }
  void Stop() {
    if (!proc_) return;
    proc_->Signal(SIGTERM);
    reader_.join();
    ProcessResult r = proc_->Wait();
    EXPECT_EQ(r.exit_code, 0) << r.err;
    proc_.reset();
  }

 private:
  std::unique_ptr<ChildProcess> proc_;
  std::thread reader_;
  std::mutex mu_;
  uint64_t last_ = 0;
  std::map<uint64_t, Clock::time_point> times_;
};

// The workload step the database at `path` is at (0 before the first).
inline uint64_t WorkloadStepOf(const std::string& path) {
  auto db = SqliteDb::Open(path, SQLITE_OPEN_READONLY, 0);
  return static_cast<uint64_t>(*db->QueryInt("SELECT coalesce(max(Step), 0) FROM WorkloadTicks"));
}

// Rebuilds the source as of step k from a copy of the initial database.
class WorkloadReplay {
 public:
  WorkloadReplay(std::string initial, std::string scratch)
      : initial_(std::move(initial)), scratch_(std::move(scratch)) {}

  // Logical checksum of the source after step k.
  std::string Expected(uint64_t k) {
    if (replayed_ > k || !replay_) {
      replay_.reset();
      for (const char* sfx : {"-wal", "-shm"}) std::filesystem::remove(scratch_ + sfx);
      CopyFile(initial_, scratch_);
      replay_ =
          std::make_unique<SqliteDb>(SqliteDb::Open(scratch_, SQLITE_OPEN_READWRITE, 1000).value());
      EXPECT_TRUE(replay_->Exec("PRAGMA synchronous=OFF").ok());
      replayed_ = 0;
    }
    for (; replayed_ < k; ++replayed_) {
      Status st = testtools::ApplyWorkloadStep(*replay_, kWorkloadSeed, replayed_ + 1);
      EXPECT_TRUE(st.ok()) << st.ToString();
      if (!st.ok()) break;
    }
    return *integrity::LogicalChecksum(*replay_);
  }

 private:
  std::string initial_, scratch_;
  std::unique_ptr<SqliteDb> replay_;
  uint64_t replayed_ = 0;
};

}  // namespace aura::testing
