// aura-test-writer: an "application" that commits the deterministic workload of aura_dataset.h
// to a database, one transaction per step, printing each step number after its COMMIT.
//
//   aura-test-writer --db PATH --seed S [--start N] [--count N | --forever] [--interval-ms M]
//                    [--busy-timeout MS] [--autocheckpoint PAGES]
//
// SIGTERM/SIGINT: finishes the current step and exits 0. Transient errors (busy) retry the same
// step, but a database busy for longer than --max-blocked-ms exits 3; anything else exits 1.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "tests/tools/aura_dataset.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aura-test-writer: commit a deterministic workload"};
  std::string db_path;
  uint64_t seed = 1, start = 1, count = 0;
  bool forever = false;
  int interval_ms = 0, busy_ms = 10000, autocheckpoint = -1, max_blocked_ms = 5000;
  app.add_option("--db", db_path, "Existing database")->required();
  app.add_option("--seed", seed, "Workload seed");
  app.add_option("--start", start, "First step (1-based)");
  app.add_option("--count", count, "Number of steps");
  app.add_flag("--forever", forever, "Run until SIGTERM");
  app.add_option("--interval-ms", interval_ms, "Pause between commits");
  app.add_option("--busy-timeout", busy_ms, "SQLite busy timeout");
  app.add_option("--autocheckpoint", autocheckpoint, "PRAGMA wal_autocheckpoint (default: leave)");
  app.add_option("--max-blocked-ms", max_blocked_ms,
                 "Exit 3 if the database stays busy longer than this (default 5000)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  auto db = aura::SqliteDb::Open(db_path, SQLITE_OPEN_READWRITE, busy_ms);
  if (!db.ok()) {
    std::fprintf(stderr, "aura-test-writer: error: %s\n", db.status().message().c_str());
    return 1;
  }
  if (autocheckpoint >= 0) {
    (void)db->Exec("PRAGMA wal_autocheckpoint=" + std::to_string(autocheckpoint));
  }
  aura::Status prep = aura::testtools::PrepareWorkload(*db);
  if (!prep.ok()) {
    std::fprintf(stderr, "aura-test-writer: error: %s\n", prep.message().c_str());
    return 1;
  }
  auto blocked_since = std::chrono::steady_clock::time_point{};
  for (uint64_t step = start; !g_stop && (forever || step < start + count);) {
    aura::Status s = aura::testtools::ApplyWorkloadStep(*db, seed, step);
    if (!s.ok()) {
      if (s.IsTransient()) {
        // An application can live with a busy database for a moment, not for seconds.
        auto now = std::chrono::steady_clock::now();
        if (blocked_since == std::chrono::steady_clock::time_point{}) blocked_since = now;
        if (now - blocked_since > std::chrono::milliseconds(max_blocked_ms)) {
          std::fprintf(stderr, "aura-test-writer: blocked for more than %d ms at step %llu: %s\n",
                       max_blocked_ms, static_cast<unsigned long long>(step), s.message().c_str());
          return 3;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      std::fprintf(stderr, "aura-test-writer: error at step %llu: %s\n",
                   static_cast<unsigned long long>(step), s.message().c_str());
      return 1;
    }
    blocked_since = std::chrono::steady_clock::time_point{};
    std::printf("%llu\n", static_cast<unsigned long long>(step));
    std::fflush(stdout);
    ++step;
    if (interval_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  return 0;
}
