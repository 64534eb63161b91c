// status: a client of the daemon's status endpoint; prints a table (or the JSON with --json).
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/commands.h"
#include "agent/config.h"
#include "common/terminal_text.h"

namespace aura::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;

namespace {

// GET `target` from the agent over a Unix socket or loopback TCP (with a bearer token).
template <typename Protocol>
Result<std::pair<int, std::string>> Get(const typename Protocol::endpoint& endpoint,
                                        const std::string& where, const std::string& target,
                                        const std::string& bearer) {
  try {
    net::io_context io;
    beast::basic_stream<Protocol> stream(io);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(endpoint);
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.set(http::field::host, "localhost");
    if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    return std::make_pair(static_cast<int>(res.result_int()), res.body());
  } catch (const boost::system::system_error& e) {
    return Unavailable("cannot reach the agent on " + where + " (" + e.code().message() +
                       "); is 'aura-agent run' running, and may this user open the socket?");
  }
}

std::string Ago(const std::string& rfc, TimePoint now) {
  auto t = ParseRfc3339(rfc);
  if (!t.ok()) return rfc;
  auto s = std::chrono::duration_cast<std::chrono::seconds>(now - *t).count();
  if (s < 0) {
    s = -s;
    if (s < 120) return "in " + std::to_string(s) + "s";
    if (s < 7200) return "in " + std::to_string(s / 60) + "m";
    return "in " + std::to_string(s / 3600) + "h";
  }
  if (s < 120) return std::to_string(s) + "s ago";
  if (s < 7200) return std::to_string(s / 60) + "m ago";
  if (s < 172800) return std::to_string(s / 3600) + "h ago";
  return std::to_string(s / 86400) + "d ago";
}

std::string Duration(int64_t s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lldd %02lldh %02lldm", static_cast<long long>(s / 86400),
                static_cast<long long>(s / 3600 % 24), static_cast<long long>(s / 60 % 60));
  return buf;
}

// LAST SNAPSHOT, SIZE and STORED of one database.
void SnapshotColumns(const json& d, TimePoint now, std::string& last, std::string& size,
                     std::string& stored) {
  last = size = stored = "-";
  const json& ls = d["last_snapshot"];
  if (ls.is_null()) return;
  last = ls.value("result", "") == "ok"
             ? Ago(ls["finished"], now) + " (" + ls.value("policy", "") + ")"
             : "FAILED " + Ago(ls["finished"], now);
  if (ls.contains("size")) size = HumanBytes(ls["size"].get<uint64_t>());
  if (ls.contains("stored_size")) stored = HumanBytes(ls["stored_size"].get<uint64_t>());
}

// WAL LAG and SPOOL of one database, over its targets.
void ReplicationColumns(const json& d, std::string& lag, std::string& spool) {
  lag = spool = "-";
  if (d["replication"].empty()) return;
  double worst = 0;
  uint64_t bytes = 0, pending = 0;
  bool running = true;
  for (const json& r : d["replication"]) {
    worst = std::max(worst, r["lag_seconds"].get<double>());
    bytes += r["spool_bytes"].get<uint64_t>();
    pending += r["pending_transactions"].get<uint64_t>();
    running = running && r["state"] == "running";
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", worst);
  lag = running ? buf : "stopped";
  spool = HumanBytes(bytes) + " (" + std::to_string(pending) + " tx)";
}

// One row of the table, each cell escaped (names and paths come from the config and the
// targets: common/terminal_text.h).
std::string Row(const std::array<std::string, 8>& c) {
  return PadRight(c[0], 16) + " " + PadRight(c[1], 8) + " " + PadRight(c[2], 24) + " " +
         PadLeft(c[3], 10) + " " + PadLeft(c[4], 10) + " " + PadRight(c[5], 9) + " " +
         PadRight(c[6], 18) + " " + EscapeForTerminal(c[7]);
}

std::string TableRow(const json& d, TimePoint now) {
  std::string last, size, stored, lag, spool;
  SnapshotColumns(d, now, last, size, stored);
  ReplicationColumns(d, lag, spool);
  std::string next = "-";
  std::string best;
  for (auto& [job, t] : d["next_runs"].items()) {
    if (best.empty() || t.get<std::string>() < best) {
      best = t.get<std::string>();
      next = job + " " + Ago(best, now);
    }
  }
  return Row({d["name"].get<std::string>(), d["healthy"].get<bool>() ? "ok" : "PROBLEM", last, size,
              stored, lag, spool, next});
}

// Under the table: each database's last check and drill, then every problem.
void PrintNotes(const json& st, TimePoint now, const Output& out) {
  for (const json& d : st["databases"]) {
    std::string line;
    for (const char* job : {"check", "drill"}) {
      const json& o = d.value("last_" + std::string(job), json());
      if (!o.is_object()) continue;
      line += std::string(line.empty() ? "" : "; ") + job + " " +
              (o.value("result", "") == "ok" ? "ok " : "FAILED ") + Ago(o["finished"], now);
    }
    if (!line.empty()) out.Line("  " + d["name"].get<std::string>() + ": " + line);
  }
  for (const json& d : st["databases"]) {
    for (const json& p : d["problems"]) {
      out.Line("  " + d["name"].get<std::string>() + ": " + p.get<std::string>());
    }
  }
}

// The [[standby]] files the agent keeps current, with their lag, then their problems.
void PrintStandbys(const json& st, const Output& out) {
  if (!st.contains("standbys") || st["standbys"].empty()) return;
  auto row = [](const std::string& name, const std::string& state, const std::string& txid,
                const std::string& lag, const std::string& path) {
    return PadRight(name, 16) + " " + PadRight(state, 10) + " " + PadLeft(txid, 12) + " " +
           PadLeft(lag, 10) + " " + EscapeForTerminal(path);
  };
  out.Line("");
  out.Line(row("STANDBY", "STATE", "TXID", "LAG", "PATH"));
  for (const json& s : st["standbys"]) {
    std::string lag = "-";
    if (s["lag_seconds"].is_number()) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1fs", s["lag_seconds"].get<double>());
      lag = buf;
    }
    out.Line(row(s["name"].get<std::string>(), s["state"].get<std::string>(),
                 std::to_string(s["txid"].get<uint64_t>()), lag, s["path"].get<std::string>()));
  }
  for (const json& s : st["standbys"]) {
    for (const json& p : s["problems"]) out.Line("  " + p.get<std::string>());
  }
}

void PrintTable(const json& st, const Output& out) {
  const TimePoint now = SystemClock::Instance().Now();
  const json& a = st["agent"];
  out.Line("aura-agent " + a["version"].get<std::string>() + ", pid " +
           std::to_string(a["pid"].get<long long>()) + ", up " +
           Duration(a["uptime_seconds"].get<int64_t>()) + ", config " +
           a["config_path"].get<std::string>());
  if (!a["config_error"].is_null()) {
    out.Line("  last reload REJECTED (still running the previous config): " +
             a["config_error"].get<std::string>());
  }
  out.Line(std::string("overall: ") + (st["healthy"].get<bool>() ? "healthy" : "UNHEALTHY"));
  out.Line("");
  out.Line(
      Row({"DATABASE", "HEALTH", "LAST SNAPSHOT", "SIZE", "STORED", "WAL LAG", "SPOOL", "NEXT"}));
  for (const json& d : st["databases"]) out.Line(TableRow(d, now));
  PrintNotes(st, now, out);
  PrintStandbys(st, out);
}

}  // namespace

int RunStatus(const StatusArgs& args, const Output& out) {
  using Local = net::local::stream_protocol;
  std::string socket = args.socket;
  std::optional<Config> cfg;
  if (socket.empty()) {
    if (args.config.empty()) {
      return out.Fail(
          InvalidArgument("pass --config FILE (to read its status_socket) or --socket PATH"));
    }
    auto loaded = LoadConfig(args.config);
    if (!loaded.ok()) return out.Fail(loaded.status());
    cfg = std::move(loaded).value();
    socket = cfg->agent.status_socket;
  }
  // No socket configured (the Windows default): straight to the loopback TCP endpoint.
  Result<std::pair<int, std::string>> res =
      socket.empty() ? Result<std::pair<int, std::string>>(
                           Unavailable("the config has no status_socket and no status_tcp"))
                     : Get<Local>(Local::endpoint(socket), socket, "/v1/status", "");
  if (!res.ok() && cfg && !cfg->agent.status_tcp.empty()) {
    // Where the Unix socket is not there (or not ours to open), the loopback TCP endpoint.
    const AgentSettings& a = cfg->agent;
    auto token = ReadStatusToken(a.status_token_file);
    if (!token.ok()) return out.Fail(token.status());
    using Tcp = net::ip::tcp;
    boost::system::error_code ec;
    auto addr = net::ip::make_address(a.status_tcp_host, ec);
    if (ec) return out.Fail(ConfigError("status_tcp " + a.status_tcp + " is not an IP address"));
    res = Get<Tcp>(Tcp::endpoint(addr, a.status_tcp_port),
                   socket.empty() ? a.status_tcp : a.status_tcp + " (after " + socket + ")",
                   "/v1/status", *token);
  }
  if (!res.ok()) return out.Fail(res.status());
  if (res->first == 401) {
    return out.Fail(
        PermissionDenied("the agent refused the bearer token (status_token_file must "
                         "hold the token the agent was started with)"));
  }
  if (res->first != 200) {
    return out.Fail(
        Unavailable("the agent answered HTTP " + std::to_string(res->first) + ": " + res->second));
  }
  json st = json::parse(res->second, nullptr, false);
  if (st.is_discarded()) return out.Fail(Corruption("the agent's status is not JSON"));
  if (out.json()) {
    out.Json(st);
  } else {
    PrintTable(st, out);
  }
  return 0;
}

}  // namespace aura::agent
