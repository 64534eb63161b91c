#include "scheduler/scheduler.h"

namespace aura::scheduler {

void Scheduler::Add(const std::string& id, const Schedule& s, std::optional<TimePoint> last_done,
                    TimePoint now) {
  Job j{s, last_done, NextOccurrence(s, now), false};
  if (last_done) {
    TimePoint missed = PreviousOccurrence(s, now);
    if (missed > *last_done) {
      j.next = missed;  // run once, now, for the most recent missed occurrence
      j.catch_up = true;
    }
  }
  jobs_[id] = j;
}

void Scheduler::Remove(const std::string& id) { jobs_.erase(id); }

std::vector<DueJob> Scheduler::TakeDue(TimePoint now) {
  std::vector<DueJob> due;
  for (auto& [id, j] : jobs_) {
    if (j.next > now) continue;
    // After a long sleep several occurrences may have passed: handle the latest one, once.
    TimePoint latest = PreviousOccurrence(j.schedule, now);
    TimePoint occurrence = latest > j.next ? latest : j.next;
    bool late = j.catch_up || latest > j.next;
    due.push_back({id, occurrence, late});
    j.last_done = occurrence;
    j.catch_up = false;
    j.next = NextOccurrence(j.schedule, occurrence);
  }
  return due;
}

TimePoint Scheduler::NextDue() const {
  TimePoint best = TimePoint::max();
  for (const auto& [id, j] : jobs_) best = std::min(best, j.next);
  return best;
}

std::optional<TimePoint> Scheduler::LastDone(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? std::nullopt : it->second.last_done;
}

TimePoint Scheduler::NextOf(const std::string& id) const {
  auto it = jobs_.find(id);
  return it == jobs_.end() ? TimePoint::max() : it->second.next;
}

}  // namespace aura::scheduler
