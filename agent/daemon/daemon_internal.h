// The daemon's main object (not part of the library's interface; agent/ sees daemon.h only).
//
// Threads and ownership:
//   - one io_context, run by the main thread: signals, the scheduler's timer, the status server,
//     the 1 s sampler; all of the daemon's bookkeeping lives on this thread;
//   - a step pool (`workers` threads): WAL polling for continuous databases, one strand per
//     (database, target), timers on the strand;
//   - an upload pool (`max_concurrent_uploads` threads): segment uploads and compaction, one
//     strand per (database, target);
//   - a heavy pool (`max_concurrent_snapshots` threads): snapshots, integrity checks, restore
//     drills and prunes, one strand per database, so at most one heavy job runs per database
//     and at most that many run in all, whatever the number of databases.
// Jobs report back by posting to the io_context. Every timer is a ClockTimer on the daemon's
// Clock, except the shutdown deadline: that is a promise to the service manager (its stop
// timeout), kept in real elapsed time whatever the clock says.
//
// The methods live in daemon.cc (start, signals, reload, stop), daemon_schedule.cc (workers,
// the scheduler, retries, the sampler and prune timers) and daemon_http.cc (the status
// endpoint: routes, status JSON, metrics, health).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "agent/daemon/clock_timer.h"
#include "agent/daemon/db_worker.h"
#include "agent/daemon/service_notify.h"
#include "agent/daemon/standby_unit.h"
#include "agent/daemon/status_server.h"
#include "agent/daemon/worker_context.h"
#include "agent/state_store.h"
#include "common/service_hooks.h"
#include "scheduler/scheduler.h"

namespace aura::agent {

// Plain lines to stderr under a service manager (journald adds time and level); otherwise a
// rotating file (10 MiB x 5) in the state directory, or stderr when log_file = "-".
Status SetupDaemonLogging(const AgentSettings& a);

// The scheduler's id of a database's job.
std::string SchedulerJobId(const std::string& db, JobKind job);

class Daemon {
 public:
  Daemon(std::string config_path, Config config, const Clock& clock, ServiceHooks* hooks);

  // Serves until stopped; the process exit code.
  int Run();

 private:
  // daemon.cc
  Status OpenStateAndListen();
  int JoinPools();
  // Raises the open-file limit and warns when it is still too low for the databases configured.
  void WarnIfTooFewFiles() const;
  void WaitSignal();
  void Reload();
  void ApplyReload(const std::shared_ptr<const Config>& old);
  void BeginShutdown(const std::string& why);
  // [[standby]] units: started with the config, restarted by a reload when theirs changed.
  void StartStandby(const StandbyConfig& sb);
  void ReloadStandbys(const Config& old);
  // The service manager (service_notify.h): READY/STATUS/RELOADING/STOPPING, and the watchdog
  // pinged from this event loop, so a stuck loop gets the agent restarted.
  void Notify(const std::string& message);
  std::string StatusLine() const;
  void ArmWatchdog();

  // daemon_schedule.cc
  void StartWorker(const DatabaseConfig& db);
  void RemoveSchedules(const std::string& db, const DbWorker& w);
  void ArmScheduler();
  void OnSchedule();
  // After a scheduled job: a transient failure (target unreachable, database busy) is retried
  // after 15 s, 30 s, 1 min, ... (at most 30 min apart) until it succeeds or the job's next
  // occurrence comes.
  void RetryIfTransient(const std::string& db, JobKind job, const JobOutcome& out);
  void ArmSampler();
  void ArmPrune();

  // daemon_http.cc
  HttpResponse Handle(const HttpRequest& r);
  HttpResponse Route(const HttpRequest& r);
  HttpResponse Trigger(const std::string& db_escaped, const std::string& job_name,
                       const std::string& query);
  nlohmann::json StatusJson();
  std::string MetricsText();
  // (what, problem): what is "database" or "standby", then its name.
  struct Problem {
    std::string kind, name, problem;
  };
  std::vector<Problem> Problems();

  WorkerContext context() {
    return WorkerContext{io_, step_, upload_, heavy_, *state_, clock_, state_errors_};
  }

  std::string config_path_;
  std::shared_ptr<const Config> config_;
  const Clock& clock_;
  boost::asio::io_context io_;
  boost::asio::thread_pool step_, upload_, heavy_;
  boost::asio::signal_set signals_;
  ClockTimer sched_timer_, sample_timer_, prune_timer_;
  boost::asio::steady_timer shutdown_timer_;
  boost::asio::steady_timer watchdog_timer_;
  ServiceNotifier notifier_ = ServiceNotifier::FromEnvironment();
  ServiceHooks* hooks_;         // the Windows service's, or null
  bool notify_failed_ = false;  // a failed notification is logged once
  StatusServer server_;
  std::unique_ptr<StateStore> state_;
  StateWriteErrors state_errors_;
  std::map<std::string, std::shared_ptr<DbWorker>> workers_;
  std::map<std::string, std::unique_ptr<StandbyUnit>> standbys_;
  std::vector<std::unique_ptr<StandbyUnit>> stopped_standbys_;  // joined at shutdown
  scheduler::Scheduler sched_;
  TimePoint started_{};
  TimePoint config_loaded_{};
  std::string config_error_;
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  std::map<std::string, uint64_t> http_by_status_;
  bool stopping_ = false;
  bool clean_stop_ = false;
  size_t restarting_ = 0;               // workers being replaced by a reload
  std::map<std::string, int> retries_;  // scheduler job id -> retries so far of its failed run
};

}  // namespace aura::agent
