#include "scheduler/calendar.h"

#include <date/tz.h>

#include <array>

#include "common/bytes.h"
#include "common/hashing.h"

namespace aura::scheduler {

namespace {

using namespace std::chrono;
using LocalMinutes = date::local_time<minutes>;

// The instant a local time names in `zone`: the end of a spring-forward gap for a time that
// does not exist, the first of two for a time that happens twice.
TimePoint ToInstant(const date::time_zone* zone, LocalMinutes local) {
  if (zone == nullptr) {
    return TimePoint(duration_cast<TimePoint::duration>(local.time_since_epoch()));
  }
  date::local_info info = zone->get_info(local);
  sys_time<seconds> sys;
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // first: the earlier offset
      sys = sys_time<seconds>(local.time_since_epoch() - info.first.offset);
      break;
    case date::local_info::nonexistent:  // the end of the gap
      sys = info.second.begin;
      break;
  }
  return TimePoint(duration_cast<TimePoint::duration>(sys.time_since_epoch()));
}

LocalMinutes ToLocal(const date::time_zone* zone, TimePoint t) {
  auto sys = floor<minutes>(sys_time<TimePoint::duration>(t.time_since_epoch()));
  if (zone == nullptr) return LocalMinutes(sys.time_since_epoch());
  return floor<minutes>(zone->to_local(sys));
}

// The candidate occurrence of schedule `s` in the local period containing `local`.
LocalMinutes CandidateIn(const Schedule& s, LocalMinutes local) {
  if (s.period == Period::kHourly) return floor<hours>(local) + minutes(s.minute);
  auto day = floor<date::days>(local);
  auto at = hours(s.hour) + minutes(s.minute);
  if (s.period == Period::kDaily) return day + at;
  if (s.period == Period::kWeekly) {
    date::weekday wd{day};
    auto back = (wd - date::weekday{static_cast<unsigned>(s.weekday)}).count();
    return day - date::days(back) + at;
  }
  date::year_month_day ymd{day};
  return date::local_days{ymd.year() / ymd.month() / s.monthday} + at;
}

// The local period after the one containing `local`.
LocalMinutes NextPeriod(const Schedule& s, LocalMinutes local) {
  switch (s.period) {
    case Period::kHourly:
      return floor<hours>(local) + hours(1);
    case Period::kDaily:
      return floor<date::days>(local) + date::days(1);
    case Period::kWeekly:
      return floor<date::days>(local) + date::days(7);
    case Period::kMonthly: {
      date::year_month_day ymd{floor<date::days>(local)};
      date::year_month next = ymd.year() / ymd.month() + date::months(1);
      return date::local_days{next / 1};
    }
  }
  return local;
}

LocalMinutes PreviousPeriod(const Schedule& s, LocalMinutes local) {
  switch (s.period) {
    case Period::kHourly:
      return floor<hours>(local) - hours(1);
    case Period::kDaily:
      return floor<date::days>(local) - date::days(1);
    case Period::kWeekly:
      return floor<date::days>(local) - date::days(7);
    case Period::kMonthly: {
      date::year_month_day ymd{floor<date::days>(local)};
      date::year_month prev = ymd.year() / ymd.month() - date::months(1);
      return date::local_days{prev / 1};
    }
  }
  return local;
}

}  // namespace

std::chrono::seconds Schedule::PeriodLength() const {
  switch (period) {
    case Period::kHourly:
      return hours(1);
    case Period::kDaily:
      return hours(24);
    case Period::kWeekly:
      return hours(24 * 7);
    case Period::kMonthly:
      return hours(24 * 28);
  }
  return hours(24);
}

Result<Schedule> MakeSchedule(Period period, int minute, const std::string& at,
                              const std::string& day, const std::string& timezone) {
  Schedule s;
  s.period = period;
  s.minute = minute;
  if (period != Period::kHourly) {
    if (at.size() != 5 || at[2] != ':') return ConfigError("'at' must be HH:MM, not '" + at + "'");
    s.hour = std::stoi(at.substr(0, 2));
    s.minute = std::stoi(at.substr(3, 2));
    if (s.hour > 23 || s.minute > 59) return ConfigError("'at' must be HH:MM, not '" + at + "'");
  }
  if (period == Period::kWeekly) {
    static const std::array<std::string, 7> kDays = {"sun", "mon", "tue", "wed",
                                                     "thu", "fri", "sat"};
    s.weekday = -1;
    for (int i = 0; i < 7; ++i) {
      if (kDays[i] == day) s.weekday = i;
    }
    if (s.weekday < 0) return ConfigError("weekly 'day' must be mon..sun, not '" + day + "'");
  }
  if (period == Period::kMonthly) {
    s.monthday = day.empty() ? 1 : std::atoi(day.c_str());
    if (s.monthday < 1 || s.monthday > 28) return ConfigError("monthly 'day' must be 1..28");
  }
  AURA_ASSIGN_OR_RETURN(s.zone, ResolveTimeZone(timezone));
  return s;
}

Result<const date::time_zone*> ResolveTimeZone(const std::string& name) {
  static constexpr char kUse[] = "use an IANA name such as Europe/Berlin, or \"local\" or \"UTC\"";
  if (name == "UTC" || name == "utc") return static_cast<const date::time_zone*>(nullptr);
  if (name.empty()) return ConfigError(std::string("empty time zone: ") + kUse);
  try {
    return name == "local" ? date::current_zone() : date::locate_zone(name);
  } catch (const std::exception& e) {
    if (name == "local") {
      return ConfigError(std::string("the local time zone cannot be determined (") + e.what() +
                         "): set timezone = \"UTC\" or an IANA name such as Europe/Berlin, or "
                         "install the tz database (tzdata) and set /etc/localtime");
    }
    return ConfigError("unknown time zone '" + name + "' (" + kUse + ")");
  }
}

std::chrono::seconds JitterFor(const std::string& key, std::chrono::seconds max) {
  if (max.count() <= 0) return seconds(0);
  Digest d = Sha256::Of(key);
  return seconds(static_cast<int64_t>(GetBE64(d.data()) % static_cast<uint64_t>(max.count())));
}

TimePoint NextOccurrence(const Schedule& s, TimePoint t) {
  LocalMinutes local = ToLocal(s.zone, t);
  // Start a period early: with jitter or a DST shift, the occurrence of the previous local
  // period can still lie after `t`.
  for (LocalMinutes p = PreviousPeriod(s, local);; p = NextPeriod(s, p)) {
    TimePoint candidate = ToInstant(s.zone, CandidateIn(s, p)) + s.jitter;
    if (candidate > t) return candidate;
  }
}

TimePoint PreviousOccurrence(const Schedule& s, TimePoint t) {
  LocalMinutes local = ToLocal(s.zone, t);
  for (LocalMinutes p = NextPeriod(s, local);; p = PreviousPeriod(s, p)) {
    TimePoint candidate = ToInstant(s.zone, CandidateIn(s, p)) + s.jitter;
    if (candidate <= t) return candidate;
  }
}

}  // namespace aura::scheduler
