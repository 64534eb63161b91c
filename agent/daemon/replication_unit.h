// ReplicationUnit: continuous WAL shipping of one database to one target inside the daemon.
//
// A Replicator (backup/replicator.h) polled on its own strand of the step pool, uploading and
// compacting on its own strand of the upload pool. A start that fails (database missing, not in
// WAL mode, target unreachable) is retried with backoff (1 s doubling to 60 s) and published,
// never fatal to the agent. A database idle for 10 s is not polled: its WalWatch (inotify on its
// folder) wakes the unit at the next write, with a poll every 30 s as the fallback; without
// inotify it is polled every 250 ms instead of `poll_ms`. Every timer keeps time by the context's
// Clock.
//
// Thread-safety: Begin/Stop from the io thread; published() from any thread.
#pragma once

#include <atomic>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/config.h"
#include "agent/daemon/clock_timer.h"
#include "agent/daemon/metrics.h"
#include "agent/daemon/repo_cache.h"
#include "agent/daemon/wal_watch.h"
#include "agent/daemon/worker_context.h"
#include "backup/compactor.h"
#include "backup/replicator.h"

namespace aura::agent {

// A database name as one path component: '/' (allowed in names) becomes "%2F".
std::string PathComponent(const std::string& name);

class ReplicationUnit : public std::enable_shared_from_this<ReplicationUnit> {
 public:
  // What the status, health and metrics read.
  struct Published {
    bool running = false;
    backup::ReplicationStatus status;
    std::string start_error;
    TimePoint start_error_since{};
    // Observed commit time of the oldest transaction not yet uploaded (0: none pending).
    int64_t pending_since_us = 0;
    uint64_t polls = 0;     // looks at the WAL so far
    bool watching = false;  // an idle database waits for inotify instead of polling
    // Per successful upload: how long its oldest transaction waited from commit until durable
    // in the target (the worst lag of any commit in that upload).
    Histogram upload_delay;

    double LagSeconds(TimePoint now) const;
  };

  ReplicationUnit(WorkerContext& ctx, std::shared_ptr<RepoCache> repos, const DatabaseConfig& db,
                  const AgentSettings& agent, std::string target);

  const std::string& target() const { return target_; }

  // Starts (or keeps retrying to start) shipping.
  void Begin();
  // Stops polling, cuts and uploads what is spooled (one attempt), then posts `done` to the io
  // context.
  void Stop(std::function<void()> done);

  Published published() const;

  // A snapshot standing at the newest shipped txid (Replicator::SnapshotHere), taken on the step
  // strand; blocks the calling (heavy pool) thread until it is done. kUnavailable when shipping
  // is not running (not started yet, stopping): the caller takes an ordinary snapshot instead.
  Result<backup::SnapshotResult> SnapshotHere(const backup::SnapshotOptions& o);

 private:
  using Strand = boost::asio::strand<boost::asio::thread_pool::executor_type>;

  void TryStart();
  void RetryStartLater(const Status& why);
  void ScheduleStep();
  // Idle: wait for the WAL watch or the fallback poll, whichever comes first (`id` tells a
  // stale wake-up from the current wait).
  void WaitIdle();
  void WakeIdle(uint64_t id, bool by_watch);
  void DoStep();
  void KickUpload();
  void DoUpload();
  void RetryUploadLater();
  void FinishStop(std::function<void()> done);
  void Publish(std::optional<backup::ReplicationStatus> s = std::nullopt);

  Strand step_, upload_;
  const Clock& clock_;
  ClockTimer poll_timer_, retry_timer_, upload_timer_;
  boost::asio::io_context& io_;
  std::shared_ptr<RepoCache> repos_;
  std::string target_;
  backup::ReplicatorOptions opts_;
  std::chrono::milliseconds poll_{100};
  std::chrono::milliseconds backoff_{1000};
  std::chrono::milliseconds upload_backoff_{100};
  std::unique_ptr<backup::Replicator> rep_;
  std::unique_ptr<backup::Compactor> compactor_;
  std::unique_ptr<WalWatch> watch_;  // null: poll (no inotify)
  uint64_t wait_id_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> upload_busy_{false};
  std::chrono::steady_clock::time_point last_change_{};         // clock_.SteadyNow()
  std::chrono::steady_clock::time_point last_periodic_kick_{};  // clock_.SteadyNow()
  uint64_t last_spooled_ = 0;
  mutable std::mutex mu_;
  Published pub_;
};

}  // namespace aura::agent
