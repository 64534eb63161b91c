#include "agent/daemon/daemon.h"

#include <fcntl.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/daemon/db_worker.h"
#include "agent/daemon/metrics.h"
#include "agent/daemon/status_server.h"
#include "agent/jobs.h"
#include "agent/output.h"
#include "agent/state_store.h"
#include "common/file_io.h"
#include "common/version.h"
#include "scheduler/scheduler.h"

namespace aura::agent {

namespace net = boost::asio;
using nlohmann::json;
using std::chrono::seconds;

namespace {

constexpr char kJobSep = '\x1f';

std::string JobId(const std::string& db, const std::string& job) { return db + kJobSep + job; }

// Plain lines to stderr under a service manager (journald adds time and level); otherwise a
// rotating file (10 MiB x 5) in the state directory, or stderr when log_file = "-".
Status SetupDaemonLogging(const AgentSettings& a) {
  const bool managed =
      std::getenv("INVOCATION_ID") != nullptr || std::getenv("JOURNAL_STREAM") != nullptr;
  std::shared_ptr<spdlog::logger> logger;
  if (managed || a.log_file == "-") {
    logger =
        std::make_shared<spdlog::logger>("aura", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    logger->set_pattern(managed ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  } else {
    std::string file = a.log_file.empty() ? a.state_dir + "/logs/agent.log" : a.log_file;
    AURA_RETURN_IF_ERROR(CreateDirectories(DirName(file), 0750));
    try {
      auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file, 10 << 20, 5);
      logger = std::make_shared<spdlog::logger>("aura", sink);
    } catch (const spdlog::spdlog_ex& e) {
      return IOError(std::string("cannot open the log file: ") + e.what());
    }
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(a.log_level));
  return Status::Ok();
}

// "%2F" -> "/", "%20" -> " " (a path segment; '+' stays '+'). nullopt on a bad escape.
std::optional<std::string> PercentDecode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

HttpResponse JsonResponse(int status, const json& j) {
  return {status, "application/json", j.dump(2) + "\n"};
}

HttpResponse Error(int status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}

class Daemon {
 public:
  Daemon(std::string config_path, Config config)
      : config_path_(std::move(config_path)),
        config_(std::make_shared<const Config>(std::move(config))),
        step_(config_->agent.workers),
        upload_(config_->agent.max_concurrent_uploads),
        heavy_(config_->agent.max_concurrent_snapshots),
        signals_(io_, SIGINT, SIGTERM, SIGHUP),
        sched_timer_(io_),
        sample_timer_(io_),
        prune_timer_(io_),
        shutdown_timer_(io_),
        server_(io_, [this](const HttpRequest& r) { return Handle(r); }) {}

  int Run();

 private:
  void StartWorker(const DatabaseConfig& db);
  void WaitSignal();
  void Reload();
  void BeginShutdown(const std::string& why);
  void ArmScheduler();
  void OnSchedule();
  // After a scheduled job: a transient failure (target unreachable, database busy) is retried
  // after 15 s, 30 s, 1 min, ... (at most 30 min apart) until it succeeds or the job's next
  // occurrence comes.
  void RetryIfTransient(const std::string& db, const std::string& job, const JobOutcome& out);
  void ArmSampler();
  void ArmPrune();
  HttpResponse Handle(const HttpRequest& r);
  json StatusJson();
  std::string MetricsText();
  std::vector<std::pair<std::string, std::string>> Problems();
  Pools pools() { return Pools{io_, step_, upload_, heavy_, *state_}; }

  std::string config_path_;
  std::shared_ptr<const Config> config_;
  net::io_context io_;
  net::thread_pool step_, upload_, heavy_;
  net::signal_set signals_;
  net::steady_timer sched_timer_, sample_timer_, prune_timer_, shutdown_timer_;
  StatusServer server_;
  std::unique_ptr<StateStore> state_;
  std::map<std::string, std::shared_ptr<DbWorker>> workers_;
  scheduler::Scheduler sched_;
  TimePoint started_{};
  TimePoint config_loaded_{};
  std::string config_error_;
  uint64_t reloads_ok_ = 0, reloads_failed_ = 0;
  std::map<std::string, uint64_t> http_by_status_;
  bool stopping_ = false;
  bool clean_stop_ = false;
  size_t restarting_ = 0;               // workers being replaced by a reload
  std::map<std::string, int> retries_;  // job id -> retries so far of its failed run
};

void Daemon::StartWorker(const DatabaseConfig& db) {
  auto w = std::make_shared<DbWorker>(pools(), config_, db);
  workers_[db.name] = w;
  w->Start();
  const TimePoint now = SystemClock::Instance().Now();
  for (const auto& [job, schedule] : w->schedules()) {
    auto rec = state_->Job(db.name, job, now);
    std::optional<TimePoint> last = rec.ok() ? rec->last_occurrence : std::nullopt;
    sched_.Add(JobId(db.name, job), schedule, last, now);
  }
}

int Daemon::Run() {
  started_ = config_loaded_ = SystemClock::Instance().Now();
  auto state = StateStore::Open(config_->agent.state_dir);
  if (!state.ok()) {
    spdlog::critical("op=start state database: {}", state.status().message());
    std::fprintf(stderr, "aura-agent: error: %s\n", state.status().message().c_str());
    return ExitCode(state.status());
  }
  state_ = std::move(state).value();
  Status listening = server_.ListenUnix(config_->agent.status_socket);
  if (listening.ok() && !config_->agent.status_tcp.empty()) {
    const AgentSettings& a = config_->agent;
    auto token = ReadStatusToken(a.status_token_file);
    listening = token.ok() ? server_.ListenTcp(a.status_tcp_host, a.status_tcp_port, *token)
                           : token.status();
  }
  if (!listening.ok()) {
    spdlog::critical("op=start status endpoint: {}", listening.message());
    std::fprintf(stderr, "aura-agent: error: %s\n", listening.message().c_str());
    return ExitCode(listening);
  }
  spdlog::info("op=start aura-agent {} pid {} config {} databases {} socket {}", kAgentVersion,
               ::getpid(), config_path_, config_->databases.size(), config_->agent.status_socket);
  for (const DatabaseConfig& db : config_->databases) StartWorker(db);
  WaitSignal();
  ArmScheduler();
  ArmSampler();
  ArmPrune();
  io_.run();
  if (!clean_stop_) {
    // The shutdown deadline passed with work in flight. Nothing partial is visible (objects
    // appear only when committed; spooled segments upload on the next start): leave now.
    spdlog::warn("op=stop shutdown_timeout reached; abandoning jobs in flight");
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  // Let running heavy jobs finish, within the remaining deadline.
  auto joined = std::async(std::launch::async, [this] {
    heavy_.join();
    upload_.join();
    step_.join();
  });
  if (joined.wait_for(seconds(config_->agent.shutdown_timeout_s)) != std::future_status::ready) {
    spdlog::warn("op=stop jobs still running after shutdown_timeout; abandoning them");
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  spdlog::info("op=stop stopped cleanly");
  spdlog::default_logger()->flush();
  return 0;
}

void Daemon::WaitSignal() {
  signals_.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      Reload();
    } else {
      BeginShutdown(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    if (!io_.stopped()) WaitSignal();
  });
}

void Daemon::Reload() {
  if (stopping_) return;
  auto loaded = LoadConfig(config_path_);
  if (!loaded.ok()) {
    ++reloads_failed_;
    config_error_ = loaded.status().message();
    spdlog::error("op=reload rejected {}; the previous configuration keeps running: {}",
                  config_path_, config_error_);
    return;
  }
  if (restarting_ > 0) {
    ++reloads_failed_;
    spdlog::warn("op=reload a previous reload is still restarting databases; try again shortly");
    return;
  }
  auto next = std::make_shared<const Config>(std::move(loaded).value());
  const AgentSettings& a = config_->agent;
  const AgentSettings& b = next->agent;
  if (a.state_dir != b.state_dir || a.status_socket != b.status_socket || a.workers != b.workers ||
      a.max_concurrent_snapshots != b.max_concurrent_snapshots ||
      a.max_concurrent_uploads != b.max_concurrent_uploads || a.status_tcp != b.status_tcp) {
    spdlog::warn(
        "op=reload [agent] state_dir, status socket and pool sizes take effect at the "
        "next restart");
  }
  spdlog::set_level(spdlog::level::from_str(b.log_level));
  auto old = config_;
  config_ = next;
  config_error_.clear();
  config_loaded_ = SystemClock::Instance().Now();
  ++reloads_ok_;
  int kept = 0, restarted = 0, added = 0, removed = 0;
  for (auto it = workers_.begin(); it != workers_.end();) {
    const std::string name = it->first;
    const DatabaseConfig* now_db = next->FindDatabase(name);
    const DatabaseConfig* was_db = old->FindDatabase(name);
    if (now_db != nullptr && was_db != nullptr &&
        next->Fingerprint(*now_db) == old->Fingerprint(*was_db)) {
      ++kept;
      ++it;
      continue;
    }
    for (const auto& [job, s] : it->second->schedules()) sched_.Remove(JobId(name, job));
    std::shared_ptr<DbWorker> w = it->second;
    it = workers_.erase(it);
    ++restarting_;
    std::optional<DatabaseConfig> replacement;
    if (now_db != nullptr) {
      replacement = *now_db;
      ++restarted;
    } else {
      ++removed;
    }
    w->Stop([this, w, replacement] {
      --restarting_;
      if (replacement && !stopping_ && !workers_.count(replacement->name)) {
        StartWorker(*replacement);
        ArmScheduler();
      }
    });
  }
  for (const DatabaseConfig& db : next->databases) {
    if (!workers_.count(db.name) && old->FindDatabase(db.name) == nullptr) {
      StartWorker(db);
      ++added;
    }
  }
  ArmScheduler();
  spdlog::info("op=reload applied {}: {} database(s) unchanged, {} restarted, {} added, {} removed",
               config_path_, kept, restarted, added, removed);
}

void Daemon::BeginShutdown(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("op=stop {}: finishing in-flight work (at most {} s)", why,
               config_->agent.shutdown_timeout_s);
  server_.Close();
  sched_timer_.cancel();
  sample_timer_.cancel();
  prune_timer_.cancel();
  shutdown_timer_.expires_after(seconds(config_->agent.shutdown_timeout_s));
  shutdown_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) io_.stop();  // clean_stop_ stays false
  });
  auto remaining = std::make_shared<size_t>(workers_.size() + 1);
  auto one_done = [this, remaining] {
    if (--*remaining > 0) return;
    clean_stop_ = true;
    shutdown_timer_.cancel();
    signals_.cancel();
    io_.stop();
  };
  for (auto& [name, w] : workers_) w->Stop(one_done);
  net::post(io_, one_done);
}

void Daemon::ArmScheduler() {
  if (stopping_) return;
  const TimePoint now = SystemClock::Instance().Now();
  TimePoint next = sched_.NextDue();
  // Wake at least every 30 s: the steady clock does not see wall-clock jumps (sleep, NTP).
  auto wait = next <= now ? std::chrono::milliseconds(0)
                          : std::min<std::chrono::milliseconds>(
                                std::chrono::duration_cast<std::chrono::milliseconds>(next - now) +
                                    std::chrono::milliseconds(1),
                                seconds(30));
  sched_timer_.expires_after(wait);
  sched_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) OnSchedule();
  });
}

void Daemon::OnSchedule() {
  const TimePoint now = SystemClock::Instance().Now();
  for (const scheduler::DueJob& due : sched_.TakeDue(now)) {
    auto sep = due.id.find(kJobSep);
    std::string db = due.id.substr(0, sep), job = due.id.substr(sep + 1);
    auto it = workers_.find(db);
    if (it == workers_.end()) continue;
    if (due.catch_up) {
      spdlog::info("db={} op={} catching up the missed run of {}", db, job,
                   FormatRfc3339(due.occurrence, 0));
    }
    const TimePoint occurrence = due.occurrence;
    bool queued = it->second->Submit(job, [this, db, job, occurrence](const JobOutcome& out) {
      // Handled, whatever the result: a failure shows in /healthz; a transient one is retried
      // with backoff until the next occurrence, others wait for it (or for an admin).
      (void)state_->SetOccurrence(db, job, occurrence);
      RetryIfTransient(db, job, out);
    });
    if (!queued) {
      (void)state_->SetOccurrence(db, job, occurrence);  // the run in progress covers it
    }
  }
  ArmScheduler();
}

void Daemon::RetryIfTransient(const std::string& db, const std::string& job,
                              const JobOutcome& out) {
  const std::string id = JobId(db, job);
  if (out.ok || !out.transient || stopping_) {
    retries_.erase(id);
    return;
  }
  int& attempt = retries_[id];
  const seconds delay =
      std::min(seconds(15) * (int64_t{1} << std::min(attempt, 10)), seconds(1800));
  ++attempt;
  const TimePoint now = SystemClock::Instance().Now();
  if (now + delay >= sched_.NextOf(id)) {
    retries_.erase(id);
    spdlog::warn("db={} op={} failed; the next scheduled run is sooner than a retry", db, job);
    return;
  }
  spdlog::warn("db={} op={} failed for a reason that may pass; retry {} in {} s", db, job, attempt,
               delay.count());
  auto timer = std::make_shared<net::steady_timer>(io_, delay);
  timer->async_wait([this, timer, db, job](boost::system::error_code ec) {
    if (ec || stopping_) return;
    auto it = workers_.find(db);
    if (it == workers_.end()) return;
    it->second->Submit(job, [this, db, job](const JobOutcome& o) { RetryIfTransient(db, job, o); });
  });
}

void Daemon::ArmSampler() {
  sample_timer_.expires_after(seconds(1));
  sample_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const TimePoint now = SystemClock::Instance().Now();
    for (auto& [name, w] : workers_) w->Sample(now);
    ArmSampler();
  });
}

void Daemon::ArmPrune() {
  prune_timer_.expires_after(seconds(config_->agent.prune_interval_s));
  prune_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    for (auto& [name, w] : workers_) w->Submit("prune");
    ArmPrune();
  });
}

std::vector<std::pair<std::string, std::string>> Daemon::Problems() {
  std::vector<std::pair<std::string, std::string>> out;
  const TimePoint now = SystemClock::Instance().Now();
  for (auto& [name, w] : workers_) {
    for (std::string& p : w->Problems(now)) out.emplace_back(name, std::move(p));
  }
  return out;
}

json Daemon::StatusJson() {
  const TimePoint now = SystemClock::Instance().Now();
  json dbs = json::array();
  bool healthy = true;
  for (auto& [name, w] : workers_) {
    const std::string db = name;
    json j = w->Status(now, [this, db](const std::string& job) -> std::optional<TimePoint> {
      TimePoint t = sched_.NextOf(JobId(db, job));
      if (t == TimePoint::max()) return std::nullopt;
      return t;
    });
    healthy = healthy && j["healthy"].get<bool>();
    dbs.push_back(std::move(j));
  }
  json agent = {{"version", kAgentVersion},
                {"pid", ::getpid()},
                {"started", FormatRfc3339(started_, 3)},
                {"uptime_seconds", std::chrono::duration_cast<seconds>(now - started_).count()},
                {"config_path", config_path_},
                {"config_loaded", FormatRfc3339(config_loaded_, 3)},
                {"config_error", config_error_.empty() ? json(nullptr) : json(config_error_)},
                {"state_dir", config_->agent.state_dir},
                {"status_socket", config_->agent.status_socket},
                {"stopping", stopping_}};
  return {{"agent", agent}, {"healthy", healthy && !stopping_}, {"databases", dbs}};
}

std::string Daemon::MetricsText() {
  agent::MetricsText m;
  const TimePoint now = SystemClock::Instance().Now();
  m.Sample("aura_up", "gauge", "1 while the agent runs.", {{"version", kAgentVersion}}, 1);
  m.Sample("aura_uptime_seconds", "gauge", "Seconds since the agent started.", {},
           double(std::chrono::duration_cast<seconds>(now - started_).count()));
  m.Sample("aura_databases", "gauge", "Configured databases.", {}, double(workers_.size()));
  m.Sample("aura_config_reloads_total", "counter", "Configuration reloads (SIGHUP).",
           {{"result", "ok"}}, double(reloads_ok_));
  m.Sample("aura_config_reloads_total", "counter", "Configuration reloads (SIGHUP).",
           {{"result", "rejected"}}, double(reloads_failed_));
  const ServerCounters& c = server_.counters();
  m.Sample("aura_status_connections_total", "counter", "Status endpoint connections accepted.", {},
           double(c.connections));
  m.Sample("aura_status_connections_active", "gauge", "Status endpoint connections open.", {},
           double(c.active));
  m.Sample("aura_status_bad_requests_total", "counter",
           "Malformed, oversized, unauthorized or timed-out status requests.", {},
           double(c.bad_requests));
  m.Sample("aura_status_rejected_total", "counter",
           "Status connections refused because too many were open.", {}, double(c.rejected));
  for (const auto& [code, n] : http_by_status_) {
    m.Sample("aura_status_requests_total", "counter", "Status requests answered, by HTTP code.",
             {{"code", code}}, double(n));
  }
  for (auto& [name, w] : workers_) w->Metrics(m);
  return m.Finish();
}

HttpResponse Daemon::Handle(const HttpRequest& r) {
  HttpResponse res = [&]() -> HttpResponse {
    std::string path = r.target.substr(0, r.target.find('?'));
    std::string query =
        r.target.find('?') == std::string::npos ? "" : r.target.substr(r.target.find('?') + 1);
    const bool get = r.method == "GET" || r.method == "HEAD";
    if (path == "/v1/status") {
      if (!get) return Error(405, "use GET");
      return JsonResponse(200, StatusJson());
    }
    if (path == "/metrics") {
      if (!get) return Error(405, "use GET");
      return {200, "text/plain; version=0.0.4; charset=utf-8", MetricsText()};
    }
    if (path == "/healthz") {
      if (!get) return Error(405, "use GET");
      if (stopping_)
        return JsonResponse(503, {{"healthy", false}, {"problems", {"shutting down"}}});
      auto problems = Problems();
      json list = json::array();
      for (auto& [db, p] : problems) list.push_back({{"database", db}, {"problem", p}});
      return JsonResponse(problems.empty() ? 200 : 503,
                          {{"healthy", problems.empty()}, {"problems", list}});
    }
    static const std::regex kTrigger("^/v1/databases/(.+)/(backup|check|drill|prune)$");
    std::smatch m;
    if (std::regex_match(path, m, kTrigger)) {
      if (r.method != "POST") return Error(405, "use POST");
      std::optional<std::string> name = PercentDecode(m[1]);
      if (!name) return Error(400, "bad percent-encoding in the database name");
      std::string db = *name, job = m[2];
      auto it = workers_.find(db);
      if (it == workers_.end()) return Error(404, "no database named '" + db + "'");
      if (stopping_) return Error(503, "the agent is shutting down");
      if (job == "backup") {
        static const std::regex kPolicy("(^|&)policy=(hourly|daily|weekly|monthly)(&|$)");
        std::smatch pm;
        if (std::regex_search(query, pm, kPolicy)) {
          job = pm[2];
          const PolicyConfig* p = FindPolicy(it->second->db(), job);
          if (p == nullptr || !p->enabled) {
            return Error(400, "database '" + db + "' has no " + job + " policy");
          }
        } else if (!query.empty() && query.find("policy=") != std::string::npos) {
          return Error(400, "policy must be hourly, daily, weekly or monthly");
        }
      }
      if (job == "drill" && it->second->db().targets.empty()) return Error(400, "no targets");
      bool queued = it->second->Submit(job);
      spdlog::info("db={} op={} requested on the status endpoint ({})", db, job,
                   queued ? "queued" : "already queued or running");
      if (!queued) {
        return JsonResponse(409, {{"database", db},
                                  {"job", job},
                                  {"queued", false},
                                  {"error", "this job is already queued or running"}});
      }
      return JsonResponse(202, {{"database", db}, {"job", job}, {"queued", true}});
    }
    return Error(404, "unknown path " + path + " (try /v1/status, /metrics, /healthz)");
  }();
  ++http_by_status_[std::to_string(res.status)];
  if (r.method == "HEAD") res.body.clear();
  return res;
}

}  // namespace

int RunDaemonCommand(const std::string& config_path) { return RunDaemon(config_path); }

int RunDaemon(const std::string& config_path) {
  auto cfg = LoadConfig(config_path);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\naura-agent: error: %s is not valid; nothing was started\n",
                 cfg.status().message().c_str(), config_path.c_str());
    return ExitCode(cfg.status());
  }
  auto lock = StateDirLock::Acquire(cfg->agent.state_dir);
  if (!lock.ok()) {
    std::fprintf(stderr, "aura-agent: error: %s\n", lock.status().message().c_str());
    return ExitCode(lock.status());
  }
  Status logging = SetupDaemonLogging(cfg->agent);
  if (!logging.ok()) {
    std::fprintf(stderr, "aura-agent: error: %s\n", logging.message().c_str());
    return ExitCode(logging);
  }
  // SIGINT, SIGTERM and SIGHUP are delivered through the io_context's signal_set.
  ::signal(SIGPIPE, SIG_IGN);
  Daemon d(config_path, std::move(cfg).value());
  return d.Run();
}

}  // namespace aura::agent
