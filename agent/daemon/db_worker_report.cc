// DbWorker's report: the status JSON, the health problems and the metrics of one database, from
// what its jobs posted back, what its replication units publish, and (after a restart) what the
// state database remembers.
#include "agent/daemon/db_worker.h"
#include "agent/daemon/replication_unit.h"
#include "agent/jobs.h"

namespace aura::agent {

using nlohmann::json;
using std::chrono::seconds;

namespace {

std::string Rfc(TimePoint t) { return FormatRfc3339(t, 3); }

json OutcomeJson(const JobOutcome& o) {
  json j = o.detail;
  j["result"] = o.ok() ? "ok" : "error";
  j["finished"] = Rfc(o.finished);
  j["duration_ms"] = o.duration_ms;
  if (!o.ok()) {
    j["error"] = o.status.message();
    j["error_code"] = CodeName(o.status.code());  // "busy", "unavailable", ... (CLI.md)
  }
  return j;
}

constexpr JobKind kPolicies[] = {JobKind::kHourly, JobKind::kDaily, JobKind::kWeekly,
                                 JobKind::kMonthly};

}  // namespace

int64_t DbWorker::RpoSeconds() const { return db_.rpo_s > 0 ? db_.rpo_s : 60; }

json DbWorker::LastSnapshotJson() const {
  json last = last_snapshot_ ? OutcomeJson(*last_snapshot_) : PolicySnapshotFromState();
  // Continuous shipping's generation snapshots are snapshots too (status showed "-" while one
  // existed): the newest of them when it is newer than the policies' last.
  for (const auto& u : units_) {
    const backup::ReplicationStatus& s = u->published().status;
    if (s.generation_snapshot.empty()) continue;
    const std::string finished = Rfc(s.generation_snapshot_created);
    if (!last.is_null() && last.value("finished", "") >= finished) continue;
    last = {{"result", "ok"},
            {"finished", finished},
            {"policy", "generation"},
            {"snapshot", s.generation_snapshot},
            {"size", s.generation_snapshot_size},
            {"stored_size", s.generation_snapshot_stored}};
  }
  return last;
}

json DbWorker::PolicySnapshotFromState() const {
  // After a restart: what the state database remembers.
  json last = nullptr;
  for (JobKind p : kPolicies) {
    auto it = records_.find(p);
    if (it == records_.end() || !it->second.last_ok) continue;
    const JobRecord& r = it->second;
    if (!last.is_null() && last["finished"].get<std::string>() >= Rfc(*r.last_ok)) continue;
    last = {{"result", "ok"},
            {"finished", Rfc(*r.last_ok)},
            {"policy", JobName(p)},
            {"snapshot", r.last_snapshot},
            {"stored_size", r.last_size},
            {"duration_ms", r.last_duration_ms},
            {"from_state", true}};
  }
  return last;
}

json DbWorker::ReplicationJson(TimePoint now) const {
  json repl = json::array();
  for (const auto& u : units_) {
    auto p = u->published();
    const backup::ReplicationStatus& s = p.status;
    json r = {{"target", u->target()},
              {"state", p.running               ? "running"
                        : p.start_error.empty() ? "starting"
                                                : "error"},
              {"generation", s.generation},
              {"spooled_txid", s.spooled_txid},
              {"uploaded_txid", s.uploaded_txid},
              {"pending_transactions", s.pending_txns},
              {"lag_seconds", p.LagSeconds(now)},
              {"spool_bytes", s.spool_bytes},
              {"spool_segments", s.spool_segments},
              {"segments_uploaded", s.segments_uploaded},
              {"generations_started", s.generations_started},
              {"polls", p.polls},
              {"wakeup", p.watching ? "inotify" : "poll"}};
    if (s.last_commit_us > 0) r["last_commit"] = Rfc(FromUnixMicros(s.last_commit_us));
    if (!p.start_error.empty()) {
      r["error"] = p.start_error;
    } else if (!s.last_error.empty()) {
      r["last_error"] = s.last_error;
    }
    repl.push_back(r);
  }
  return repl;
}

json DbWorker::LastJobJson(JobKind job) const {
  auto it = last_.find(job);
  if (it != last_.end()) return OutcomeJson(it->second);
  auto rec = records_.find(job);
  if (rec == records_.end() || !rec->second.last_run) return nullptr;
  // After a restart: what the state database remembers of a scheduled check or drill.
  const JobRecord& r = rec->second;
  json last = {{"result", r.last_result},
               {"finished", Rfc(*r.last_run)},
               {"duration_ms", r.last_duration_ms},
               {"from_state", true}};
  if (r.last_result != "ok") last["error"] = r.last_error;
  return last;
}

json DbWorker::Status(TimePoint now,
                      const std::function<std::optional<TimePoint>(JobKind)>& next_run) const {
  json j = {{"name", db_.name},
            {"path", db_.path},
            {"targets", db_.targets},
            {"continuous", db_.continuous}};
  auto problems = Problems(now);
  j["healthy"] = problems.empty();
  j["problems"] = problems;
  j["last_snapshot"] = LastSnapshotJson();
  j["replication"] = ReplicationJson(now);
  json next = json::object();
  for (const auto& [job, sched] : schedules_) {
    if (auto t = next_run(job)) next[JobName(job)] = Rfc(*t);
  }
  j["next_runs"] = next;
  for (JobKind job : {JobKind::kCheck, JobKind::kQuickCheck, JobKind::kDrill, JobKind::kPrune,
                      JobKind::kVerify}) {
    j["last_" + JobName(job)] = LastJobJson(job);
  }
  json running = json::array();
  for (JobKind q : queued_) running.push_back(JobName(q));
  j["jobs_queued_or_running"] = running;
  j["migrations"] = MigrationsJson();
  j["last_error"] = last_error_.empty() ? json(nullptr)
                                        : json{{"time", Rfc(last_error_time_)},
                                               {"operation", last_error_op_},
                                               {"message", last_error_}};
  return j;
}

void DbWorker::ReplicationProblems(TimePoint now, std::vector<std::string>& out) const {
  const int64_t rpo = RpoSeconds();
  for (const auto& u : units_) {
    auto p = u->published();
    const backup::ReplicationStatus& s = p.status;
    if (!p.start_error.empty() && now - p.start_error_since > seconds(rpo)) {
      const auto down = std::chrono::duration_cast<seconds>(now - p.start_error_since).count();
      out.push_back("continuous to " + u->target() + ": not running for " + std::to_string(down) +
                    " s: " + p.start_error);
      continue;
    }
    const auto lag_s = static_cast<int64_t>(p.LagSeconds(now));
    if (lag_s > rpo) {
      out.push_back("continuous to " + u->target() + ": " + std::to_string(s.pending_txns) +
                    " transaction(s) not uploaded for " + std::to_string(lag_s) + " s (rpo " +
                    std::to_string(rpo) + " s)" +
                    (s.last_error.empty() ? "" : ": " + s.last_error));
    }
  }
}

void DbWorker::ScheduleProblems(TimePoint now, std::vector<std::string>& out) const {
  for (const auto& [job, why] : unscheduled_) {
    out.push_back(JobName(job) + " is not scheduled (it never runs): " + why);
  }
  for (const auto& [job, sched] : schedules_) {
    if (!IsPolicy(job)) continue;
    // Due at the latest occurrence that is more than a grace period old (a quarter of the
    // period, at most an hour, plus the job's jitter).
    auto grace =
        std::min(std::chrono::duration_cast<seconds>(sched.PeriodLength() / 4), seconds(3600));
    TimePoint expected = scheduler::PreviousOccurrence(sched, now - grace);
    auto rec = records_.find(job);
    TimePoint first_seen = rec != records_.end() ? rec->second.first_seen : started_;
    if (expected <= first_seen) continue;  // nothing was due yet since the policy appeared
    std::optional<TimePoint> last_ok;
    if (rec != records_.end()) last_ok = rec->second.last_ok;
    if (last_ok && *last_ok >= expected) continue;
    std::string why = JobName(job) + " snapshot due at " + Rfc(expected) + " has not succeeded";
    auto it = last_.find(job);
    if (it != last_.end() && !it->second.ok()) why += ": " + it->second.status.message();
    out.push_back(why);
  }
}

// A scheduled drill must pass at least once in twice its interval.
void DbWorker::DrillProblems(TimePoint now, std::vector<std::string>& out) const {
  auto sched = schedules_.find(JobKind::kDrill);
  if (sched == schedules_.end()) return;
  const auto allowed = sched->second.PeriodLength() * 2;
  auto rec = records_.find(JobKind::kDrill);
  TimePoint since = rec != records_.end() ? rec->second.first_seen : started_;
  if (rec != records_.end() && rec->second.last_ok) since = *rec->second.last_ok;
  if (now - since <= allowed) return;
  out.push_back(
      "no passing restore drill since " + Rfc(since) + " (drills run every " +
      std::to_string(std::chrono::duration_cast<std::chrono::hours>(allowed / 2).count()) +
      " h; health wants one pass in twice that)");
}

std::vector<std::string> DbWorker::Problems(TimePoint now) const {
  std::vector<std::string> out;
  ReplicationProblems(now, out);
  ScheduleProblems(now, out);
  DrillProblems(now, out);
  VerifyProblems(out);
  MigrationProblems(out);
  for (JobKind job : {JobKind::kCheck, JobKind::kQuickCheck, JobKind::kDrill}) {
    auto it = last_.find(job);
    if (it != last_.end() && !it->second.ok()) {
      out.push_back(JobName(job) + " failed at " + Rfc(it->second.finished) + ": " +
                    it->second.status.message());
    }
  }
  return out;
}

void DbWorker::Metrics(MetricsText& m, TimePoint now) const {
  const Labels db{{"database", db_.name}};
  MigrationMetrics(m);
  for (const auto& [runs, result] : {std::pair{&runs_ok_, "ok"}, {&runs_failed_, "error"}}) {
    for (const auto& [job, n] : *runs) {
      m.Sample("aura_jobs_total", "counter", "Jobs finished, by database, job and result.",
               {{"database", db_.name}, {"job", JobName(job)}, {"result", result}}, double(n));
    }
  }
  m.Hist("aura_snapshot_duration_seconds", "Duration of successful snapshot jobs.", db,
         snapshot_seconds_);
  m.Sample("aura_snapshot_stored_bytes_total", "counter",
           "Bytes stored by snapshot jobs since the agent started.", db,
           double(snapshot_bytes_stored_));
  if (last_snapshot_ && last_snapshot_->ok()) {
    m.Sample("aura_last_snapshot_timestamp_seconds", "gauge",
             "Unix time of the last successful snapshot.", db,
             double(ToUnixMicros(last_snapshot_->finished)) / 1e6);
  }
  m.Sample("aura_database_healthy", "gauge", "1 when the database is within its RPO.", db,
           Problems(now).empty() ? 1 : 0);
  DrillMetrics(m);
  VerifyMetrics(m);
  ReplicationMetrics(m, now);
}

// Damaged objects the rolling verification found (and that are still there) fail health.
void DbWorker::VerifyProblems(std::vector<std::string>& out) const {
  auto last = last_.find(JobKind::kVerify);
  if (last == last_.end()) return;
  for (const json& t : last->second.detail.value("targets", json::array())) {
    const json& p = t["problems"];
    if (p.empty()) continue;
    out.push_back("verify found " + std::to_string(p.size()) + " damaged object(s) in target " +
                  t.value("target", "") + ", e.g. " + p[0].value("object", "") + ": " +
                  p[0].value("error", ""));
  }
}

void DbWorker::VerifyMetrics(MetricsText& m) const {
  auto last = last_.find(JobKind::kVerify);
  if (last == last_.end()) return;
  for (const json& t : last->second.detail.value("targets", json::array())) {
    Labels l{{"database", db_.name}, {"target", t.value("target", "")}};
    m.Sample("aura_verify_objects", "gauge", "Snapshots and WAL segments in the target.", l,
             t.value("objects", 0));
    m.Sample("aura_verify_verified_in_cycle", "gauge",
             "Objects rolling verification checked in its current cycle.", l,
             t.value("verified_in_cycle", 0));
    m.Sample("aura_verify_damaged_objects", "gauge",
             "Objects the rolling verification found damaged (still in the target).", l,
             double(t["problems"].size()));
  }
  if (last->second.ok()) {
    m.Sample("aura_verify_last_success_timestamp_seconds", "gauge",
             "Unix time of the last rolling verification run that found nothing wrong.",
             {{"database", db_.name}}, double(ToUnixMicros(last->second.finished)) / 1e6);
  }
}

void DbWorker::DrillMetrics(MetricsText& m) const {
  const Labels db{{"database", db_.name}};
  auto rec = records_.find(JobKind::kDrill);
  if (rec != records_.end() && rec->second.last_ok) {
    m.Sample("aura_drill_last_success_timestamp_seconds", "gauge",
             "Unix time of the last passing restore drill.", db,
             double(ToUnixMicros(*rec->second.last_ok)) / 1e6);
  }
  auto last = last_.find(JobKind::kDrill);
  if (last == last_.end()) return;
  const json& d = last->second.detail;
  for (const char* outcome : {"pass", "fail", "inconclusive"}) {
    m.Sample("aura_drill_last_outcome", "gauge", "1 for the outcome of the last restore drill.",
             {{"database", db_.name}, {"outcome", outcome}},
             d.value("outcome", "") == outcome ? 1 : 0);
  }
  if (d.contains("rto_seconds") && d["rto_seconds"].is_number()) {
    m.Sample("aura_drill_rto_seconds", "gauge",
             "Seconds the last passing drill took from start to a verified database (RTO).", db,
             d["rto_seconds"].get<double>());
  }
  if (d.contains("rpo_seconds") && d["rpo_seconds"].is_number()) {
    m.Sample("aura_drill_rpo_seconds", "gauge",
             "Age of the newest restorable state against the source's newest change (RPO).", db,
             d["rpo_seconds"].get<double>());
  }
}

void DbWorker::ReplicationMetrics(MetricsText& m, TimePoint now) const {
  for (const auto& u : units_) {
    auto p = u->published();
    const backup::ReplicationStatus& s = p.status;
    Labels l{{"database", db_.name}, {"target", u->target()}};
    m.Sample("aura_replication_running", "gauge", "1 when WAL shipping runs.", l,
             p.running ? 1 : 0);
    m.Sample("aura_replication_spooled_txid", "gauge", "Last transaction durable in the spool.", l,
             double(s.spooled_txid));
    m.Sample("aura_replication_uploaded_txid", "gauge", "Last transaction durable in the target.",
             l, double(s.uploaded_txid));
    m.Sample("aura_replication_pending_transactions", "gauge",
             "Transactions spooled but not uploaded.", l, double(s.pending_txns));
    m.Sample("aura_spool_bytes", "gauge", "Bytes in the local spool.", l, double(s.spool_bytes));
    m.Sample("aura_segments_uploaded_total", "counter", "WAL segments uploaded.", l,
             double(s.segments_uploaded));
    m.Sample("aura_generations_started_total", "counter", "Replication generations started.", l,
             double(s.generations_started));
    m.Sample("aura_replication_polls_total", "counter",
             "Looks at the WAL (an idle database with inotify is looked at only when it changes).",
             l, double(p.polls));
    m.Sample("aura_replication_lag_seconds", "gauge",
             "Age of the oldest committed transaction not yet uploaded (0 when caught up).", l,
             p.LagSeconds(now));
    m.Hist("aura_replication_upload_delay_seconds",
           "Per upload: from the commit of its oldest transaction until durable in the target.", l,
           p.upload_delay);
    auto h = lag_seconds_.find(u->target());
    if (h != lag_seconds_.end()) {
      m.Hist("aura_replication_lag_sampled_seconds",
             "Replication lag sampled once a second, as a distribution.", l, h->second);
    }
  }
}

}  // namespace aura::agent
