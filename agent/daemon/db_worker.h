// DbWorker: everything the daemon does for one configured database.
//
//   - Continuous WAL shipping (`continuous = true`): one ReplicationUnit per target
//     (replication_unit.h).
//   - Heavy jobs (policy snapshots, integrity checks, restore drills, prunes; job.h) on one strand
//     of the heavy pool: at most one at a time for this database; a job already queued or running
//     is not queued twice.
//   - Its status, health problems and metrics (db_worker_report.cc), kept on the io thread from
//     what the jobs post back and what the units publish.
// Every timestamp comes from the context's Clock.
//
// Thread-safety: public methods on the io thread only.
#pragma once

#include <atomic>
#include <boost/asio/strand.hpp>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/config.h"
#include "agent/daemon/job.h"
#include "agent/daemon/metrics.h"
#include "agent/daemon/worker_context.h"
#include "agent/jobs.h"
#include "agent/state_store.h"
#include "scheduler/calendar.h"

namespace aura::agent {

class RepoCache;
class ReplicationUnit;

class DbWorker : public std::enable_shared_from_this<DbWorker> {
 public:
  DbWorker(WorkerContext ctx, std::shared_ptr<const Config> config, const DatabaseConfig& db);
  ~DbWorker();

  const DatabaseConfig& db() const { return db_; }
  // Scheduled jobs of this database (policies, check, drill) with their schedules (jitter
  // applied).
  const std::map<JobKind, scheduler::Schedule>& schedules() const { return schedules_; }

  void Start();
  // Stops polling, cuts and uploads what is spooled (one attempt), then calls `done` on the io
  // thread. Heavy jobs already running finish on their own.
  void Stop(std::function<void()> done);

  // Queues a heavy job. false if the same job is already queued or running, or while stopping.
  // `on_done` runs on the io thread.
  bool Submit(JobKind job, std::function<void(const JobOutcome&)> on_done = {});

  // Called every second on the io thread: samples replication lag.
  void Sample(TimePoint now);

  nlohmann::json Status(TimePoint now,
                        const std::function<std::optional<TimePoint>(JobKind)>& next_run) const;
  // Why this database is not within its recovery point objective (empty: healthy).
  std::vector<std::string> Problems(TimePoint now) const;
  void Metrics(MetricsText& m, TimePoint now) const;

 private:
  void AddSchedules();
  // On the heavy strand.
  JobOutcome Execute(JobKind job);
  JobOutcome Snapshot(JobKind job);
  JobOutcome SnapshotOnce(const std::string& policy);
  // Snapshots to `target` through its replication unit, if this database ships there.
  SnapshotTaker TakerFor(const std::string& target) const;
  JobOutcome Check(IntegrityLevel level);
  JobOutcome Verify();
  JobOutcome Drill();
  JobOutcome Prune();
  JobOutcome Migrate();  // db_worker_migrate.cc
  // On the io thread.
  // migrations.auto_apply: submits the migrate job every kMigrateCheckInterval inside the window.
  void MaybeMigrate(TimePoint now);
  bool InMigrationWindow(TimePoint now) const;
  nlohmann::json MigrationsJson() const;
  void MigrationProblems(std::vector<std::string>& out) const;
  void MigrationMetrics(MetricsText& m) const;
  void Record(JobKind job, const JobOutcome& out);
  int64_t RpoSeconds() const;
  nlohmann::json LastSnapshotJson() const;
  nlohmann::json PolicySnapshotFromState() const;
  nlohmann::json ReplicationJson(TimePoint now) const;
  nlohmann::json LastJobJson(JobKind job) const;
  void ReplicationProblems(TimePoint now, std::vector<std::string>& out) const;
  void ScheduleProblems(TimePoint now, std::vector<std::string>& out) const;
  void DrillProblems(TimePoint now, std::vector<std::string>& out) const;
  void VerifyProblems(std::vector<std::string>& out) const;
  void VerifyMetrics(MetricsText& m) const;
  void DrillMetrics(MetricsText& m) const;
  void ReplicationMetrics(MetricsText& m, TimePoint now) const;

  WorkerContext ctx_;
  std::shared_ptr<const Config> config_;
  DatabaseConfig db_;
  std::map<JobKind, scheduler::Schedule> schedules_;
  // Jobs the config asks for whose schedule could not be built, with the reason: each one is a
  // health problem (db_worker_report.cc), not just a line in the log.
  std::map<JobKind, std::string> unscheduled_;
  std::shared_ptr<RepoCache> repos_;
  boost::asio::strand<boost::asio::thread_pool::executor_type> heavy_;
  std::vector<std::shared_ptr<ReplicationUnit>> units_;
  bool stopping_ = false;
  // The last integrity check failed: snapshots are marked, the last good one is kept (jobs.h).
  std::atomic<bool> source_failing_{false};
  bool full_check_failing_ = false;   // io thread (Record)
  bool quick_check_failing_ = false;  // io thread (Record)

  // io thread state
  std::set<JobKind> queued_;
  std::map<JobKind, JobOutcome> last_;    // by job
  std::map<JobKind, JobRecord> records_;  // from the state store, at start
  std::optional<JobOutcome> last_snapshot_;
  std::string last_error_, last_error_op_;
  TimePoint last_error_time_{};
  std::map<JobKind, uint64_t> runs_ok_, runs_failed_;
  Histogram snapshot_seconds_;
  std::map<std::string, Histogram> lag_seconds_;  // by target
  uint64_t snapshot_bytes_stored_ = 0;
  TimePoint started_{};
  TimePoint last_migrate_check_{};
  // Heavy strand: the migration folder's listing (names, sizes, mtimes) at the last attempt; a
  // refused migration is not retried until a file changes.
  std::string migrate_fingerprint_;
};

}  // namespace aura::agent
