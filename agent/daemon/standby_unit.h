// StandbyUnit: one [[standby]] of the daemon's config, a warm standby kept current from a target
// on a thread of its own (backup/standby.h does the work; `restore --follow` is the same loop in
// the foreground). It opens (seeding on first use) and catches up every poll_interval, retries a
// failure at the same pace (an unreachable target or a damaged segment leaves the standby at its
// last verified point), lets go of the file while a promotion asks it to (the release file), and
// reports its state for status, metrics and health.
//
// Lag: `lag_seconds` is how long ago the standby was last seen holding every transaction the
// target held (so at most about poll_interval while healthy, and growing while catching up
// fails); `apply_lag_seconds` is, for the newest catch-up that applied something, the time from
// the source's commit of its first transaction to its application here.
//
// Thread-safety: Start/RequestStop/Join from the daemon's io thread; Status, Problems and
// Metrics from any thread (one mutex guards the view).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "agent/config.h"
#include "agent/daemon/metrics.h"
#include "backup/standby.h"

namespace aura::agent {

class StandbyUnit {
 public:
  StandbyUnit(StandbyConfig standby, std::shared_ptr<const Config> config);
  ~StandbyUnit();  // RequestStop, then Join

  void Start();
  // Stops after the step in flight (a seed runs to its end); returns at once.
  void RequestStop();
  void Join();

  const StandbyConfig& standby() const { return sb_; }
  nlohmann::json Status() const;
  std::vector<std::string> Problems() const;
  void Metrics(MetricsText& m) const;

 private:
  struct View {
    std::string state = "starting";  // starting, opening, following, failing, released, stopped
    std::string database;
    uint64_t generation = 0, txid = 0, newest_txid = 0;
    int64_t commit_us = 0;     // source commit time of txid
    int64_t caught_up_us = 0;  // last seen holding everything the target held
    double apply_lag_s = -1;   // -1: nothing applied yet
    uint64_t segments = 0, reseeds = 0;
    std::string error;
    int64_t error_since_us = 0;
  };

  void Loop();
  bool Released();
  aura::Status OpenIfNeeded();
  void Record(const backup::StandbyStep& step, int64_t looked_us);
  std::vector<std::string> ProblemsOf(const View& v, int64_t now_us) const;
  // Sleeps up to `ms`; false when stopping.
  bool Sleep(int64_t ms);
  void SetError(const std::string& message);
  template <typename F>
  void Update(F&& f) {
    std::lock_guard lock(mu_);
    f(view_);
  }

  const StandbyConfig sb_;
  const std::shared_ptr<const Config> config_;
  std::unique_ptr<backup::Repository> repo_;  // the loop's thread only
  std::unique_ptr<backup::Standby> standby_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  mutable std::mutex mu_;
  View view_;
};

}  // namespace aura::agent
