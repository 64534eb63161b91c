// WalWatch for a fleet: every database shares the process's one inotify descriptor, so more
// databases than the kernel's inotify instances per user (128 by default) are all woken by their
// own writes, and only by their own.
#include "agent/daemon/wal_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_env.h"

namespace aura::agent {
namespace {

// inotify instances this process holds (anon_inode:inotify descriptors).
int InotifyInstances() {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink(e.path(), ec);
    if (!ec && target.string() == "anon_inode:inotify") ++n;
  }
  return n;
}

TEST(WalWatch, MoreDatabasesThanInotifyInstancesShareOneDescriptorAndWakeOnlyTheirOwn) {
#ifndef __linux__
  GTEST_SKIP() << "inotify is Linux only; elsewhere databases are polled";
#else
  aura::testing::TempDir dir;
  boost::asio::io_context io;
  // Callbacks are posted from the watch's own thread: without a guard run_for returns at once
  // when nothing is queued yet, and the waits below would not wait at all.
  auto guard = boost::asio::make_work_guard(io);
  constexpr int kDatabases = 300;  // beyond fs.inotify.max_user_instances' default of 128
  const int before = InotifyInstances();
  std::vector<std::unique_ptr<WalWatch> > watches;
  std::vector<std::atomic<int> > woken(kDatabases);
  for (int i = 0; i < kDatabases; ++i) {
    // Two databases per folder: one folder watch serves both, each hears only its own files.
    std::string folder = dir / ("f" + std::to_string(i / 2));
    std::filesystem::create_directories(folder);
    auto w = WalWatch::Open(io.get_executor(), folder + "/db" + std::to_string(i) + ".db");
    ASSERT_NE(w, nullptr) << "database " << i;
    w->AsyncWait([&woken, i] { ++woken[i]; });
    watches.push_back(std::move(w));
  }
  EXPECT_LE(InotifyInstances() - before, 1) << "one inotify descriptor for every database";
  // Every third database's -wal is written.
  for (int i = 0; i < kDatabases; i += 3) {
    std::ofstream(std::string(dir / ("f" + std::to_string(i / 2))) + "/db" + std::to_string(i) +
                  ".db-wal")
        << "frames";
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto all_woken = [&] {
    for (int i = 0; i < kDatabases; i += 3)
      if (woken[i] == 0) return false;
    return true;
  };
  while (!all_woken() && std::chrono::steady_clock::now() < end) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
  }
  io.run_for(std::chrono::milliseconds(200));
  for (int i = 0; i < kDatabases; ++i) {
    EXPECT_EQ(woken[i].load(), i % 3 == 0 ? 1 : 0) << "database " << i;
  }
  // A watch destroyed is never called again; the others still work.
  watches[0].reset();
  watches[3]->AsyncWait([&woken] { ++woken[3]; });
  std::ofstream(std::string(dir / "f0") + "/db0.db-wal") << "more";
  std::ofstream(std::string(dir / "f1") + "/db3.db-wal") << "more";
  for (int i = 0; i < 200 && woken[3] < 2; ++i) {
    io.run_for(std::chrono::milliseconds(20));
    io.restart();
  }
  EXPECT_EQ(woken[3].load(), 2);
  EXPECT_EQ(woken[0].load(), 1);
#endif
}

}  // namespace
}  // namespace aura::agent
