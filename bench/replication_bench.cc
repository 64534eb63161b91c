// replication-bench: measures continuous WAL shipping as an operator would feel it, against the
// real `aura-agent replicate` process and a local-folder target.
//
//   replication-bench --agent PATH --db PATH --work DIR [--rate 1000] [--seconds 10]
//                     [--agent-arg ARG]...   (passed to `aura-agent replicate`, e.g.
//                     --upload-interval=1s)
//
// 1. Lag: the bench commits small transactions at --rate per second (one row each, WAL mode,
//    synchronous=NORMAL) and watches the target folder with inotify; a transaction's lag is the
//    time from its COMMIT returning to the segment holding it appearing in the target. Prints
//    p50, p99 and max.
// 2. Writer throughput: commits as fast as possible for --seconds without the agent, then with
//    it, then without it again once it has stopped (the database has grown by then: the ratio is
//    to the mean of the two runs alone); prints all three and the ratio.
// 3. Idle CPU: the agent's CPU time (utime + stime from /proc) over 10 s of no writes, measured
//    first, before any load.
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>
#include <vector>

#include "common/file_io.h"
#include "common/sqlite.h"
#include "tests/support/test_env.h"

using aura::SqliteDb;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string agent, db, work;
  int rate = 1000;
  double seconds = 10;
  std::vector<std::string> agent_args;
};

double Ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Commits {
  std::vector<SteadyClock::time_point> done;  // when each COMMIT returned
  std::vector<double> latency_ms;             // how long each took
  size_t size() const { return done.size(); }
};

// Commits one small row per transaction, paced at `rate` per second (0: as fast as possible).
Commits Commit(const std::string& db_path, int rate, double seconds) {
  SqliteDb db = SqliteDb::Open(db_path, SQLITE_OPEN_READWRITE, 10000).value();
  (void)db.Exec("PRAGMA synchronous=NORMAL");
  (void)db.Exec("CREATE TABLE IF NOT EXISTS BenchRows(k INTEGER PRIMARY KEY, v BLOB)");
  aura::Statement ins = db.Prepare("INSERT INTO BenchRows(v) VALUES(randomblob(100))").value();
  Commits times;
  const auto start = SteadyClock::now();
  const auto end = start + std::chrono::duration_cast<SteadyClock::duration>(
                               std::chrono::duration<double>(seconds));
  for (uint64_t i = 0;; ++i) {
    if (rate > 0) {
      auto due = start + std::chrono::microseconds(i * 1000000 / rate);
      if (due > SteadyClock::now()) std::this_thread::sleep_until(due);
    }
    auto t0 = SteadyClock::now();
    if (t0 >= end) break;
    (void)ins.Step();
    (void)ins.Reset();
    auto t1 = SteadyClock::now();
    times.done.push_back(t1);
    times.latency_ms.push_back(Ms(t1 - t0));
  }
  return times;
}

// Records when each segment (named by its txid range) appears under `dir` (level 0 folders).
class SegmentWatcher {
 public:
  explicit SegmentWatcher(const std::string& gen_dir) {
    fd_ = inotify_init1(IN_NONBLOCK);
    inotify_add_watch(fd_, gen_dir.c_str(), IN_MOVED_TO);
    thread_ = std::thread([this] { Run(); });
  }
  ~SegmentWatcher() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::map<uint64_t, SteadyClock::time_point> arrivals() {
    std::lock_guard<std::mutex> l(mu_);
    return arrivals_;
  }

 private:
  void Run() {
    alignas(struct inotify_event) char buf[64 * 1024];
    while (!stop_) {
      struct pollfd p = {fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(fd_, buf, sizeof buf);
      auto now = SteadyClock::now();
      for (char* q = buf; n > 0 && q < buf + n;) {
        auto* e = reinterpret_cast<struct inotify_event*>(q);
        std::string name = e->len ? e->name : "";
        if (name.size() == 37 && name[16] == '-') {
          std::lock_guard<std::mutex> l(mu_);
          arrivals_[std::stoull(name.substr(17, 16), nullptr, 16)] = now;
        }
        q += sizeof(struct inotify_event) + e->len;
      }
    }
  }
  int fd_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::map<uint64_t, SteadyClock::time_point> arrivals_;
};

double CpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream in(s.substr(s.rfind(')') + 2));
  std::string field;
  std::vector<std::string> v;
  while (in >> field) v.push_back(field);
  return (std::stod(v[11]) + std::stod(v[12])) / sysconf(_SC_CLK_TCK);
}

nlohmann::json Status(const std::string& path) {
  auto t = aura::ReadFileToString(path);
  return t.ok() ? nlohmann::json::parse(*t) : nlohmann::json();
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  CLI::App app{"replication-bench"};
  app.add_option("--agent", a.agent)->required();
  app.add_option("--db", a.db)->required();
  app.add_option("--work", a.work)->required();
  app.add_option("--rate", a.rate);
  app.add_option("--seconds", a.seconds);
  app.add_option("--agent-arg", a.agent_args)->allow_extra_args(false);
  CLI11_PARSE(app, argc, argv);
  const std::string key = a.work + "/bench.key", repo = a.work + "/repo",
                    status = a.work + "/status.json";
  std::filesystem::create_directories(a.work);
  std::filesystem::remove_all(repo);
  std::filesystem::remove(status);
  if (!aura::PathExists(key)) aura::testing::RunProcess({a.agent, "key", "generate", "--out", key});

  // The writer alone first: paced (commit latency) and flat out (throughput).
  auto paced_alone = Commit(a.db, a.rate, a.seconds);
  auto alone = Commit(a.db, 0, a.seconds);
  std::vector<std::string> argv_agent{a.agent,  "replicate", "--db",          a.db,
                                      "--to",   repo,        "--key-file",    key,
                                      "--name", "bench",     "--status-file", status};
  argv_agent.insert(argv_agent.end(), a.agent_args.begin(), a.agent_args.end());
  aura::testing::ChildProcess agent(argv_agent);
  for (int i = 0; Status(status).is_null(); ++i) {
    if (i > 1500) {
      std::fprintf(stderr, "replication-bench: the agent did not start: %s\n",
                   agent.Wait().err.c_str());
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Idle CPU first: the agent running, the database untouched.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  double cpu0 = CpuSeconds(agent.pid());
  std::this_thread::sleep_for(std::chrono::seconds(10));
  double idle = (CpuSeconds(agent.pid()) - cpu0) / 10.0 * 100.0;
  std::printf("agent CPU while the database is idle: %.2f%% of one core\n", idle);
  nlohmann::json st = Status(status);
  const uint64_t base = st["spooled_txid"].get<uint64_t>();
  const std::string gen_dir = repo + "/bench/wal/" + st["generation"].get<std::string>() + "/0";
  (void)aura::CreateDirectories(gen_dir, 0700);
  double lag_p50, lag_p99, lag_max;
  size_t shipped;
  {
    SegmentWatcher watcher(gen_dir);
    auto commits = Commit(a.db, a.rate, a.seconds);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    auto arrivals = watcher.arrivals();
    std::vector<double> lags;
    for (size_t k = 0; k < commits.size(); ++k) {
      auto it = arrivals.lower_bound(base + 1 + k);
      if (it != arrivals.end()) lags.push_back(Ms(it->second - commits.done[k]));
    }
    shipped = lags.size();
    lag_p50 = Percentile(lags, 0.50);
    lag_p99 = Percentile(lags, 0.99);
    lag_max = Percentile(lags, 1.0);
    std::printf(
        "lag at %d commits/s for %.0f s: %zu of %zu commits shipped; p50 %.1f ms, p99 %.1f ms, max "
        "%.1f ms\n",
        a.rate, a.seconds, shipped, commits.size(), lag_p50, lag_p99, lag_max);
    double a50 = Percentile(paced_alone.latency_ms, 0.5),
           a99 = Percentile(paced_alone.latency_ms, 0.99);
    double w50 = Percentile(commits.latency_ms, 0.5), w99 = Percentile(commits.latency_ms, 0.99);
    std::printf(
        "commit latency at %d/s: alone p50 %.3f ms p99 %.3f ms; with the agent p50 %.3f ms p99 "
        "%.3f ms (%.2fx, %.2fx)\n",
        a.rate, a50, a99, w50, w99, w50 / a50, w99 / a99);
  }
  const double cpu_before = CpuSeconds(agent.pid());
  const uint64_t shipped_before = Status(status)["spooled_txid"].get<uint64_t>();
  auto with = Commit(a.db, 0, a.seconds);
  // Until the agent has shipped what the flat-out run committed: its whole cost of them.
  const uint64_t want = shipped_before + with.size();
  for (int i = 0; i < 600 && Status(status)["uploaded_txid"].get<uint64_t>() < want; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double agent_cpu = CpuSeconds(agent.pid()) - cpu_before;
  agent.Signal(SIGTERM);
  agent.Wait();
  auto alone_after = Commit(a.db, 0, a.seconds);
  double tp_alone = (alone.size() + alone_after.size()) / 2.0 / a.seconds,
         tp_with = with.size() / a.seconds;
  std::printf(
      "writer throughput: %.0f commits/s alone (%.0f before, %.0f after), %.0f with the agent: "
      "%.3fx\n",
      tp_alone, alone.size() / a.seconds, alone_after.size() / a.seconds, tp_with,
      tp_with / tp_alone);
  std::printf("agent CPU for the flat-out run: %.2f s for %zu commits, %.1f us a commit\n",
              agent_cpu, with.size(), agent_cpu * 1e6 / static_cast<double>(with.size()));
  return 0;
}
