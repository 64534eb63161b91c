// The daemon's timers: workers and their schedules, the scheduler, retries of transient
// failures, the 1 s sampler and the periodic prune.
#include <spdlog/spdlog.h>

#include <chrono>

#include "agent/daemon/daemon_internal.h"

namespace aura::agent {

using std::chrono::seconds;

namespace {

constexpr char kJobSep =
    '\x1f';  // never in a database name (ValidateDatabaseName refuses control characters)

}  // namespace

std::string SchedulerJobId(const std::string& db, JobKind job) {
  return db + kJobSep + JobName(job);
}

void Daemon::StartWorker(const DatabaseConfig& db) {
  auto w = std::make_shared<DbWorker>(context(), config_, db);
  workers_[db.name] = w;
  w->Start();
  const TimePoint now = clock_.Now();
  for (const auto& [job, schedule] : w->schedules()) {
    auto rec = state_->Job(db.name, JobName(job), now);
    if (!rec.ok()) {
      state_errors_.Note(rec.status(), db.name, "read when " + JobName(job) + " last ran");
    }
    std::optional<TimePoint> last = rec.ok() ? rec->last_occurrence : std::nullopt;
    sched_.Add(SchedulerJobId(db.name, job), schedule, last, now);
  }
}

void Daemon::RemoveSchedules(const std::string& db, const DbWorker& w) {
  for (const auto& [job, s] : w.schedules()) sched_.Remove(SchedulerJobId(db, job));
}

void Daemon::ArmScheduler() {
  if (stopping_) return;
  // The timer looks at the clock again at least every RecheckInterval (30 s for the system
  // clock), so a wall-clock jump (sleep, NTP) is noticed.
  const TimePoint next = sched_.NextDue();
  sched_timer_.ExpiresAt(next == TimePoint::max() ? clock_.Now() + std::chrono::hours(1) : next);
  sched_timer_.AsyncWait([this](boost::system::error_code ec) {
    if (!ec) OnSchedule();
  });
}

void Daemon::OnSchedule() {
  const TimePoint now = clock_.Now();
  for (const scheduler::DueJob& due : sched_.TakeDue(now)) {
    auto sep = due.id.find(kJobSep);
    const std::string db = due.id.substr(0, sep);
    const std::optional<JobKind> job = ParseJob(due.id.substr(sep + 1));
    auto it = workers_.find(db);
    if (it == workers_.end() || !job) continue;
    const std::string name = JobName(*job);
    if (due.catch_up) {
      spdlog::info("db={} op={} catching up the missed run of {}", db, name,
                   FormatRfc3339(due.occurrence, 0));
    }
    const TimePoint occurrence = due.occurrence;
    auto handled = [this, db, name, occurrence] {
      state_errors_.Note(state_->SetOccurrence(db, name, occurrence), db,
                         "record that " + name + " ran for " + FormatRfc3339(occurrence, 0));
    };
    bool queued = it->second->Submit(*job, [this, db, job, handled](const JobOutcome& out) {
      // Handled, whatever the result: a failure shows in /healthz; a transient one is retried
      // with backoff until the next occurrence, others wait for it (or for an admin).
      handled();
      RetryIfTransient(db, *job, out);
    });
    if (!queued) handled();  // the run in progress covers it
  }
  ArmScheduler();
}

void Daemon::RetryIfTransient(const std::string& db, JobKind job, const JobOutcome& out) {
  const std::string id = SchedulerJobId(db, job);
  if (out.ok() || !out.status.IsTransient() || stopping_) {
    retries_.erase(id);
    return;
  }
  int& attempt = retries_[id];
  const seconds delay =
      std::min(seconds(15) * (int64_t{1} << std::min(attempt, 10)), seconds(1800));
  ++attempt;
  if (clock_.Now() + delay >= sched_.NextOf(id)) {
    retries_.erase(id);
    spdlog::warn("db={} op={} failed; the next scheduled run is sooner than a retry", db,
                 JobName(job));
    return;
  }
  spdlog::warn("db={} op={} failed for a reason that may pass; retry {} in {} s", db, JobName(job),
               attempt, delay.count());
  auto timer = std::make_shared<ClockTimer>(io_.get_executor(), clock_);
  timer->ExpiresAfter(delay);
  timer->AsyncWait([this, timer, db, job](boost::system::error_code ec) {
    if (ec || stopping_) return;
    auto it = workers_.find(db);
    if (it == workers_.end()) return;
    it->second->Submit(job, [this, db, job](const JobOutcome& o) { RetryIfTransient(db, job, o); });
  });
}

void Daemon::ArmSampler() {
  sample_timer_.ExpiresAfter(seconds(1));
  sample_timer_.AsyncWait([this](boost::system::error_code ec) {
    if (ec) return;
    const TimePoint now = clock_.Now();
    for (auto& [name, w] : workers_) w->Sample(now);
    ArmSampler();
  });
}

void Daemon::ArmPrune() {
  prune_timer_.ExpiresAfter(seconds(config_->agent.prune_interval_s));
  prune_timer_.AsyncWait([this](boost::system::error_code ec) {
    if (ec) return;
    for (auto& [name, w] : workers_) w->Submit(JobKind::kPrune);
    ArmPrune();
  });
}

}  // namespace aura::agent
