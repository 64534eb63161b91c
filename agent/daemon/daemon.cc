#include "agent/daemon/daemon.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <future>

#include "agent/daemon/daemon_internal.h"
#include "agent/output.h"
#include "common/platform.h"
#include "common/sqlite_version.h"
#include "common/terminal_text.h"
#include "common/version.h"

namespace aura::agent {

namespace net = boost::asio;
using std::chrono::seconds;

namespace {

// An error before the daemon serves: to stderr (systemd's journal, a terminal) and to the service
// manager's hooks (the Windows event log), with the process exit code.
int FailedToStart(ServiceHooks* hooks, const Status& status, const std::string& message) {
  const std::string text = EscapeLinesForTerminal(message);  // a config error: a line a problem
  std::fprintf(stderr, "%s\n", text.c_str());
  if (hooks != nullptr) hooks->Failed(text);
  return ExitCode(status);
}

}  // namespace

Daemon::Daemon(std::string config_path, Config config, const Clock& clock, ServiceHooks* hooks)
    : config_path_(std::move(config_path)),
      config_(std::make_shared<const Config>(std::move(config))),
      clock_(clock),
      step_(config_->agent.workers),
      upload_(config_->agent.max_concurrent_uploads),
      heavy_(config_->agent.max_concurrent_snapshots),
      signals_(io_, SIGINT, SIGTERM, SIGHUP),
      sched_timer_(io_.get_executor(), clock),
      sample_timer_(io_.get_executor(), clock),
      prune_timer_(io_.get_executor(), clock),
      shutdown_timer_(io_),
      watchdog_timer_(io_),
      hooks_(hooks),
      server_(io_, [this](const HttpRequest& r) { return Handle(r); }) {}

Status Daemon::OpenStateAndListen() {
  auto state = StateStore::Open(config_->agent.state_dir);
  if (!state.ok()) return state.status();
  state_ = std::move(state).value();
  const AgentSettings& a = config_->agent;
  if (!a.status_socket.empty()) AURA_RETURN_IF_ERROR(server_.ListenUnix(a.status_socket));
  if (a.status_tcp.empty()) return Status::Ok();
  AURA_ASSIGN_OR_RETURN(std::string token, ReadStatusToken(a.status_token_file));
  return server_.ListenTcp(a.status_tcp_host, a.status_tcp_port, token);
}

void Daemon::WarnIfTooFewFiles() const {
  // Continuous shipping holds about 10 descriptors a database (three SQLite connections with
  // their -wal, the WAL reader, the spool lock); snapshots and uploads need a few more.
  const uint64_t limit = platform::RaiseOpenFileLimit();
  const uint64_t need = 64 + 12 * uint64_t(config_->databases.size());
  if (limit != 0 && limit < need) {
    spdlog::warn(
        "op=start the open-file limit is {} and {} database(s) need about {}: raise it "
        "(systemd: LimitNOFILE= in the unit; shell: ulimit -n) or shipping fails with "
        "'too many open files'",
        limit, config_->databases.size(), need);
  }
}

int Daemon::Run() {
  started_ = config_loaded_ = clock_.Now();
  Status opened = OpenStateAndListen();
  if (!opened.ok()) {
    spdlog::critical("op=start {}", opened.message());
    return FailedToStart(hooks_, opened, "aura-agent: error: " + opened.message());
  }
  spdlog::info("op=start aura-agent {} (SQLite {}) pid {} config {} databases {} socket {}",
               kAgentVersion, SqliteLibraryVersion(), ::getpid(), config_path_,
               config_->databases.size(), config_->agent.status_socket);
  WarnIfTooFewFiles();
  if (std::string w = WalResetBugWarning(); !w.empty()) spdlog::warn("op=start {}", w);
  for (const std::string& w : ConfigWarnings(*config_)) spdlog::warn("op=start {}", w);
  for (const DatabaseConfig& db : config_->databases) StartWorker(db);
  for (const StandbyConfig& sb : config_->standbys) StartStandby(sb);
  WaitSignal();
  ArmScheduler();
  ArmSampler();
  ArmPrune();
  Notify("READY=1\nSTATUS=" + StatusLine() + "\nMAINPID=" + std::to_string(::getpid()));
  ArmWatchdog();
  if (hooks_ != nullptr) {
    // The service manager's stop, from its own thread: the same graceful path as SIGTERM.
    hooks_->InstallStopper(
        [this] { boost::asio::post(io_, [this] { BeginShutdown("service stop"); }); });
    hooks_->Ready();
  }
  io_.run();
  if (hooks_ != nullptr) hooks_->RemoveStopper();
  if (!clean_stop_) {
    // The shutdown deadline passed with work in flight. Nothing partial is visible (objects
    // appear only when committed; spooled segments upload on the next start): leave now.
    spdlog::warn("op=stop shutdown_timeout reached; abandoning jobs in flight");
    spdlog::default_logger()->flush();
    std::_Exit(0);
  }
  return JoinPools();
}

int Daemon::JoinPools() {
  // Let running heavy jobs finish, within the remaining deadline.
  auto joined = std::async(std::launch::async, [this] {
    for (auto& [name, sb] : standbys_) sb->Join();
    for (auto& sb : stopped_standbys_) sb->Join();
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
  Notify("RELOADING=1\nSTATUS=reloading " + config_path_);
  auto loaded = LoadConfig(config_path_);
  if (!loaded.ok()) {
    ++reloads_failed_;
    config_error_ = loaded.status().message();
    spdlog::error("op=reload rejected {}; the previous configuration keeps running: {}",
                  config_path_, config_error_);
    Notify("READY=1\nSTATUS=config rejected, the previous one keeps running: " + config_error_);
    return;
  }
  if (restarting_ > 0) {
    ++reloads_failed_;
    spdlog::warn("op=reload a previous reload is still restarting databases; try again shortly");
    Notify("READY=1\nSTATUS=" + StatusLine());
    return;
  }
  auto next = std::make_shared<const Config>(std::move(loaded).value());
  for (const std::string& w : ConfigWarnings(*next)) spdlog::warn("op=reload {}", w);
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
  config_loaded_ = clock_.Now();
  ++reloads_ok_;
  ApplyReload(old);
  Notify("READY=1\nSTATUS=" + StatusLine());
}

// Keeps the workers whose database is unchanged, restarts the changed ones (after they stopped),
// stops the removed ones and starts the new ones.
void Daemon::ApplyReload(const std::shared_ptr<const Config>& old) {
  int kept = 0, restarted = 0, added = 0, removed = 0;
  for (auto it = workers_.begin(); it != workers_.end();) {
    const std::string name = it->first;
    const DatabaseConfig* now_db = config_->FindDatabase(name);
    const DatabaseConfig* was_db = old->FindDatabase(name);
    if (now_db != nullptr && was_db != nullptr &&
        config_->Fingerprint(*now_db) == old->Fingerprint(*was_db)) {
      ++kept;
      ++it;
      continue;
    }
    RemoveSchedules(name, *it->second);
    std::shared_ptr<DbWorker> w = it->second;
    it = workers_.erase(it);
    ++restarting_;
    std::optional<DatabaseConfig> replacement;
    if (now_db != nullptr) replacement = *now_db;
    ++(now_db != nullptr ? restarted : removed);
    w->Stop([this, w, replacement] {
      --restarting_;
      if (replacement && !stopping_ && !workers_.count(replacement->name)) {
        StartWorker(*replacement);
        ArmScheduler();
      }
    });
  }
  for (const DatabaseConfig& db : config_->databases) {
    if (!workers_.count(db.name) && old->FindDatabase(db.name) == nullptr) {
      StartWorker(db);
      ++added;
    }
  }
  ArmScheduler();
  spdlog::info("op=reload applied {}: {} database(s) unchanged, {} restarted, {} added, {} removed",
               config_path_, kept, restarted, added, removed);
  ReloadStandbys(*old);
}

void Daemon::StartStandby(const StandbyConfig& sb) {
  auto unit = std::make_unique<StandbyUnit>(sb, config_);
  unit->Start();
  standbys_[sb.name] = std::move(unit);
}

// A changed standby is stopped and started anew: the new one waits for the old one's lock (it
// retries while the old one finishes its step).
void Daemon::ReloadStandbys(const Config& old) {
  for (auto it = standbys_.begin(); it != standbys_.end();) {
    const StandbyConfig* now_sb = nullptr;
    for (const StandbyConfig& s : config_->standbys)
      if (s.name == it->first) now_sb = &s;
    if (now_sb != nullptr &&
        config_->Fingerprint(*now_sb) == old.Fingerprint(it->second->standby())) {
      ++it;
      continue;
    }
    spdlog::info("standby={} op=reload {}", it->first,
                 now_sb != nullptr ? "restarting" : "stopping");
    it->second->RequestStop();
    stopped_standbys_.push_back(std::move(it->second));
    it = standbys_.erase(it);
  }
  for (const StandbyConfig& s : config_->standbys) {
    if (!standbys_.count(s.name)) StartStandby(s);
  }
}

void Daemon::BeginShutdown(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  spdlog::info("op=stop {}: finishing in-flight work (at most {} s)", why,
               config_->agent.shutdown_timeout_s);
  Notify("STOPPING=1\nSTATUS=stopping (" + why + "): finishing in-flight work");
  if (hooks_ != nullptr) hooks_->Stopping(seconds(config_->agent.shutdown_timeout_s));
  watchdog_timer_.cancel();
  server_.Close();
  sched_timer_.Cancel();
  sample_timer_.Cancel();
  prune_timer_.Cancel();
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
  for (auto& [name, sb] : standbys_) sb->RequestStop();
  net::post(io_, one_done);
}

void Daemon::Notify(const std::string& message) {
  Status s = notifier_.Send(message);
  if (!s.ok() && !notify_failed_) {
    notify_failed_ = true;
    spdlog::warn("op=notify the service manager cannot be told how the agent is: {}", s.message());
  }
}

std::string Daemon::StatusLine() const {
  size_t continuous = 0;
  for (const DatabaseConfig& db : config_->databases) continuous += db.continuous ? 1 : 0;
  return std::to_string(config_->databases.size()) + " database(s), " + std::to_string(continuous) +
         " shipped continuously; status on " + config_->agent.status_socket;
}

// WATCHDOG=1 from the event loop itself: if the loop stops turning, the pings stop and the
// service manager restarts the agent (WatchdogSec=).
void Daemon::ArmWatchdog() {
  auto interval = notifier_.watchdog_interval();
  if (!interval || stopping_) return;
  watchdog_timer_.expires_after(*interval);
  watchdog_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    Notify("WATCHDOG=1");
    ArmWatchdog();
  });
}

int RunDaemon(const std::string& config_path, const Clock& clock, ServiceHooks* hooks) {
  auto cfg = LoadConfig(config_path);
  if (!cfg.ok()) {
    return FailedToStart(hooks, cfg.status(),
                         cfg.status().message() + "\naura-agent: error: " + config_path +
                             " is not valid; nothing was started");
  }
  auto lock = StateDirLock::Acquire(cfg->agent.state_dir);
  if (!lock.ok()) {
    return FailedToStart(hooks, lock.status(), "aura-agent: error: " + lock.status().message());
  }
  Status logging = SetupDaemonLogging(cfg->agent);
  if (!logging.ok())
    return FailedToStart(hooks, logging, "aura-agent: error: " + logging.message());
#ifdef SIGPIPE
  // SIGINT, SIGTERM and SIGHUP are delivered through the io_context's signal_set.
  ::signal(SIGPIPE, SIG_IGN);
#endif
  Daemon d(config_path, std::move(cfg).value(), clock, hooks);
  return d.Run();
}

}  // namespace aura::agent
