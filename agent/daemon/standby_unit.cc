#include "agent/daemon/standby_unit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "agent/jobs.h"
#include "agent/storage_url.h"
#include "backup/standby.h"
#include "common/clock.h"
#include "common/file_io.h"
#include "common/sqlite_integrity.h"

namespace aura::agent {

using nlohmann::json;

namespace {

int64_t NowUs() { return ToUnixMicros(std::chrono::system_clock::now()); }

json TimeOrNull(int64_t us) {
  if (us <= 0) return nullptr;
  return FormatRfc3339(TimePoint(std::chrono::microseconds(us)), 3);
}

// The repository of the standby's target, opened for reading: a standby never creates one.
Result<std::unique_ptr<backup::Repository>> OpenSource(const Config& config,
                                                       const StandbyConfig& sb) {
  const TargetConfig* t = config.FindTarget(sb.from);
  if (t == nullptr) return ConfigError("unknown target '" + sb.from + "'");
  AURA_ASSIGN_OR_RETURN(auto storage, OpenTarget(*t));
  AURA_ASSIGN_OR_RETURN(backup::KeySource keys, KeySourceFor(config, *t));
  auto repo = backup::Repository::Open(storage, keys);
  if (!repo.ok()) return repo.status().WithContext("target '" + sb.from + "'");
  return std::move(repo).value();
}

}  // namespace

StandbyUnit::StandbyUnit(StandbyConfig standby, std::shared_ptr<const Config> config)
    : sb_(std::move(standby)), config_(std::move(config)) {}

StandbyUnit::~StandbyUnit() {
  RequestStop();
  Join();
}

void StandbyUnit::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void StandbyUnit::RequestStop() {
  {
    std::lock_guard lock(wake_mu_);
    stop_ = true;
  }
  wake_.notify_all();
}

void StandbyUnit::Join() {
  if (thread_.joinable()) thread_.join();
}

bool StandbyUnit::Sleep(int64_t ms) {
  std::unique_lock lock(wake_mu_);
  wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_.load(); });
  return !stop_;
}

void StandbyUnit::SetError(const std::string& message) {
  bool changed = false;
  Update([&](View& v) {
    changed = v.error != message;
    if (v.error.empty()) v.error_since_us = NowUs();
    v.error = message;
    if (v.state != "opening" || v.txid == 0) v.state = "failing";
  });
  if (changed) spdlog::error("standby={} op=follow {}", sb_.name, message);
}

// While a promotion's release file exists: lets go of the standby and waits. True if released.
bool StandbyUnit::Released() {
  if (!PathExists(backup::StandbyReleasePath(sb_.path))) return false;
  if (standby_ != nullptr) {
    standby_.reset();
    spdlog::info("standby={} op=release let go of {} for a promotion", sb_.name, sb_.path);
  }
  Update([](View& v) { v.state = "released"; });
  return true;
}

aura::Status StandbyUnit::OpenIfNeeded() {
  if (repo_ == nullptr) {
    AURA_ASSIGN_OR_RETURN(repo_, OpenSource(*config_, sb_));
  }
  if (standby_ != nullptr) return aura::Status::Ok();
  backup::StandbyOptions o;
  o.database = sb_.database;
  auto level = ParseIntegrityLevel(sb_.check);  // checked by the config
  o.seed_check = level.ok() ? *level : IntegrityLevel::kQuick;
  o.holder = "run (the agent's [[standby]] '" + sb_.name + "')";
  Update([](View& v) { v.state = "opening"; });
  auto opened = backup::Standby::Open(*repo_, sb_.path, o);
  if (opened.status().code() == Code::kAlreadyExists) {
    // Promoted, or another file: never replaced by the daemon.
    return AlreadyExists(sb_.path +
                         " is not a standby (it was promoted, or is another file) and is left "
                         "alone; remove this [[standby]] from the config and reload, or move the "
                         "file away to seed a new standby there");
  }
  if (!opened.ok()) return opened.status().WithContext(sb_.path);
  standby_ = std::move(opened).value();
  const backup::StandbyState& s = standby_->state();
  spdlog::info("standby={} op=follow {} of '{}' from target '{}' at txid {}", sb_.name, sb_.path,
               s.database, sb_.from, s.txid);
  Update([&](View& v) {
    v.state = "following";
    v.database = s.database;
    v.generation = s.generation;
    v.txid = s.txid;
    v.commit_us = s.commit_us;
  });
  return aura::Status::Ok();
}

void StandbyUnit::Record(const backup::StandbyStep& step, int64_t looked_us) {
  const backup::StandbyState& s = standby_->state();
  if (step.reseeded) {
    spdlog::info("standby={} op=reseed {} reseeded at txid {}", sb_.name, sb_.path, s.txid);
  }
  Update([&](View& v) {
    v.state = "following";
    v.error.clear();
    v.error_since_us = 0;
    v.database = s.database;
    v.generation = s.generation;
    v.txid = s.txid;
    v.commit_us = s.commit_us;
    v.newest_txid = std::max(step.newest_txid, s.txid);
    if (step.to_txid >= step.newest_txid) v.caught_up_us = looked_us;
    if (step.first_commit_us > 0) v.apply_lag_s = double(NowUs() - step.first_commit_us) / 1e6;
    v.segments += step.segments;
    v.reseeds += step.reseeded ? 1 : 0;
  });
}

void StandbyUnit::Loop() {
  // Opening the target or seeding backs off (doubling up to a minute); catching up retries at
  // the poll interval.
  int64_t backoff = sb_.poll_ms;
  while (!stop_) {
    if (Released()) {
      Sleep(std::min<int64_t>(sb_.poll_ms, 200));
      continue;
    }
    aura::Status opened = OpenIfNeeded();
    if (!opened.ok()) {
      SetError(opened.message());
      Sleep(backoff);
      backoff = std::min<int64_t>(backoff * 2, std::max<int64_t>(sb_.poll_ms, 60000));
      continue;
    }
    backoff = sb_.poll_ms;
    const int64_t looked_us = NowUs();
    auto step = standby_->CatchUp();
    if (!step.ok()) {
      SetError(step.status().WithContext("standby " + sb_.path).message());
      Sleep(sb_.poll_ms);
      continue;
    }
    Record(*step, looked_us);
    const bool more = step->to_txid != step->from_txid && step->to_txid < step->newest_txid;
    if (!more) Sleep(sb_.poll_ms);
  }
  standby_.reset();
  Update([](View& v) { v.state = "stopped"; });
}

json StandbyUnit::Status() const {
  std::lock_guard lock(mu_);
  const int64_t now = NowUs();
  const View& v = view_;
  json j = {{"name", sb_.name},
            {"path", sb_.path},
            {"from", sb_.from},
            {"database", v.database.empty() ? json(sb_.database) : json(v.database)},
            {"state", v.state},
            {"generation", v.generation},
            {"txid", v.txid},
            {"newest_txid", v.newest_txid},
            {"commit_time", TimeOrNull(v.commit_us)},
            {"caught_up", TimeOrNull(v.caught_up_us)},
            {"lag_seconds", v.caught_up_us > 0 ? json(double(now - v.caught_up_us) / 1e6) : json()},
            {"apply_lag_seconds", v.apply_lag_s >= 0 ? json(v.apply_lag_s) : json()},
            {"max_lag_seconds", sb_.max_lag_s},
            {"segments_applied", v.segments},
            {"reseeds", v.reseeds},
            {"error", v.error.empty() ? json() : json(v.error)},
            {"error_since", TimeOrNull(v.error_since_us)}};
  j["problems"] = json::array();
  for (const std::string& p : ProblemsOf(v, now)) j["problems"].push_back(p);
  j["healthy"] = j["problems"].empty();
  return j;
}

std::vector<std::string> StandbyUnit::Problems() const {
  std::lock_guard lock(mu_);
  return ProblemsOf(view_, NowUs());
}

std::vector<std::string> StandbyUnit::ProblemsOf(const View& v, int64_t now) const {
  std::vector<std::string> out;
  if (!v.error.empty()) out.push_back("standby '" + sb_.name + "' is failing: " + v.error);
  if (v.caught_up_us > 0 && now - v.caught_up_us > sb_.max_lag_s * 1000000) {
    out.push_back("standby '" + sb_.name + "' lags " +
                  std::to_string((now - v.caught_up_us) / 1000000) +
                  " s behind its target (max_lag " + std::to_string(sb_.max_lag_s) + " s)");
  }
  if (v.caught_up_us == 0 && v.error_since_us > 0 &&
      now - v.error_since_us > sb_.max_lag_s * 1000000) {
    out.push_back("standby '" + sb_.name + "' has not caught up since it started");
  }
  return out;
}

void StandbyUnit::Metrics(MetricsText& m) const {
  std::lock_guard lock(mu_);
  const int64_t now = NowUs();
  const Labels l = {{"standby", sb_.name}};
  m.Sample("aura_standby_txid", "gauge", "The transaction the standby holds.", l,
           double(view_.txid));
  if (view_.caught_up_us > 0) {
    m.Sample("aura_standby_lag_seconds", "gauge",
             "Seconds since the standby was last seen holding every transaction of its target.", l,
             double(now - view_.caught_up_us) / 1e6);
  }
  if (view_.apply_lag_s >= 0) {
    m.Sample("aura_standby_apply_lag_seconds", "gauge",
             "Source commit to standby apply, for the newest catch-up that applied something.", l,
             view_.apply_lag_s);
  }
  m.Sample("aura_standby_segments_applied_total", "counter", "WAL segments applied to the standby.",
           l, double(view_.segments));
  m.Sample("aura_standby_reseeds_total", "counter", "Reseeds of the standby from a snapshot.", l,
           double(view_.reseeds));
  m.Sample("aura_standby_failing", "gauge", "1 while the standby's last step failed.", l,
           view_.error.empty() ? 0 : 1);
}

}  // namespace aura::agent
