// ClockTimer: a one-shot Asio timer that keeps time by a Clock (common/clock.h) instead of the
// steady clock, so the daemon's schedule, retries and polls can run on a FakeClock in tests.
//
// Two kinds of deadline, as the two kinds of time a Clock tells:
//   - ExpiresAt(wall time): "at 02:30" for the scheduler. Measured by Clock::Now(), so a wall
//     clock that jumps (NTP step, suspend) is noticed within Clock::RecheckInterval().
//   - ExpiresAfter(duration): "in 5 ms", "retry in 30 s". Measured by Clock::SteadyNow(), so a
//     wall-clock jump never stretches a poll or a backoff.
// Under the hood it sleeps on a steady_timer for at most RecheckInterval() at a time and looks at
// the clock again; with SystemClock that is one sleep for any interval under 30 s, with FakeClock
// a look every millisecond, so a test's Advance() fires what became due almost at once.
//
// The handler gets no error when the deadline is reached and operation_aborted when Cancel(), a
// new ExpiresAt/ExpiresAfter, or the timer's destruction came first; it runs on the executor the
// timer was made with, exactly once per AsyncWait. Lifetime: destroy the timer only when no wait
// is pending or its executor will run no more handlers (as the daemon's owners do: a handler
// keeps its owner, and so the timer, alive; the daemon's own timers go after io_context::run).
//
// Thread-safety: like boost::asio::steady_timer, one thread (or strand) at a time.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

#include "common/clock.h"

namespace aura::agent {

class ClockTimer {
 public:
  using Handler = std::function<void(boost::system::error_code)>;

  ClockTimer(boost::asio::any_io_executor executor, const Clock& clock)
      : timer_(std::move(executor)), clock_(clock) {}
  ClockTimer(const ClockTimer&) = delete;
  ClockTimer& operator=(const ClockTimer&) = delete;

  // Sets the deadline to a wall-clock instant (Clock::Now()); cancels a pending wait.
  void ExpiresAt(TimePoint wall);
  // Sets the deadline `d` from now on the clock's monotonic time; cancels a pending wait.
  void ExpiresAfter(std::chrono::nanoseconds d);
  // Starts waiting for the deadline set last.
  void AsyncWait(Handler handler);
  // Ends a pending wait with operation_aborted.
  void Cancel();

 private:
  // How far the deadline is, by the clock it was set on (<= 0: reached).
  std::chrono::nanoseconds Remaining() const;
  void Sleep(uint64_t generation, Handler handler);

  boost::asio::steady_timer timer_;
  const Clock& clock_;
  bool wall_ = false;
  TimePoint wall_deadline_{};
  std::chrono::steady_clock::time_point steady_deadline_{};
  // Bumped by every Cancel/Expires*: a wake-up of an older wait is delivered as aborted.
  uint64_t generation_ = 0;
};

}  // namespace aura::agent
