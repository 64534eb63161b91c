// Scheduler: which jobs are due, given their schedules, what already ran, and the time.
//
// Pure logic over a Clock-supplied time, so tests run a week of schedules in milliseconds. Each
// job remembers the last occurrence it handled (persisted by the caller in the state database).
// Catch-up: when a job starts (or the clock jumps after sleep or downtime) and occurrences were
// missed, it runs once, now, for the most recent missed occurrence; the older missed ones are
// skipped (a backup taken now covers them). Nothing runs twice for one occurrence.
//
// Thread-safety: one thread at a time (the daemon's scheduling strand).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scheduler/calendar.h"

namespace aura::scheduler {

struct DueJob {
  std::string id;
  TimePoint occurrence;   // the scheduled instant this run is for
  bool catch_up = false;  // it was missed and runs late
};

class Scheduler {
 public:
  // Adds (or replaces) a job. `last_done`: the occurrence it last handled, if any (from state).
  // A job never run before is due at its next occurrence, not immediately.
  void Add(const std::string& id, const Schedule& schedule, std::optional<TimePoint> last_done,
           TimePoint now);
  void Remove(const std::string& id);

  // The jobs due at `now`, each at most once, marking their occurrence handled.
  std::vector<DueJob> TakeDue(TimePoint now);

  // When the next job is due (TimePoint::max() with no jobs).
  TimePoint NextDue() const;

  // The occurrence a job last handled.
  std::optional<TimePoint> LastDone(const std::string& id) const;
  TimePoint NextOf(const std::string& id) const;

 private:
  struct Job {
    Schedule schedule;
    std::optional<TimePoint> last_done;
    TimePoint next;         // next occurrence to run
    bool catch_up = false;  // `next` is a missed occurrence to run at once
  };
  std::map<std::string, Job> jobs_;
};

}  // namespace aura::scheduler
