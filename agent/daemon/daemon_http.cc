// The daemon's status endpoint: routes (GET /v1/status, /metrics, /healthz; POST triggers), the
// status JSON, the Prometheus text and the health problems. Runs on the io thread.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <optional>
#include <regex>

#include "agent/daemon/daemon_internal.h"
#include "agent/jobs.h"
#include "agent/output.h"
#include "common/sqlite_version.h"
#include "common/version.h"

namespace aura::agent {

using nlohmann::json;
using std::chrono::seconds;

namespace {

// "%2F" -> "/", "%20" -> " " (a path segment; '+' stays '+'). nullopt on a bad escape.
std::optional<std::string> PercentDecode(const std::string& in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

HttpResponse JsonResponse(int status, const json& j) {
  return {status, "application/json", JsonText(j) + "\n"};
}

HttpResponse Error(int status, const std::string& message) {
  return JsonResponse(status, {{"error", message}});
}

// The job a "backup" trigger asks for: ?policy=NAME, else kBackup. An error response otherwise.
std::variant<JobKind, HttpResponse> BackupJob(const DbWorker& w, const std::string& query) {
  static const std::regex kPolicy("(^|&)policy=(hourly|daily|weekly|monthly)(&|$)");
  std::smatch pm;
  if (std::regex_search(query, pm, kPolicy)) {
    const std::string policy = pm[2];
    const PolicyConfig* p = FindPolicy(w.db(), policy);
    if (p == nullptr || !p->enabled) {
      return Error(400, "database '" + w.db().name + "' has no " + policy + " policy");
    }
    return *ParseJob(policy);
  }
  if (!query.empty() && query.find("policy=") != std::string::npos) {
    return Error(400, "policy must be hourly, daily, weekly or monthly");
  }
  return JobKind::kBackup;
}

}  // namespace

HttpResponse Daemon::Handle(const HttpRequest& r) {
  HttpResponse res = Route(r);
  ++http_by_status_[std::to_string(res.status)];
  if (r.method == "HEAD") res.body.clear();
  return res;
}

HttpResponse Daemon::Route(const HttpRequest& r) {
  const size_t q = r.target.find('?');
  const std::string path = r.target.substr(0, q);
  const std::string query = q == std::string::npos ? "" : r.target.substr(q + 1);
  const bool get = r.method == "GET" || r.method == "HEAD";
  if (path == "/v1/status") {
    return get ? JsonResponse(200, StatusJson()) : Error(405, "use GET");
  }
  if (path == "/metrics") {
    if (!get) return Error(405, "use GET");
    return {200, "text/plain; version=0.0.4; charset=utf-8", MetricsText()};
  }
  if (path == "/healthz") {
    if (!get) return Error(405, "use GET");
    if (stopping_) return JsonResponse(503, {{"healthy", false}, {"problems", {"shutting down"}}});
    auto problems = Problems();
    json list = json::array();
    for (auto& p : problems) list.push_back({{p.kind, p.name}, {"problem", p.problem}});
    return JsonResponse(problems.empty() ? 200 : 503,
                        {{"healthy", problems.empty()}, {"problems", list}});
  }
  static const std::regex kTrigger("^/v1/databases/(.+)/(backup|check|drill|prune)$");
  std::smatch m;
  if (std::regex_match(path, m, kTrigger)) {
    if (r.method != "POST") return Error(405, "use POST");
    return Trigger(m[1], m[2], query);
  }
  return Error(404, "unknown path " + path + " (try /v1/status, /metrics, /healthz)");
}

HttpResponse Daemon::Trigger(const std::string& db_escaped, const std::string& job_name,
                             const std::string& query) {
  std::optional<std::string> name = PercentDecode(db_escaped);
  if (!name) return Error(400, "bad percent-encoding in the database name");
  const std::string db = *name;
  auto it = workers_.find(db);
  if (it == workers_.end()) return Error(404, "no database named '" + db + "'");
  if (stopping_) return Error(503, "the agent is shutting down");
  JobKind job = *ParseJob(job_name);
  if (job == JobKind::kBackup) {
    auto chosen = BackupJob(*it->second, query);
    if (auto* error = std::get_if<HttpResponse>(&chosen)) return *error;
    job = std::get<JobKind>(chosen);
  }
  if (job == JobKind::kDrill && it->second->db().targets.empty()) return Error(400, "no targets");
  const bool queued = it->second->Submit(job);
  spdlog::info("db={} op={} requested on the status endpoint ({})", db, JobName(job),
               queued ? "queued" : "already queued or running");
  if (!queued) {
    return JsonResponse(409, {{"database", db},
                              {"job", JobName(job)},
                              {"queued", false},
                              {"error", "this job is already queued or running"}});
  }
  return JsonResponse(202, {{"database", db}, {"job", JobName(job)}, {"queued", true}});
}

std::vector<Daemon::Problem> Daemon::Problems() {
  std::vector<Problem> out;
  const TimePoint now = clock_.Now();
  for (auto& [name, w] : workers_) {
    for (std::string& p : w->Problems(now)) out.push_back({"database", name, std::move(p)});
  }
  for (auto& [name, sb] : standbys_) {
    for (std::string& p : sb->Problems()) out.push_back({"standby", name, std::move(p)});
  }
  return out;
}

json Daemon::StatusJson() {
  const TimePoint now = clock_.Now();
  json dbs = json::array();
  bool healthy = true;
  for (auto& [name, w] : workers_) {
    const std::string db = name;
    json j = w->Status(now, [this, db](JobKind job) -> std::optional<TimePoint> {
      TimePoint t = sched_.NextOf(SchedulerJobId(db, job));
      if (t == TimePoint::max()) return std::nullopt;
      return t;
    });
    healthy = healthy && j["healthy"].get<bool>();
    dbs.push_back(std::move(j));
  }
  json standbys = json::array();
  for (auto& [name, sb] : standbys_) {
    json j = sb->Status();
    healthy = healthy && j["healthy"].get<bool>();
    standbys.push_back(std::move(j));
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
                {"stopping", stopping_},
                {"sqlite_version", SqliteLibraryVersion()},
                {"sqlite_wal_reset_bug", SqliteLibraryHasWalResetBug()}};
  return {{"agent", agent},
          {"healthy", healthy && !stopping_},
          {"databases", dbs},
          {"standbys", standbys}};
}

std::string Daemon::MetricsText() {
  agent::MetricsText m;
  const TimePoint now = clock_.Now();
  m.Sample("aura_up", "gauge", "1 while the agent runs.", {{"version", kAgentVersion}}, 1);
  m.Sample("aura_sqlite_info", "gauge",
           "The SQLite library the agent runs with; wal_reset_bug=\"true\" when it has the "
           "WAL-reset bug (docs/REPLICATION.md).",
           {{"version", SqliteLibraryVersion()},
            {"wal_reset_bug", SqliteLibraryHasWalResetBug() ? "true" : "false"}},
           1);
  m.Sample("aura_uptime_seconds", "gauge", "Seconds since the agent started.", {},
           double(std::chrono::duration_cast<seconds>(now - started_).count()));
  m.Sample("aura_databases", "gauge", "Configured databases.", {}, double(workers_.size()));
  for (const auto& [result, n] : {std::pair{"ok", reloads_ok_}, {"rejected", reloads_failed_}}) {
    m.Sample("aura_config_reloads_total", "counter", "Configuration reloads (SIGHUP).",
             {{"result", result}}, double(n));
  }
  m.Sample("aura_state_store_write_errors_total", "counter",
           "Writes to the agent's state database that failed (bookkeeping lost, backups not).", {},
           double(state_errors_.count()));
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
  for (auto& [name, w] : workers_) w->Metrics(m, now);
  for (auto& [name, sb] : standbys_) sb->Metrics(m);
  return m.Finish();
}

}  // namespace aura::agent
