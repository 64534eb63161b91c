// Scheduling on a simulated clock: a week of policies in milliseconds, daylight-saving changes,
// and catch-up after downtime.
#include "scheduler/scheduler.h"

#include <gtest/gtest.h>

#include <map>

namespace aura::scheduler {
namespace {

using namespace std::chrono;

TimePoint At(const std::string& rfc3339) { return *ParseRfc3339(rfc3339); }

Schedule Make(Period p, int minute, const std::string& at, const std::string& day,
              const std::string& tz) {
  auto s = MakeSchedule(p, minute, at, day, tz);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return *s;
}

// Steps a clock minute by minute from `start` for `span`, collecting every due job.
std::vector<DueJob> Simulate(Scheduler& s, TimePoint start, minutes span) {
  std::vector<DueJob> all;
  for (TimePoint t = start; t <= start + span; t += minutes(1)) {
    for (DueJob& d : s.TakeDue(t)) all.push_back(d);
  }
  return all;
}

TEST(Scheduler, AWeekOfHourlyDailyAndWeeklyFiresExactlyAsScheduled) {
  const TimePoint start = At("2026-11-23T00:00:00Z");  // a Monday
  Scheduler s;
  s.Add("hourly", Make(Period::kHourly, 15, "", "", "UTC"), std::nullopt, start);
  s.Add("daily", Make(Period::kDaily, 0, "02:30", "", "UTC"), std::nullopt, start);
  s.Add("weekly", Make(Period::kWeekly, 0, "03:00", "sun", "UTC"), std::nullopt, start);
  auto runs = Simulate(s, start, hours(24 * 7) - minutes(1));
  std::map<std::string, std::vector<std::string>> by;
  for (const DueJob& d : runs) {
    EXPECT_FALSE(d.catch_up);
    by[d.id].push_back(FormatRfc3339(d.occurrence, 0));
  }
  ASSERT_EQ(by["hourly"].size(), 168u);
  EXPECT_EQ(by["hourly"].front(), "2026-11-23T00:15:00Z");
  EXPECT_EQ(by["hourly"].back(), "2026-11-29T23:15:00Z");
  EXPECT_EQ(by["daily"], (std::vector<std::string>{"2026-11-23T02:30:00Z", "2026-11-24T02:30:00Z",
                                                   "2026-11-25T02:30:00Z", "2026-11-26T02:30:00Z",
                                                   "2026-11-27T02:30:00Z", "2026-11-28T02:30:00Z",
                                                   "2026-11-29T02:30:00Z"}));
  EXPECT_EQ(by["weekly"], std::vector<std::string>{"2026-11-29T03:00:00Z"});
}

TEST(Scheduler, MonthlyRunsOnItsDay) {
  const TimePoint start = At("2026-01-15T00:00:00Z");
  Scheduler s;
  s.Add("monthly", Make(Period::kMonthly, 0, "04:00", "1", "UTC"), std::nullopt, start);
  std::vector<std::string> got;
  for (const DueJob& d : Simulate(s, start, hours(24 * 80)))
    got.push_back(FormatRfc3339(d.occurrence, 0));
  EXPECT_EQ(got, (std::vector<std::string>{"2026-02-01T04:00:00Z", "2026-03-01T04:00:00Z",
                                           "2026-04-01T04:00:00Z"}));
}

TEST(Scheduler, DailyRunsOnceOnTheSpringForwardDay) {
  // Europe/Berlin skips 02:00-03:00 on 2026-03-29: 02:30 does not exist that day.
  const TimePoint start = At("2026-03-28T00:00:00Z");
  Scheduler s;
  s.Add("daily", Make(Period::kDaily, 0, "02:30", "", "Europe/Berlin"), std::nullopt, start);
  std::vector<std::string> got;
  for (const DueJob& d : Simulate(s, start, hours(72)))
    got.push_back(FormatRfc3339(d.occurrence, 0));
  EXPECT_EQ(got, (std::vector<std::string>{"2026-03-28T01:30:00Z",     // 02:30 CET
                                           "2026-03-29T01:00:00Z",     // 03:00 CEST, end of gap
                                           "2026-03-30T00:30:00Z"}));  // 02:30 CEST
}

TEST(Scheduler, DailyRunsOnceOnTheFallBackDay) {
  // Europe/Berlin repeats 02:00-03:00 on 2026-10-25: 02:30 happens twice.
  const TimePoint start = At("2026-10-24T00:00:00Z");
  Scheduler s;
  s.Add("daily", Make(Period::kDaily, 0, "02:30", "", "Europe/Berlin"), std::nullopt, start);
  std::vector<std::string> got;
  for (const DueJob& d : Simulate(s, start, hours(72)))
    got.push_back(FormatRfc3339(d.occurrence, 0));
  EXPECT_EQ(got, (std::vector<std::string>{"2026-10-24T00:30:00Z",     // 02:30 CEST
                                           "2026-10-25T00:30:00Z",     // the first 02:30 only
                                           "2026-10-26T01:30:00Z"}));  // 02:30 CET
}

TEST(Scheduler, AMissedDailyRunsOnceAtStartAfterAThreeDayOutage) {
  const Schedule daily = Make(Period::kDaily, 0, "02:30", "", "UTC");
  const TimePoint last = At("2026-11-20T02:30:00Z");
  const TimePoint restart = At("2026-11-23T10:00:00Z");  // three days later
  Scheduler s;
  s.Add("daily", daily, last, restart);
  auto first = s.TakeDue(restart);
  ASSERT_EQ(first.size(), 1u) << "one catch-up run, not three";
  EXPECT_TRUE(first[0].catch_up);
  EXPECT_EQ(FormatRfc3339(first[0].occurrence, 0), "2026-11-23T02:30:00Z");
  EXPECT_TRUE(s.TakeDue(restart + minutes(1)).empty()) << "nothing runs twice";
  auto next = Simulate(s, restart + minutes(2), hours(24));
  ASSERT_EQ(next.size(), 1u);
  EXPECT_FALSE(next[0].catch_up);
  EXPECT_EQ(FormatRfc3339(next[0].occurrence, 0), "2026-11-24T02:30:00Z");
}

TEST(Scheduler, NothingMissedMeansNoCatchUp) {
  Scheduler s;
  s.Add("daily", Make(Period::kDaily, 0, "02:30", "", "UTC"), At("2026-11-23T02:30:00Z"),
        At("2026-11-23T10:00:00Z"));
  EXPECT_TRUE(s.TakeDue(At("2026-11-23T10:00:00Z")).empty());
  EXPECT_EQ(FormatRfc3339(s.NextDue(), 0), "2026-11-24T02:30:00Z");
}

TEST(Scheduler, AClockJumpRunsAJobOnceNotOncePerMissedHour) {
  Scheduler s;
  const TimePoint t0 = At("2026-11-23T00:00:00Z");
  s.Add("hourly", Make(Period::kHourly, 0, "", "", "UTC"), std::nullopt, t0);
  auto due = s.TakeDue(t0 + hours(5) + minutes(30));  // asleep for five hours
  ASSERT_EQ(due.size(), 1u);
  EXPECT_TRUE(due[0].catch_up);
  EXPECT_EQ(FormatRfc3339(due[0].occurrence, 0), "2026-11-23T05:00:00Z");
}

TEST(Scheduler, JitterIsStableBoundedAndApplied) {
  auto j1 = JitterFor("host-01/aura/hourly", minutes(5));
  EXPECT_EQ(j1, JitterFor("host-01/aura/hourly", minutes(5)));
  EXPECT_LT(j1, minutes(5));
  EXPECT_NE(j1, JitterFor("host-02/aura/hourly", minutes(5)));
  Schedule s = Make(Period::kHourly, 15, "", "", "UTC");
  s.jitter = seconds(90);
  EXPECT_EQ(FormatRfc3339(NextOccurrence(s, At("2026-11-23T00:00:00Z")), 0),
            "2026-11-23T00:16:30Z");
}

TEST(Scheduler, BadTimeZoneIsAConfigError) {
  auto s = MakeSchedule(Period::kDaily, 0, "02:30", "", "Mars/Olympus_Mons");
  EXPECT_EQ(s.status().code(), Code::kConfig);
}

}  // namespace
}  // namespace aura::scheduler
