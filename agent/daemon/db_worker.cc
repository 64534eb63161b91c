#include "agent/daemon/db_worker.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <mutex>

#include "agent/jobs.h"
#include "backup/compactor.h"
#include "backup/replicator.h"
#include "backup/storage/s3_storage.h"
#include "common/file_io.h"

namespace aura::agent {

namespace net = boost::asio;
using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Steady = std::chrono::steady_clock;

namespace {

// A database name as one path component: '/' (allowed in names) becomes "%2F".
std::string PathComponent(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '/' ? std::string("%2F") : std::string(1, c);
  return out;
}

std::string Rfc(TimePoint t) { return FormatRfc3339(t, 3); }

json OutcomeJson(const JobOutcome& o) {
  json j = o.detail;
  j["result"] = o.ok ? "ok" : "error";
  j["finished"] = Rfc(o.finished);
  j["duration_ms"] = o.duration_ms;
  if (!o.ok) j["error"] = o.error;
  return j;
}

}  // namespace

// Repositories of one database's targets, opened on first use from any pool thread. A failed
// open is retried on the next use.
class RepoCache {
 public:
  explicit RepoCache(std::shared_ptr<const Config> config) : config_(std::move(config)) {}

  Result<std::shared_ptr<backup::Repository>> Get(const std::string& target) {
    std::lock_guard lock(mu_);
    auto it = repos_.find(target);
    if (it != repos_.end()) return it->second;
    AURA_ASSIGN_OR_RETURN(auto handles, OpenTargets(*config_, {target}));
    std::shared_ptr<backup::Repository> repo = handles.front().repo;
    // Multipart uploads left open by a killed agent would be billed forever: abort day-old ones.
    if (auto* s3 = dynamic_cast<backup::S3Storage*>(&repo->storage())) {
      auto aborted = s3->AbortStaleUploads(std::chrono::hours(24));
      if (aborted.ok() && *aborted > 0) {
        spdlog::warn("target={} op=cleanup aborted {} stale multipart upload(s)", target, *aborted);
      }
    }
    repos_[target] = repo;
    return repo;
  }

 private:
  std::mutex mu_;
  std::shared_ptr<const Config> config_;
  std::map<std::string, std::shared_ptr<backup::Repository>> repos_;
};

// Continuous WAL shipping of one database to one target.
class ReplicationUnit : public std::enable_shared_from_this<ReplicationUnit> {
 public:
  struct Published {
    bool running = false;
    backup::ReplicationStatus status;
    std::string start_error;
    TimePoint start_error_since{};
    // Observed commit time of the oldest transaction not yet uploaded (0: none pending).
    int64_t pending_since_us = 0;

    double LagSeconds(TimePoint now) const {
      if (status.pending_txns == 0 || pending_since_us == 0) return 0;
      return std::max(0.0, double(ToUnixMicros(now) - pending_since_us) / 1e6);
    }
  };

  ReplicationUnit(Pools& pools, std::shared_ptr<RepoCache> repos, const DatabaseConfig& db,
                  const AgentSettings& agent, std::string target)
      : step_(pools.step.get_executor()),
        upload_(pools.upload.get_executor()),
        poll_timer_(step_),
        retry_timer_(step_),
        upload_timer_(upload_),
        io_(pools.io),
        repos_(std::move(repos)),
        target_(std::move(target)) {
    opts_.db_path = db.path;
    opts_.database = db.name;
    opts_.spool_dir = agent.state_dir + "/spool/" + PathComponent(db.name) + "/" + target_;
    opts_.busy_timeout_ms = db.busy_timeout_ms;
    opts_.poll_interval = milliseconds(agent.poll_ms);
    opts_.segment_max_age = milliseconds(agent.segment_ms);
    opts_.generation_max_age = seconds(db.generation_interval_s);
    poll_ = milliseconds(agent.poll_ms);
  }

  const std::string& target() const { return target_; }

  void Begin() {
    net::post(step_, [self = shared_from_this()] { self->TryStart(); });
  }

  void Stop(std::function<void()> done) {
    stopping_ = true;
    auto self = shared_from_this();
    net::post(step_, [self, done] {
      self->poll_timer_.cancel();
      self->retry_timer_.cancel();
      if (self->started_) {
        Status s = self->rep_->Flush();
        if (!s.ok())
          spdlog::warn("db={} op=replicate flush: {}", self->opts_.database, s.message());
      }
      net::post(self->upload_, [self, done] {
        self->upload_timer_.cancel();
        if (self->started_) {
          Status s = self->rep_->Upload();
          self->Publish();
          backup::ReplicationStatus st = self->rep_->status();
          if (!s.ok()) {
            spdlog::warn(
                "db={} target={} op=replicate stopping with {} transaction(s) in the "
                "spool ({}); they upload on the next start",
                self->opts_.database, self->target_, st.pending_txns, s.message());
          } else {
            spdlog::info("db={} target={} op=replicate stopped at txid {}", self->opts_.database,
                         self->target_, st.uploaded_txid);
          }
        }
        net::post(self->io_, done);
      });
    });
  }

  Published published() const {
    std::lock_guard lock(mu_);
    return pub_;
  }

 private:
  void TryStart() {
    if (stopping_) return;
    auto repo = repos_->Get(target_);
    Status s = repo.status();
    if (repo.ok()) {
      rep_ = std::make_unique<backup::Replicator>(opts_, *repo);
      s = rep_->Start();
    }
    if (!s.ok()) {
      rep_.reset();
      {
        std::lock_guard lock(mu_);
        if (pub_.start_error.empty()) pub_.start_error_since = SystemClock::Instance().Now();
        pub_.start_error = s.message();
      }
      spdlog::error("db={} target={} op=replicate cannot start: {} (retrying in {} s)",
                    opts_.database, target_, s.message(), backoff_.count() / 1000);
      retry_timer_.expires_after(backoff_);
      backoff_ = std::min(backoff_ * 2, milliseconds(60000));
      retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->TryStart();
      });
      return;
    }
    compactor_ =
        std::make_unique<backup::Compactor>(*repo, opts_.database, opts_.spool_dir + "/compaction");
    started_ = true;
    backoff_ = milliseconds(1000);
    {
      std::lock_guard lock(mu_);
      pub_.start_error.clear();
      pub_.running = true;
    }
    spdlog::info("db={} target={} op=replicate started (spool {})", opts_.database, target_,
                 opts_.spool_dir);
    last_change_ = Steady::now();
    Publish();
    KickUpload();
    ScheduleStep();
  }

  void ScheduleStep() {
    if (stopping_) return;
    // An idle database is polled less often; a commit still leaves within a second.
    auto interval =
        Steady::now() - last_change_ > seconds(10) ? std::max(poll_, milliseconds(250)) : poll_;
    poll_timer_.expires_after(interval);
    poll_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->DoStep();
    });
  }

  void DoStep() {
    if (stopping_) return;
    (void)rep_->Step();  // errors are in its status
    backup::ReplicationStatus s = rep_->status();
    if (s.spooled_txid != last_spooled_) {
      last_spooled_ = s.spooled_txid;
      last_change_ = Steady::now();
    }
    Publish(s);
    // Uploads when something is pending; every 10 s regardless, to give compaction its turn
    // (it decides itself whether there can be work) and retry a spool left by an earlier run.
    if (s.spooled_txid > s.uploaded_txid || Steady::now() - last_periodic_kick_ >= seconds(10)) {
      last_periodic_kick_ = Steady::now();
      KickUpload();
    }
    ScheduleStep();
  }

  void KickUpload() {
    if (upload_busy_.exchange(true)) return;
    net::post(upload_, [self = shared_from_this()] { self->DoUpload(); });
  }

  void DoUpload() {
    if (stopping_) {
      upload_busy_ = false;
      return;
    }
    Status s = rep_->Upload();
    if (s.ok()) {
      auto c = compactor_->RunIfDue(rep_->status().segments_uploaded);
      if (!c.ok()) {
        spdlog::error("db={} target={} op=compact {}", opts_.database, target_,
                      c.status().message());
      }
    }
    Publish();
    if (s.ok()) {
      upload_backoff_ = milliseconds(100);
      upload_busy_ = false;
      return;
    }
    // Keep the busy flag: the retry timer owns the next attempt.
    upload_timer_.expires_after(upload_backoff_);
    upload_backoff_ = std::min(upload_backoff_ * 2, milliseconds(10000));
    upload_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) {
        self->DoUpload();
      } else {
        self->upload_busy_ = false;
      }
    });
  }

  void Publish(std::optional<backup::ReplicationStatus> s = std::nullopt) {
    backup::ReplicationStatus st = s ? *s : rep_->status();
    std::lock_guard lock(mu_);
    if (st.pending_txns == 0) {
      pub_.pending_since_us = 0;
    } else if (pub_.pending_since_us == 0) {
      pub_.pending_since_us =
          st.last_commit_us > 0 ? st.last_commit_us : ToUnixMicros(SystemClock::Instance().Now());
    }
    pub_.status = std::move(st);
  }

  net::strand<net::thread_pool::executor_type> step_, upload_;
  net::steady_timer poll_timer_, retry_timer_, upload_timer_;
  net::io_context& io_;
  std::shared_ptr<RepoCache> repos_;
  std::string target_;
  backup::ReplicatorOptions opts_;
  milliseconds poll_{100};
  milliseconds backoff_{1000};
  milliseconds upload_backoff_{100};
  std::unique_ptr<backup::Replicator> rep_;
  std::unique_ptr<backup::Compactor> compactor_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> started_{false};
  std::atomic<bool> upload_busy_{false};
  Steady::time_point last_change_{};
  Steady::time_point last_periodic_kick_{};
  uint64_t last_spooled_ = 0;
  mutable std::mutex mu_;
  Published pub_;
};

DbWorker::DbWorker(Pools pools, std::shared_ptr<const Config> config, const DatabaseConfig& db)
    : pools_(pools),
      config_(std::move(config)),
      db_(db),
      repos_(std::make_shared<RepoCache>(config_)),
      heavy_(pools.heavy.get_executor()) {
  const auto max_jitter = seconds(config_->agent.jitter_s);
  auto add = [&](const std::string& job, scheduler::Period period, int minute,
                 const std::string& at, const std::string& day, const std::string& tz) {
    auto s = scheduler::MakeSchedule(period, minute, at, day, tz);
    if (!s.ok()) {
      spdlog::error("db={} job={}: {}", db_.name, job, s.status().message());
      return;
    }
    // Jitter below a quarter of the period, fixed per (database, job).
    auto cap = std::min(max_jitter, std::chrono::duration_cast<seconds>(s->PeriodLength() / 4));
    s->jitter = scheduler::JitterFor(db_.name + "/" + job, cap);
    schedules_[job] = *s;
  };
  using scheduler::Period;
  if (db_.hourly.enabled)
    add("hourly", Period::kHourly, db_.hourly.minute, "", "", db_.hourly.timezone);
  if (db_.daily.enabled) add("daily", Period::kDaily, 0, db_.daily.at, "", db_.daily.timezone);
  if (db_.weekly.enabled)
    add("weekly", Period::kWeekly, 0, db_.weekly.at, db_.weekly.day, db_.weekly.timezone);
  if (db_.monthly.enabled)
    add("monthly", Period::kMonthly, 0, db_.monthly.at, db_.monthly.day, db_.monthly.timezone);
  for (auto [name, c] :
       {std::pair<const char*, const CheckConfig*>{"check", &db_.check}, {"drill", &db_.drill}}) {
    if (!c->enabled) continue;
    add(name, c->day.empty() ? Period::kDaily : Period::kWeekly, 0, c->at, c->day, c->timezone);
  }
}

DbWorker::~DbWorker() = default;

void DbWorker::Start() {
  started_ = SystemClock::Instance().Now();
  for (const auto& [job, schedule] : schedules_) {
    auto r = pools_.state.Job(db_.name, job, started_);
    if (r.ok()) records_[job] = *r;
  }
  if (db_.continuous) {
    for (const std::string& t : db_.targets) {
      auto unit = std::make_shared<ReplicationUnit>(pools_, repos_, db_, config_->agent, t);
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
    net::post(pools_.io, done);
    return;
  }
  auto remaining = std::make_shared<size_t>(units_.size());
  for (auto& u : units_) {
    u->Stop([remaining, done] {
      if (--*remaining == 0) done();
    });
  }
}

bool DbWorker::Submit(const std::string& job, std::function<void(const JobOutcome&)> on_done) {
  if (stopping_ || queued_.count(job)) return false;
  queued_.insert(job);
  auto self = shared_from_this();
  net::post(heavy_, [self, job, on_done] {
    JobOutcome out = self->Execute(job);
    net::post(self->pools_.io, [self, job, out, on_done] {
      self->queued_.erase(job);
      self->Record(job, out);
      if (on_done) on_done(out);
    });
  });
  return true;
}

JobOutcome DbWorker::Execute(const std::string& job) {
  const auto t0 = Steady::now();
  JobOutcome out;
  if (FindPolicy(db_, job) != nullptr) {
    out = Snapshot(job);
  } else if (job == "backup") {
    std::string policy = "manual";
    for (const char* p : {"hourly", "daily", "weekly", "monthly"}) {
      if (FindPolicy(db_, p)->enabled) {
        policy = p;
        break;
      }
    }
    out = Snapshot(policy);
  } else if (job == "check") {
    IntegrityLevel level =
        db_.check.level == "full" ? IntegrityLevel::kFull : IntegrityLevel::kQuick;
    auto problems = RunCheck(db_, level);
    if (!problems.ok()) {
      out.error = problems.status().message();
    } else if (!problems->empty()) {
      out.error = std::string(IntegrityLevelName(level)) + " integrity check found " +
                  std::to_string(problems->size()) + " problem(s): " + problems->front();
      out.detail["problems"] = *problems;
    } else {
      out.ok = true;
      out.detail["level"] = IntegrityLevelName(level);
    }
  } else if (job == "drill") {
    out.ok = true;
    json per_target = json::array();
    for (const std::string& t : db_.targets) {
      auto repo = repos_->Get(t);
      Result<DrillResult> d =
          repo.ok() ? RunDrill(**repo, db_,
                               config_->agent.state_dir + "/drill/" + PathComponent(db_.name))
                    : Result<DrillResult>(repo.status());
      if (!d.ok()) {
        out.ok = false;
        out.error +=
            (out.error.empty() ? "" : "; ") + ("target " + t + ": " + d.status().message());
        continue;
      }
      (void)pools_.state.MarkVerified(db_.name, t, d->snapshot, SystemClock::Instance().Now());
      per_target.push_back({{"target", t},
                            {"snapshot", d->snapshot},
                            {"bytes", d->bytes},
                            {"txid", d->txid},
                            {"duration_ms", d->duration_ms}});
    }
    out.detail["targets"] = per_target;
  } else if (job == "prune") {
    out = Prune();
  } else {
    out.error = "unknown job " + job;
  }
  out.finished = SystemClock::Instance().Now();
  out.duration_ms = MillisSince(t0);
  aura::Status result = out.ok ? aura::Status::Ok() : IOError(out.error);
  (void)pools_.state.RecordRun(db_.name, job, out.finished, result, out.duration_ms,
                               out.detail.value("stored_size", uint64_t{0}),
                               out.detail.value("snapshot", std::string()));
  if (out.ok) {
    spdlog::info("db={} op={} ok in {} ms {}", db_.name, job, out.duration_ms, out.detail.dump());
  } else {
    spdlog::error("db={} op={} failed after {} ms: {}", db_.name, job, out.duration_ms, out.error);
  }
  return out;
}

JobOutcome DbWorker::Snapshot(const std::string& policy) {
  JobOutcome out;
  out.ok = true;
  const PolicyConfig* p = FindPolicy(db_, policy);
  std::vector<std::string> targets = p != nullptr ? PolicyTargets(db_, *p) : db_.targets;
  json per_target = json::array();
  for (const std::string& t : targets) {
    auto transient = [](const aura::Status& st) {
      return st.code() == Code::kUnavailable || st.code() == Code::kBusy;
    };
    auto repo = repos_->Get(t);
    if (!repo.ok()) {
      out.ok = false;
      out.transient = out.transient || transient(repo.status());
      out.error +=
          (out.error.empty() ? "" : "; ") + ("target " + t + ": " + repo.status().message());
      continue;
    }
    Result<PolicySnapshotResult> r = [&]() -> Result<PolicySnapshotResult> {
      if (p != nullptr) {
        return RunPolicySnapshot(db_, policy, p->full_every, TargetHandle{t, *repo}, pools_.state,
                                 2);
      }
      backup::SnapshotOptions o;
      o.database_name = db_.name;
      o.label = policy;
      o.busy_timeout_ms = db_.busy_timeout_ms;
      o.threads = 2;
      AURA_ASSIGN_OR_RETURN(backup::SnapshotResult s, backup::TakeSnapshot(db_.path, **repo, o));
      PolicySnapshotResult pr;
      pr.ref = s.ref;
      pr.manifest = std::move(s.manifest);
      pr.why_full = "manual snapshot";
      return pr;
    }();
    if (!r.ok()) {
      out.ok = false;
      out.transient = out.transient || transient(r.status());
      out.error += (out.error.empty() ? "" : "; ") + ("target " + t + ": " + r.status().message());
      continue;
    }
    const backup::SnapshotSummary& s = r->manifest.summary;
    json j = {{"target", t},
              {"snapshot", s.snapshot},
              {"kind", s.kind},
              {"base", s.base},
              {"why_full", r->why_full},
              {"pages_changed", r->manifest.pages_changed},
              {"size", s.size},
              {"stored_size", s.stored_size},
              {"snapshot_ms", r->manifest.duration_ms}};
    per_target.push_back(j);
    // The summary of the run: the last target's snapshot.
    for (const char* k : {"snapshot", "kind", "size", "stored_size"}) out.detail[k] = j[k];
  }
  out.detail["policy"] = policy;
  out.detail["targets"] = per_target;
  if (out.ok) {
    JobOutcome pruned = Prune();
    if (!pruned.ok) spdlog::warn("db={} op=prune after snapshot: {}", db_.name, pruned.error);
  }
  return out;
}

JobOutcome DbWorker::Prune() {
  JobOutcome out;
  out.ok = true;
  uint64_t deleted = 0;
  int temps = 0;
  for (const std::string& t : db_.targets) {
    auto repo = repos_->Get(t);
    auto verified = pools_.state.Verified(db_.name, t);
    Result<PruneReport> r =
        !repo.ok()       ? Result<PruneReport>(repo.status())
        : !verified.ok() ? Result<PruneReport>(verified.status())
                         : RunPrune(**repo, db_, *verified, SystemClock::Instance().Now(), false);
    if (!r.ok()) {
      out.ok = false;
      out.error += (out.error.empty() ? "" : "; ") + ("target " + t + ": " + r.status().message());
      continue;
    }
    deleted += r->deleted;
    temps += r->stale_temp_files;
  }
  out.detail["objects_deleted"] = deleted;
  out.detail["stale_temp_files_removed"] = temps;
  return out;
}

void DbWorker::Record(const std::string& job, const JobOutcome& out) {
  last_[job] = out;
  (out.ok ? runs_ok_ : runs_failed_)[job]++;
  if (out.ok && records_.count(job)) records_[job].last_ok = out.finished;
  const bool snapshot = FindPolicy(db_, job) != nullptr || job == "backup";
  if (snapshot) {
    last_snapshot_ = out;
    if (out.ok) {
      snapshot_seconds_.Observe(out.duration_ms / 1000.0);
      snapshot_bytes_stored_ += out.detail.value("stored_size", uint64_t{0});
    }
  }
  if (!out.ok) {
    last_error_ = out.error;
    last_error_op_ = job;
    last_error_time_ = out.finished;
  }
}

int64_t DbWorker::RpoSeconds() const { return db_.rpo_s > 0 ? db_.rpo_s : 60; }

void DbWorker::Sample(TimePoint now) {
  for (auto& u : units_) {
    auto p = u->published();
    if (p.running) lag_seconds_[u->target()].Observe(p.LagSeconds(now));
  }
}

json DbWorker::Status(
    TimePoint now,
    const std::function<std::optional<TimePoint>(const std::string&)>& next_run) const {
  json j = {{"name", db_.name},
            {"path", db_.path},
            {"targets", db_.targets},
            {"continuous", db_.continuous}};
  auto problems = Problems(now);
  j["healthy"] = problems.empty();
  j["problems"] = problems;
  j["last_snapshot"] = last_snapshot_ ? OutcomeJson(*last_snapshot_) : json(nullptr);
  if (!last_snapshot_) {
    // After a restart: what the state database remembers.
    for (const char* p : {"hourly", "daily", "weekly", "monthly"}) {
      auto it = records_.find(p);
      if (it == records_.end() || !it->second.last_ok) continue;
      if (!j["last_snapshot"].is_null() &&
          j["last_snapshot"]["finished"].get<std::string>() >= Rfc(*it->second.last_ok)) {
        continue;
      }
      j["last_snapshot"] = {{"result", "ok"},
                            {"finished", Rfc(*it->second.last_ok)},
                            {"policy", p},
                            {"snapshot", it->second.last_snapshot},
                            {"stored_size", it->second.last_size},
                            {"duration_ms", it->second.last_duration_ms},
                            {"from_state", true}};
    }
  }
  json repl = json::array();
  for (const auto& u : units_) {
    auto p = u->published();
    const backup::ReplicationStatus& s = p.status;
    const double lag = p.LagSeconds(now);
    json r = {{"target", u->target()},
              {"state", p.running               ? "running"
                        : p.start_error.empty() ? "starting"
                                                : "error"},
              {"generation", s.generation},
              {"spooled_txid", s.spooled_txid},
              {"uploaded_txid", s.uploaded_txid},
              {"pending_transactions", s.pending_txns},
              {"lag_seconds", lag},
              {"spool_bytes", s.spool_bytes},
              {"spool_segments", s.spool_segments},
              {"segments_uploaded", s.segments_uploaded},
              {"generations_started", s.generations_started}};
    if (s.last_commit_us > 0) r["last_commit"] = Rfc(FromUnixMicros(s.last_commit_us));
    if (!p.start_error.empty())
      r["error"] = p.start_error;
    else if (!s.last_error.empty())
      r["last_error"] = s.last_error;
    repl.push_back(r);
  }
  j["replication"] = repl;
  json next = json::object();
  for (const auto& [job, sched] : schedules_) {
    auto t = next_run(job);
    if (t) next[job] = Rfc(*t);
  }
  j["next_runs"] = next;
  for (const char* job : {"check", "drill", "prune"}) {
    auto it = last_.find(job);
    json last = it != last_.end() ? OutcomeJson(it->second) : json(nullptr);
    auto rec = records_.find(job);
    if (last.is_null() && rec != records_.end() && rec->second.last_run) {
      // After a restart: what the state database remembers of a scheduled check or drill.
      const JobRecord& r = rec->second;
      last = {{"result", r.last_result},
              {"finished", Rfc(*r.last_run)},
              {"duration_ms", r.last_duration_ms},
              {"from_state", true}};
      if (r.last_result != "ok") last["error"] = r.last_error;
    }
    j[std::string("last_") + job] = last;
  }
  json running = json::array();
  for (const std::string& q : queued_) running.push_back(q);
  j["jobs_queued_or_running"] = running;
  if (!last_error_.empty()) {
    j["last_error"] = {
        {"time", Rfc(last_error_time_)}, {"operation", last_error_op_}, {"message", last_error_}};
  } else {
    j["last_error"] = nullptr;
  }
  return j;
}

std::vector<std::string> DbWorker::Problems(TimePoint now) const {
  std::vector<std::string> out;
  const int64_t rpo = RpoSeconds();
  for (const auto& u : units_) {
    auto p = u->published();
    const backup::ReplicationStatus& s = p.status;
    if (!p.start_error.empty() && now - p.start_error_since > seconds(rpo)) {
      out.push_back(
          "continuous to " + u->target() + ": not running for " +
          std::to_string(std::chrono::duration_cast<seconds>(now - p.start_error_since).count()) +
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
  for (const auto& [job, sched] : schedules_) {
    if (job == "check" || job == "drill") continue;
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
    std::string why = job + " snapshot due at " + Rfc(expected) + " has not succeeded";
    auto it = last_.find(job);
    if (it != last_.end() && !it->second.ok) why += ": " + it->second.error;
    out.push_back(why);
  }
  for (const char* job : {"check", "drill"}) {
    auto it = last_.find(job);
    if (it != last_.end() && !it->second.ok) {
      out.push_back(std::string(job) + " failed at " + Rfc(it->second.finished) + ": " +
                    it->second.error);
    }
  }
  return out;
}

void DbWorker::Metrics(MetricsText& m) const {
  const Labels db{{"database", db_.name}};
  for (const auto& [job, n] : runs_ok_) {
    m.Sample("aura_jobs_total", "counter", "Jobs finished, by database, job and result.",
             {{"database", db_.name}, {"job", job}, {"result", "ok"}}, double(n));
  }
  for (const auto& [job, n] : runs_failed_) {
    m.Sample("aura_jobs_total", "counter", "Jobs finished, by database, job and result.",
             {{"database", db_.name}, {"job", job}, {"result", "error"}}, double(n));
  }
  m.Hist("aura_snapshot_duration_seconds", "Duration of successful snapshot jobs.", db,
         snapshot_seconds_);
  m.Sample("aura_snapshot_stored_bytes_total", "counter",
           "Bytes stored by snapshot jobs since the agent started.", db,
           double(snapshot_bytes_stored_));
  if (last_snapshot_ && last_snapshot_->ok) {
    m.Sample("aura_last_snapshot_timestamp_seconds", "gauge",
             "Unix time of the last successful snapshot.", db,
             double(ToUnixMicros(last_snapshot_->finished)) / 1e6);
  }
  m.Sample("aura_database_healthy", "gauge", "1 when the database is within its RPO.", db,
           Problems(SystemClock::Instance().Now()).empty() ? 1 : 0);
  const TimePoint now = SystemClock::Instance().Now();
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
    m.Sample("aura_replication_lag_seconds", "gauge",
             "Age of the oldest committed transaction not yet uploaded (0 when caught up).", l,
             p.LagSeconds(now));
    auto h = lag_seconds_.find(u->target());
    if (h != lag_seconds_.end()) {
      m.Hist("aura_replication_lag_sampled_seconds",
             "Replication lag sampled once a second, as a distribution.", l, h->second);
    }
  }
}

}  // namespace aura::agent
