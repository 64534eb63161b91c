// WorkerContext: what the daemon lends every DbWorker and ReplicationUnit: its io_context (where
// bookkeeping lives), the three pools, the state database, the clock every timer and timestamp
// comes from, and the count of state-database writes that failed.
//
// Thread-safety: the pools, the state store and the counter are safe to use from any thread.
#pragma once

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <string_view>

#include "agent/state_store.h"
#include "common/clock.h"
#include "common/status.h"

namespace aura::agent {

// A failed write to the state database loses bookkeeping, never backups (state_store.h), so the
// job goes on; but it is never silent: each one is logged and counted
// (aura_state_store_write_errors_total), so an operator sees a failing disk under the state dir.
class StateWriteErrors {
 public:
  // Logs and counts `s` when it is an error; `what` names the write ("record the run of hourly").
  void Note(const Status& s, std::string_view database, std::string_view what) {
    if (s.ok()) return;
    ++count_;
    spdlog::error("db={} op=state could not {}: {}", database, what, s.message());
  }
  // Counts `s` when it is an error that its caller has already logged.
  void Count(const Status& s) {
    if (!s.ok()) ++count_;
  }
  uint64_t count() const { return count_; }

 private:
  std::atomic<uint64_t> count_{0};
};

struct WorkerContext {
  boost::asio::io_context& io;
  boost::asio::thread_pool& step;
  boost::asio::thread_pool& upload;
  boost::asio::thread_pool& heavy;
  StateStore& state;
  const Clock& clock;
  StateWriteErrors& state_errors;
};

}  // namespace aura::agent
