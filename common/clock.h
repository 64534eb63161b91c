// Clock: the one seam through which the agent reads time, so the scheduler, retention and
// snapshot naming can be driven by a simulated clock in tests. Plus RFC 3339 formatting and
// parsing.
//
// Thread-safety: SystemClock is stateless; FakeClock is safe to share (atomic).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace aura {

using TimePoint = std::chrono::system_clock::time_point;

// Milliseconds elapsed since `t0` on the monotonic clock (durations of work, for reports).
inline int64_t MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

// Two kinds of time: wall-clock time (Now: schedules, names, retention) and monotonic time
// (SteadyNow: intervals such as a poll or a retry backoff, which a wall-clock step must not
// stretch). Timers built on a Clock (agent/daemon/clock_timer.h) sleep at most RecheckInterval()
// before they look at it again.
class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time.
  virtual TimePoint Now() const = 0;
  // Monotonic time, for intervals.
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;
  // How long a timer may sleep on the machine's steady clock before it must read this clock
  // again to notice that it moved differently (a wall-clock jump, a test's Advance).
  virtual std::chrono::nanoseconds RecheckInterval() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::now();
  }
  // NTP steps and suspend are seen within 30 s (as the daemon's scheduler always did).
  std::chrono::nanoseconds RecheckInterval() const override { return std::chrono::seconds(30); }
  // The process-wide instance.
  static const Clock& Instance();
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : us_(ToMicros(start)) {}
  TimePoint Now() const override { return FromMicros(us_.load()); }
  // The same simulated time on the monotonic scale: Advance moves both.
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::time_point(std::chrono::microseconds(us_.load()));
  }
  // Timers look every millisecond, so what Advance makes due fires almost at once.
  std::chrono::nanoseconds RecheckInterval() const override { return std::chrono::milliseconds(1); }
  void Advance(std::chrono::microseconds d) { us_ += d.count(); }
  void Set(TimePoint t) { us_ = ToMicros(t); }

 private:
  static int64_t ToMicros(TimePoint t) {
    return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  }
  static TimePoint FromMicros(int64_t us) {
    return TimePoint(
        std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(us)));
  }
  std::atomic<int64_t> us_;
};

int64_t ToUnixMicros(TimePoint t);
TimePoint FromUnixMicros(int64_t us);

// "2026-11-24T20:14:05.123456Z" (UTC, microseconds; `digits` fractional digits, 0 to 6).
std::string FormatRfc3339(TimePoint t, int digits = 6);
// "20261124T201405.123Z": compact UTC with milliseconds, used inside object names so they sort
// by time.
std::string FormatCompactUtc(TimePoint t);
// Parses RFC 3339 with "Z" or a "+hh:mm"/"-hh:mm" offset, optional fraction.
Result<TimePoint> ParseRfc3339(std::string_view text);

}  // namespace aura
