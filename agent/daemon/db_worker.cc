#include "agent/daemon/db_worker.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <chrono>

#include "agent/daemon/replication_unit.h"
#include "agent/daemon/repo_cache.h"
#include "agent/jobs.h"
#include "common/open_files.h"
#include "integrity/drill.h"

namespace aura::agent {

namespace net = boost::asio;
using nlohmann::json;
using std::chrono::seconds;

DbWorker::DbWorker(WorkerContext ctx, std::shared_ptr<const Config> config,
                   const DatabaseConfig& db)
    : ctx_(ctx),
      config_(std::move(config)),
      db_(db),
      repos_(std::make_shared<RepoCache>(config_, ctx.clock)),
      heavy_(ctx.heavy.get_executor()) {
  AddSchedules();
}

DbWorker::~DbWorker() = default;

void DbWorker::AddSchedules() {
  const auto max_jitter = seconds(config_->agent.jitter_s);
  auto add = [&](JobKind job, scheduler::Period period, int minute, const std::string& at,
                 const std::string& day, const std::string& tz) {
    auto s = scheduler::MakeSchedule(period, minute, at, day, tz);
    if (!s.ok()) {
      // The config resolves every zone it names; this is the default "local" on a host whose
      // zone cannot be determined. Never silent: the database is unhealthy until it is fixed.
      spdlog::error("db={} job={} not scheduled: {}", db_.name, JobName(job), s.status().message());
      unscheduled_[job] = s.status().message();
      return;
    }
    // Jitter below a quarter of the period, fixed per (database, job).
    auto cap = std::min(max_jitter, std::chrono::duration_cast<seconds>(s->PeriodLength() / 4));
    s->jitter = scheduler::JitterFor(db_.name + "/" + JobName(job), cap);
    schedules_[job] = *s;
  };
  using scheduler::Period;
  const auto& [h, d, w, m] = std::tie(db_.hourly, db_.daily, db_.weekly, db_.monthly);
  if (h.enabled) add(JobKind::kHourly, Period::kHourly, h.minute, "", "", h.timezone);
  if (d.enabled) add(JobKind::kDaily, Period::kDaily, 0, d.at, "", d.timezone);
  if (w.enabled) add(JobKind::kWeekly, Period::kWeekly, 0, w.at, w.day, w.timezone);
  if (m.enabled) add(JobKind::kMonthly, Period::kMonthly, 0, m.at, m.day, m.timezone);
  for (auto [job, c] : {std::pair{JobKind::kCheck, &db_.check}, {JobKind::kDrill, &db_.drill}}) {
    if (!c->enabled) continue;
    add(job, c->day.empty() ? Period::kDaily : Period::kWeekly, 0, c->at, c->day, c->timezone);
  }
  if (db_.check.enabled && db_.check.quick == "hourly") {
    add(JobKind::kQuickCheck, Period::kHourly, 30, "", "", db_.check.timezone);
  }
  if (db_.verify.enabled && !db_.targets.empty()) {
    add(JobKind::kVerify, Period::kHourly, 45, "", "", "local");  // its share of the cycle
  }
  const MigrationsConfig& mc = db_.migrations;
  if (mc.enabled && mc.auto_apply && !mc.window.empty()) {
    auto zone = scheduler::ResolveTimeZone(mc.timezone);  // else the window never opens
    if (!zone.ok()) unscheduled_[JobKind::kMigrate] = zone.status().message();
  }
}

void DbWorker::Start() {
  started_ = ctx_.clock.Now();
  for (const auto& [job, schedule] : schedules_) {
    auto r = ctx_.state.Job(db_.name, JobName(job), started_);
    if (r.ok()) {
      records_[job] = *r;
      if (job == JobKind::kCheck) full_check_failing_ = r->last_result == "error";
      if (job == JobKind::kQuickCheck) quick_check_failing_ = r->last_result == "error";
      source_failing_ = full_check_failing_ || quick_check_failing_;
    } else {
      ctx_.state_errors.Note(r.status(), db_.name, "read the record of " + JobName(job));
    }
  }
  if (db_.continuous) {
    for (const std::string& t : db_.targets) {
      auto unit = std::make_shared<ReplicationUnit>(ctx_, repos_, db_, config_->agent, t);
      units_.push_back(unit);
      unit->Begin();
    }
  }
  spdlog::info("db={} op=start path={} targets={} continuous={} jobs={}", db_.name, db_.path,
               db_.targets.size(), db_.continuous, schedules_.size());
}

void DbWorker::Stop(std::function<void()> done) {
  stopping_ = true;
  if (units_.empty()) {
    net::post(ctx_.io, done);
    return;
  }
  auto remaining = std::make_shared<size_t>(units_.size());
  for (auto& u : units_) {
    u->Stop([remaining, done] {
      if (--*remaining == 0) done();
    });
  }
}

bool DbWorker::Submit(JobKind job, std::function<void(const JobOutcome&)> on_done) {
  if (stopping_ || queued_.count(job)) return false;
  queued_.insert(job);
  auto self = shared_from_this();
  net::post(heavy_, [self, job, on_done = std::move(on_done)]() mutable {
    JobOutcome out = self->Execute(job);
    net::post(self->ctx_.io, [self, job, out = std::move(out), on_done = std::move(on_done)] {
      self->queued_.erase(job);
      self->Record(job, out);
      if (on_done) on_done(out);
    });
  });
  return true;
}

JobOutcome DbWorker::Execute(JobKind job) {
  const auto t0 = std::chrono::steady_clock::now();
  JobOutcome out;
  switch (job) {
    case JobKind::kHourly:
    case JobKind::kDaily:
    case JobKind::kWeekly:
    case JobKind::kMonthly:
    case JobKind::kBackup:
      out = Snapshot(job);
      break;
    case JobKind::kCheck:
      out = Check(db_.check.level == "full" ? IntegrityLevel::kFull : IntegrityLevel::kQuick);
      break;
    case JobKind::kQuickCheck:
      out = Check(IntegrityLevel::kQuick);
      break;
    case JobKind::kVerify:
      out = Verify();
      break;
    case JobKind::kDrill:
      out = Drill();
      break;
    case JobKind::kPrune:
      out = Prune();
      break;
    case JobKind::kMigrate:
      out = Migrate();
      break;
  }
  out.finished = ctx_.clock.Now();
  out.duration_ms = MillisSince(t0);
  if (out.detail.value("unchanged", false)) return out;  // nothing new to migrate: not a run
  out.status = WithHolders(out.status, db_.path);        // "database is locked": by whom
  const std::string name = JobName(job);
  ctx_.state_errors.Note(
      ctx_.state.RecordRun(db_.name, name, out.finished, out.status, out.duration_ms,
                           out.detail.value("stored_size", uint64_t{0}),
                           out.detail.value("snapshot", std::string())),
      db_.name, "record the run of " + name);
  if (out.ok()) {
    spdlog::info("db={} op={} ok in {} ms {}", db_.name, name, out.duration_ms,
                 out.detail.dump(-1, ' ', false, json::error_handler_t::replace));
  } else {
    spdlog::error("db={} op={} failed after {} ms: {}", db_.name, name, out.duration_ms,
                  out.status.message());
  }
  return out;
}

JobOutcome DbWorker::Snapshot(JobKind job) {
  std::string policy = JobName(job);
  if (job == JobKind::kBackup) {
    // An admin's "backup now": the first enabled policy's chain, else a full manual snapshot.
    policy = "manual";
    for (JobKind p : {JobKind::kHourly, JobKind::kDaily, JobKind::kWeekly, JobKind::kMonthly}) {
      if (FindPolicy(db_, JobName(p))->enabled) {
        policy = JobName(p);
        break;
      }
    }
  }
  JobOutcome out = SnapshotOnce(policy);
  if (out.ok()) {
    JobOutcome pruned = Prune();
    if (!pruned.ok()) {
      spdlog::warn("db={} op=prune after snapshot: {}", db_.name, pruned.status.message());
    }
  }
  return out;
}

SnapshotTaker DbWorker::TakerFor(const std::string& target) const {
  for (const auto& u : units_) {
    if (u->target() != target) continue;
    return [u](const backup::SnapshotOptions& o) { return u->SnapshotHere(o); };
  }
  return {};
}

JobOutcome DbWorker::SnapshotOnce(const std::string& policy) {
  JobOutcome out;
  const PolicyConfig* p = FindPolicy(db_, policy);
  std::vector<std::string> targets = p != nullptr ? PolicyTargets(db_, *p) : db_.targets;
  json per_target = json::array();
  for (const std::string& t : targets) {
    auto repo = repos_->Get(t);
    if (!repo.ok()) {
      out.AddFailure(t, repo.status());
      continue;
    }
    TargetHandle target{t, *repo, TakerFor(t)};
    Result<PolicySnapshotResult> r =
        p != nullptr ? RunPolicySnapshot(db_, policy, p->full_every, target, ctx_.state, 2,
                                         ctx_.clock, source_failing_)
                     : RunManualSnapshot(db_, policy, target, 2, ctx_.clock, source_failing_);
    if (!r.ok()) {
      out.AddFailure(t, r.status());
      continue;
    }
    ctx_.state_errors.Count(r->state_write);  // RunPolicySnapshot logged it
    json j = PolicySnapshotJson(*r);
    j["target"] = t;
    per_target.push_back(j);
    // The summary of the run: the last target's snapshot.
    for (const char* k : {"snapshot", "kind", "size", "stored_size"}) out.detail[k] = j[k];
  }
  out.detail["policy"] = policy;
  out.detail["targets"] = per_target;
  return out;
}

JobOutcome DbWorker::Check(IntegrityLevel level) {
  JobOutcome out;
  auto problems = RunCheck(db_, level);
  if (!problems.ok()) {
    out.status = problems.status();
  } else if (!problems->empty()) {
    out.status = Corruption(std::string(IntegrityLevelName(level)) + " integrity check found " +
                            std::to_string(problems->size()) + " problem(s): " + problems->front());
    out.detail["problems"] = *problems;
  } else {
    out.detail["level"] = IntegrityLevelName(level);
  }
  return out;
}

JobOutcome DbWorker::Drill() {
  JobOutcome out;
  json per_target = json::array();
  const std::string scratch = config_->agent.state_dir + "/drill/" + PathComponent(db_.name);
  std::string outcome = "pass";  // the worst over the targets
  for (const std::string& t : db_.targets) {
    auto repo = repos_->Get(t);
    if (!repo.ok()) {
      out.AddFailure(t, repo.status());  // cannot tell: inconclusive
      if (outcome == "pass") outcome = "inconclusive";
      continue;
    }
    const integrity::DrillReport r = RunDrill(**repo, db_, scratch);
    const TimePoint now = ctx_.clock.Now();
    ctx_.state_errors.Note(ctx_.state.RecordDrill(db_.name, DrillRecordOf(t, now, r)), db_.name,
                           "record the drill of target " + t);
    json j = DrillReportJson(t, r);
    per_target.push_back(j);
    if (!r.passed()) {
      if (r.outcome == integrity::DrillOutcome::kFail || outcome == "pass") {
        outcome = integrity::DrillOutcomeName(r.outcome);
      }
      // A failure is corruption (never retried); an inconclusive drill keeps its own code.
      out.AddFailure(t, r.outcome == integrity::DrillOutcome::kFail
                            ? Corruption(r.reason)
                            : aura::Status(r.code, r.reason));
      continue;
    }
    ctx_.state_errors.Note(ctx_.state.MarkVerified(db_.name, t, r.snapshot, now), db_.name,
                           "mark snapshot " + r.snapshot + " verified");
    for (const char* k : {"rto_seconds", "rpo_seconds"}) out.detail[k] = j[k];
  }
  out.detail["outcome"] = outcome;
  out.detail["targets"] = per_target;
  return out;
}

JobOutcome DbWorker::Verify() {
  JobOutcome out;
  json per_target = json::array();
  int problems = 0;
  for (const std::string& t : db_.targets) {
    auto repo = repos_->Get(t);
    auto r = repo.ok() ? RunRollingVerify(**repo, db_, t, ctx_.state, ctx_.clock.Now())
                       : Result<RollingVerifyReport>(repo.status());
    if (!r.ok()) {
      out.AddFailure(t, r.status());  // could not tell: retried at the next run
      continue;
    }
    per_target.push_back(RollingVerifyJson(t, *r));
    problems += static_cast<int>(r->problems.size());
    if (!r->problems.empty()) {
      const auto& [object, error] = r->problems.front();
      out.AddFailure(
          t, Corruption(std::to_string(r->problems.size()) + " damaged object(s), e.g. " + object +
                        ": " + error + " (run aura-agent verify)"));
    }
  }
  out.detail["targets"] = per_target;
  out.detail["problems"] = problems;
  return out;
}

JobOutcome DbWorker::Prune() {
  JobOutcome out;
  uint64_t deleted = 0;
  int temps = 0;
  for (const std::string& t : db_.targets) {
    auto repo = repos_->Get(t);
    auto verified = ctx_.state.Verified(db_.name, t);
    Result<PruneReport> r = !repo.ok()       ? Result<PruneReport>(repo.status())
                            : !verified.ok() ? Result<PruneReport>(verified.status())
                                             : RunPrune(**repo, db_, *verified, ctx_.clock.Now(),
                                                        false, source_failing_);
    if (!r.ok()) {
      out.AddFailure(t, r.status());
      continue;
    }
    deleted += r->deleted;
    temps += r->stale_temp_files;
  }
  out.detail["objects_deleted"] = deleted;
  out.detail["stale_temp_files_removed"] = temps;
  return out;
}

void DbWorker::Record(JobKind job, const JobOutcome& out) {
  if (out.detail.value("unchanged", false)) return;
  last_[job] = out;
  // A check cut short (busy, over its budget) proves nothing either way: the mark stays as it was.
  if (job == JobKind::kCheck && !out.status.IsTransient()) {
    full_check_failing_ = !out.ok();
    if (out.ok()) quick_check_failing_ = false;  // a full check covers the quick one
  }
  if (job == JobKind::kQuickCheck && !out.status.IsTransient()) quick_check_failing_ = !out.ok();
  source_failing_ = full_check_failing_ || quick_check_failing_;
  (out.ok() ? runs_ok_ : runs_failed_)[job]++;
  if (out.ok() && records_.count(job)) records_[job].last_ok = out.finished;
  if (IsSnapshot(job)) {
    last_snapshot_ = out;
    if (out.ok()) {
      snapshot_seconds_.Observe(out.duration_ms / 1000.0);
      snapshot_bytes_stored_ += out.detail.value("stored_size", uint64_t{0});
    }
  }
  if (!out.ok()) {
    last_error_ = out.status.message();
    last_error_op_ = JobName(job);
    last_error_time_ = out.finished;
  }
}

void DbWorker::Sample(TimePoint now) {
  for (auto& u : units_) {
    auto p = u->published();
    if (p.running) lag_seconds_[u->target()].Observe(p.LagSeconds(now));
  }
  MaybeMigrate(now);
}

}  // namespace aura::agent
