// aura-fleet-writer: the applications of a fleet in one process. Every database given gets one
// workload step (aura_dataset.h) every --interval-ms, the databases' commits spread evenly over
// the interval, each on its own connection held open for the whole run (as each application
// holds its database open). Each database continues after the last step already in it.
//
//   aura-fleet-writer [--interval-ms M] [--seconds S] [--seed S] DB...
//
// Runs until SIGTERM/SIGINT or --seconds; prints "commits N busy N" on exit. A database busy for
// one step is retried on its next turn. Exits 1 when a database cannot be opened.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "tests/tools/aura_dataset.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

struct Member {
  std::unique_ptr<aura::SqliteDb> db;
  uint64_t seed = 0;
  uint64_t step = 1;
};

std::vector<Member> OpenAll(const std::vector<std::string>& paths, uint64_t seed) {
  std::vector<Member> fleet;
  for (size_t i = 0; i < paths.size(); ++i) {
    auto db = aura::SqliteDb::Open(paths[i], SQLITE_OPEN_READWRITE, 10000);
    aura::Status prep = db.ok() ? aura::testtools::PrepareWorkload(*db) : db.status();
    if (!prep.ok()) {
      std::fprintf(stderr, "aura-fleet-writer: error: %s: %s\n", paths[i].c_str(),
                   prep.message().c_str());
      std::exit(1);
    }
    // Continue after the steps an earlier run left (a second run on the same databases).
    auto done = db->QueryInt("SELECT coalesce(max(Step), 0) FROM WorkloadTicks");
    const uint64_t next = done.ok() ? uint64_t(*done) + 1 : 1;
    fleet.push_back({std::make_unique<aura::SqliteDb>(std::move(*db)), seed + i, next});
  }
  return fleet;
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"aura-fleet-writer: commit to many databases from one process"};
  std::vector<std::string> paths;
  int64_t interval_ms = 60000, seconds = 0;
  uint64_t seed = 1;
  app.add_option("--interval-ms", interval_ms, "Pause between two commits to one database");
  app.add_option("--seconds", seconds, "Stop after this long (default: until SIGTERM)");
  app.add_option("--seed", seed, "Workload seed of the first database (then +1 each)");
  app.add_option("db", paths, "Existing databases")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  std::vector<Member> fleet = OpenAll(paths, seed);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto gap = std::chrono::microseconds(interval_ms * 1000 / int64_t(fleet.size()));
  uint64_t commits = 0, busy = 0;
  for (uint64_t turn = 0; !g_stop; ++turn) {
    std::this_thread::sleep_until(start + gap * turn);
    if (seconds > 0 && Clock::now() - start >= std::chrono::seconds(seconds)) break;
    Member& m = fleet[turn % fleet.size()];
    aura::Status s = aura::testtools::ApplyWorkloadStep(*m.db, m.seed, m.step);
    if (s.ok()) {
      ++m.step;
      ++commits;
    } else if (s.IsTransient()) {
      ++busy;
    } else {
      std::fprintf(stderr, "aura-fleet-writer: error: %s\n", s.message().c_str());
      return 1;
    }
  }
  std::printf("commits %llu busy %llu\n", static_cast<unsigned long long>(commits),
              static_cast<unsigned long long>(busy));
  return 0;
}
