#include "agent/daemon/replication_unit.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <future>

namespace aura::agent {

namespace net = boost::asio;
using std::chrono::milliseconds;
using std::chrono::seconds;

// How long a database is polled at poll_ms after its last change before it waits on inotify.
// Short, so a fleet whose databases commit now and then is not polled in between: a commit a
// minute costs about 2 s / poll_ms looks instead of 10 s / poll_ms.
constexpr seconds kPollAfterChange{2};

std::string PathComponent(const std::string& name) {
  std::string out;
  for (char c : name) out += c == '/' ? std::string("%2F") : std::string(1, c);
  return out;
}

double ReplicationUnit::Published::LagSeconds(TimePoint now) const {
  if (status.pending_txns == 0 || pending_since_us == 0) return 0;
  return std::max(0.0, double(ToUnixMicros(now) - pending_since_us) / 1e6);
}

ReplicationUnit::ReplicationUnit(WorkerContext& ctx, std::shared_ptr<RepoCache> repos,
                                 const DatabaseConfig& db, const AgentSettings& agent,
                                 std::string target)
    : step_(ctx.step.get_executor()),
      upload_(ctx.upload.get_executor()),
      clock_(ctx.clock),
      poll_timer_(step_, ctx.clock),
      retry_timer_(step_, ctx.clock),
      upload_timer_(upload_, ctx.clock),
      io_(ctx.io),
      repos_(std::move(repos)),
      target_(std::move(target)) {
  opts_.db_path = db.path;
  opts_.database = db.name;
  opts_.spool_dir = agent.state_dir + "/spool/" + PathComponent(db.name) + "/" + target_;
  opts_.busy_timeout_ms = db.busy_timeout_ms;
  opts_.poll_interval = milliseconds(agent.poll_ms);
  opts_.segment_max_age = milliseconds(agent.segment_ms);
  opts_.generation_max_age = seconds(db.generation_interval_s);
  opts_.clock = &clock_;
  poll_ = milliseconds(agent.poll_ms);
}

void ReplicationUnit::Begin() {
  net::post(step_, [self = shared_from_this()] { self->TryStart(); });
}

ReplicationUnit::Published ReplicationUnit::published() const {
  std::lock_guard lock(mu_);
  return pub_;
}

Result<backup::SnapshotResult> ReplicationUnit::SnapshotHere(const backup::SnapshotOptions& o) {
  auto done = std::make_shared<std::promise<Result<backup::SnapshotResult>>>();
  std::future<Result<backup::SnapshotResult>> result = done->get_future();
  net::post(step_, [self = shared_from_this(), o, done] {
    if (!self->started_ || self->stopping_) {
      done->set_value(Unavailable("shipping of " + self->opts_.database + " is not running"));
      return;
    }
    done->set_value(self->rep_->SnapshotHere(o));
    self->KickUpload();
  });
  return result.get();
}

void ReplicationUnit::Stop(std::function<void()> done) {
  stopping_ = true;
  auto self = shared_from_this();
  net::post(step_, [self, done = std::move(done)]() mutable {
    self->poll_timer_.Cancel();
    self->watch_.reset();
    self->retry_timer_.Cancel();
    if (self->started_) {
      Status s = self->rep_->Flush();
      if (!s.ok()) spdlog::warn("db={} op=replicate flush: {}", self->opts_.database, s.message());
    }
    net::post(self->upload_, [self, done = std::move(done)] { self->FinishStop(done); });
  });
}

void ReplicationUnit::FinishStop(std::function<void()> done) {
  upload_timer_.Cancel();
  if (started_) {
    Status s = rep_->Upload();
    Publish();
    backup::ReplicationStatus st = rep_->status();
    if (!s.ok()) {
      spdlog::warn(
          "db={} target={} op=replicate stopping with {} transaction(s) in the spool ({}); they "
          "upload on the next start",
          opts_.database, target_, st.pending_txns, s.message());
    } else {
      spdlog::info("db={} target={} op=replicate stopped at txid {}", opts_.database, target_,
                   st.uploaded_txid);
    }
    rep_->Close();  // the spool's lock is free for the worker a reload starts next
  }
  net::post(io_, std::move(done));
}

void ReplicationUnit::TryStart() {
  if (stopping_) return;
  auto repo = repos_->Get(target_);
  Status s = repo.status();
  if (repo.ok()) {
    rep_ = std::make_unique<backup::Replicator>(opts_, *repo);
    s = rep_->Start();
  }
  if (!s.ok()) return RetryStartLater(s);
  compactor_ = std::make_unique<backup::Compactor>(*repo, opts_.database,
                                                   opts_.spool_dir + "/compaction", &clock_);
  rep_->KeepUploaded([c = compactor_.get()](const std::string& path,
                                            const backup::SegmentHeader& h) { c->Adopt(path, h); });
  started_ = true;
  backoff_ = milliseconds(1000);
  {
    std::lock_guard lock(mu_);
    pub_.start_error.clear();
    pub_.running = true;
  }
  spdlog::info("db={} target={} op=replicate started (spool {})", opts_.database, target_,
               opts_.spool_dir);
  last_change_ = clock_.SteadyNow();
  watch_ = WalWatch::Open(step_, opts_.db_path);
  {
    std::lock_guard lock(mu_);
    pub_.watching = watch_ != nullptr;
  }
  Publish();
  KickUpload();
  ScheduleStep();
}

void ReplicationUnit::RetryStartLater(const Status& why) {
  rep_.reset();
  {
    std::lock_guard lock(mu_);
    if (pub_.start_error.empty()) pub_.start_error_since = clock_.Now();
    pub_.start_error = why.message();
  }
  spdlog::error("db={} target={} op=replicate cannot start: {} (retrying in {} s)", opts_.database,
                target_, why.message(), backoff_.count() / 1000);
  retry_timer_.ExpiresAfter(backoff_);
  backoff_ = std::min(backoff_ * 2, milliseconds(60000));
  retry_timer_.AsyncWait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->TryStart();
  });
}

void ReplicationUnit::ScheduleStep() {
  if (stopping_) return;
  const bool idle = clock_.SteadyNow() - last_change_ > kPollAfterChange;
  if (idle && watch_) return WaitIdle();
  // Without a watch an idle database is polled less often; a commit still leaves within a
  // second.
  auto interval = clock_.SteadyNow() - last_change_ > kPollAfterChange
                      ? std::max(poll_, milliseconds(250))
                      : poll_;
  poll_timer_.ExpiresAfter(interval);
  poll_timer_.AsyncWait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) self->DoStep();
  });
}

void ReplicationUnit::WaitIdle() {
  const uint64_t id = ++wait_id_;
  auto self = shared_from_this();
  poll_timer_.ExpiresAfter(seconds(30));
  poll_timer_.AsyncWait([self, id](boost::system::error_code ec) {
    if (!ec) self->WakeIdle(id, false);
  });
  watch_->AsyncWait([self, id] { self->WakeIdle(id, true); });
}

void ReplicationUnit::WakeIdle(uint64_t id, bool by_watch) {
  if (id != wait_id_ || stopping_) return;  // the other one already woke it
  ++wait_id_;
  // A write to the -wal comes before the commit is published in the -shm index (a memory
  // write inotify cannot see): poll at poll_ms for a while, as after any change, so the commit
  // is seen within poll_ms of being published.
  if (by_watch) last_change_ = clock_.SteadyNow();
  watch_->Cancel();
  poll_timer_.Cancel();
  DoStep();
}

void ReplicationUnit::DoStep() {
  if (stopping_) return;
  {
    std::lock_guard lock(mu_);
    ++pub_.polls;
  }
  (void)rep_->Step();  // errors are in its status
  backup::ReplicationStatus s = rep_->status();
  const auto now = clock_.SteadyNow();
  if (s.spooled_txid != last_spooled_) {
    last_spooled_ = s.spooled_txid;
    last_change_ = now;
  }
  Publish(s);
  // Uploads when something is pending; every 10 s regardless, to give compaction its turn
  // (it decides itself whether there can be work) and retry a spool left by an earlier run.
  if (s.spooled_txid > s.uploaded_txid || now - last_periodic_kick_ >= seconds(10)) {
    last_periodic_kick_ = now;
    KickUpload();
  }
  ScheduleStep();
}

void ReplicationUnit::KickUpload() {
  if (upload_busy_.exchange(true)) return;
  net::post(upload_, [self = shared_from_this()] { self->DoUpload(); });
}

void ReplicationUnit::DoUpload() {
  if (stopping_) {
    upload_busy_ = false;
    return;
  }
  const int64_t oldest_us = published().pending_since_us;
  const uint64_t uploaded_before = rep_->status().uploaded_txid;
  Status s = rep_->Upload();
  if (s.ok() && oldest_us > 0 && rep_->status().uploaded_txid > uploaded_before) {
    std::lock_guard lock(mu_);
    pub_.upload_delay.Observe(double(ToUnixMicros(clock_.Now()) - oldest_us) / 1e6);
  }
  if (s.ok()) {
    auto c = compactor_->RunIfDue(rep_->status().segments_uploaded);
    if (!c.ok()) {
      spdlog::error("db={} target={} op=compact {}", opts_.database, target_, c.status().message());
    }
  }
  Publish();
  if (!s.ok()) return RetryUploadLater();
  upload_backoff_ = milliseconds(100);
  upload_busy_ = false;
}

void ReplicationUnit::RetryUploadLater() {
  // Keep the busy flag: the retry timer owns the next attempt.
  upload_timer_.ExpiresAfter(upload_backoff_);
  upload_backoff_ = std::min(upload_backoff_ * 2, milliseconds(10000));
  upload_timer_.AsyncWait([self = shared_from_this()](boost::system::error_code ec) {
    if (!ec) {
      self->DoUpload();
    } else {
      self->upload_busy_ = false;
    }
  });
}

void ReplicationUnit::Publish(std::optional<backup::ReplicationStatus> s) {
  backup::ReplicationStatus st = s ? *s : rep_->status();
  std::lock_guard lock(mu_);
  if (st.pending_txns == 0) {
    pub_.pending_since_us = 0;
  } else if (pub_.pending_since_us == 0) {
    pub_.pending_since_us = st.last_commit_us > 0 ? st.last_commit_us : ToUnixMicros(clock_.Now());
  }
  pub_.status = std::move(st);
}

}  // namespace aura::agent
