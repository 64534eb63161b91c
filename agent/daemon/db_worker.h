// DbWorker: everything the daemon does for one configured database.
//
//   - Continuous WAL shipping (`continuous = true`): one ReplicationUnit per target, each a
//     Replicator polled on its own strand of the step pool, uploading and compacting on its own
//     strand of the upload pool. Start failures (database missing, not in WAL mode, target
//     unreachable) are retried with backoff and reported, never fatal to the agent.
//   - Heavy jobs (policy snapshots, integrity checks, restore drills, prunes) on one strand of
//     the heavy pool: at most one at a time for this database; a job already queued or running
//     is not queued twice.
//   - Its status, health problems and metrics, kept on the io thread from what the jobs post
//     back and what the units publish.
//
// Thread-safety: public methods on the io thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/daemon/metrics.h"
#include "agent/state_store.h"
#include "scheduler/calendar.h"

namespace aura::agent {

struct Pools {
  boost::asio::io_context& io;
  boost::asio::thread_pool& step;
  boost::asio::thread_pool& upload;
  boost::asio::thread_pool& heavy;
  StateStore& state;
};

// The outcome of a job's last run.
struct JobOutcome {
  bool ok = false;
  TimePoint finished{};
  int64_t duration_ms = 0;
  std::string error;
  bool transient = false;  // failed for a reason that may pass soon (target unreachable, busy)
  nlohmann::json detail = nlohmann::json::object();
};

class RepoCache;
class ReplicationUnit;

class DbWorker : public std::enable_shared_from_this<DbWorker> {
 public:
  DbWorker(Pools pools, std::shared_ptr<const Config> config, const DatabaseConfig& db);
  ~DbWorker();

  const DatabaseConfig& db() const { return db_; }
  // Scheduled jobs of this database ("hourly", "daily", "weekly", "monthly", "check", "drill")
  // with their schedules (jitter applied).
  const std::map<std::string, scheduler::Schedule>& schedules() const { return schedules_; }

  void Start();
  // Stops polling, cuts and uploads what is spooled (one attempt), then calls `done` on the io
  // thread. Heavy jobs already running finish on their own.
  void Stop(std::function<void()> done);

  // Queues a heavy job: a policy name, "backup" (the first enabled policy, else a full manual
  // snapshot), "check", "drill" or "prune". false if the same job is already queued or running.
  // `on_done(ok)` runs on the io thread.
  bool Submit(const std::string& job, std::function<void(const JobOutcome&)> on_done = {});
  bool Busy(const std::string& job) const { return queued_.count(job) > 0; }

  // Called every second on the io thread: samples replication lag.
  void Sample(TimePoint now);

  nlohmann::json Status(
      TimePoint now,
      const std::function<std::optional<TimePoint>(const std::string&)>& next_run) const;
  // Why this database is not within its recovery point objective (empty: healthy).
  std::vector<std::string> Problems(TimePoint now) const;
  void Metrics(MetricsText& m) const;

 private:
  JobOutcome Execute(const std::string& job);  // on the heavy strand
  JobOutcome Snapshot(const std::string& policy);
  JobOutcome Prune();
  void Record(const std::string& job, const JobOutcome& out);
  int64_t RpoSeconds() const;

  Pools pools_;
  std::shared_ptr<const Config> config_;
  DatabaseConfig db_;
  std::map<std::string, scheduler::Schedule> schedules_;
  std::shared_ptr<RepoCache> repos_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> heavy_;
  std::vector<std::shared_ptr<ReplicationUnit>> units_;
  bool stopping_ = false;

  // io thread state
  std::set<std::string> queued_;
  std::map<std::string, JobOutcome> last_;    // by job
  std::map<std::string, JobRecord> records_;  // from the state store, at start
  std::optional<JobOutcome> last_snapshot_;
  std::string last_error_, last_error_op_;
  TimePoint last_error_time_{};
  std::map<std::string, uint64_t> runs_ok_, runs_failed_;
  Histogram snapshot_seconds_;
  std::map<std::string, Histogram> lag_seconds_;  // by target
  uint64_t snapshot_bytes_stored_ = 0;
  TimePoint started_{};
};

}  // namespace aura::agent
