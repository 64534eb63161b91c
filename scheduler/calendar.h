// Calendar math for backup policies: when does "daily at 02:30 Europe/Berlin" next happen.
//
// Times are computed in the policy's time zone (IANA names through the tz database, or "local",
// or "UTC") and converted to instants. Daylight-saving changes follow one rule so that a daily
// job runs exactly once per day: a local time that does not exist (the spring-forward gap) runs at
// the end of the gap; a local time that happens twice (the fall-back overlap) runs at its first
// occurrence only. A schedule's jitter (a fixed offset below the period, derived from the
// database's name) spreads a fleet's jobs so they do not hit the bucket in the same second.
//
// Thread-safety: a Schedule is immutable; the functions are pure.
#pragma once

#include <chrono>
#include <string>

#include "common/clock.h"
#include "common/status.h"

namespace date {
class time_zone;
}

namespace aura::scheduler {

enum class Period { kHourly, kDaily, kWeekly, kMonthly };

struct Schedule {
  Period period = Period::kDaily;
  int hour = 0;                           // daily, weekly, monthly
  int minute = 0;                         // minute of the hour (all periods)
  int weekday = 0;                        // weekly: 0 = Sunday .. 6 = Saturday
  int monthday = 1;                       // monthly: 1..28
  const date::time_zone* zone = nullptr;  // nullptr: UTC
  std::chrono::seconds jitter{0};

  std::chrono::seconds PeriodLength() const;
};

// The zone a policy's `timezone` names: nullptr for "UTC", the host's zone for "local", else the
// IANA zone of that name from the tz database. kConfig, saying what to write instead, for an
// empty or unknown name, and for "local" on a host whose zone cannot be determined (no
// /etc/localtime). The config checks every written `timezone` with it (agent/config.cc), so a
// typo is refused before the daemon runs instead of dropping the policy.
Result<const date::time_zone*> ResolveTimeZone(const std::string& name);

// Builds a schedule from policy settings: `at` "HH:MM" (daily/weekly/monthly), `minute`
// (hourly), `day` ("mon".."sun" for weekly, "1".."28" for monthly), `timezone` ("local", "UTC"
// or an IANA name: ResolveTimeZone). kConfig with the reason on a bad value.
Result<Schedule> MakeSchedule(Period period, int minute, const std::string& at,
                              const std::string& day, const std::string& timezone);

// A fixed jitter in [0, max) derived from `key` (e.g. "<host>/<database>/<policy>").
std::chrono::seconds JitterFor(const std::string& key, std::chrono::seconds max);

// The first occurrence strictly after `t`.
TimePoint NextOccurrence(const Schedule& s, TimePoint t);
// The last occurrence at or before `t`.
TimePoint PreviousOccurrence(const Schedule& s, TimePoint t);

}  // namespace aura::scheduler
