#include "agent/config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <sstream>

#include "agent/toml_reader.h"
#include "backup/keyring.h"
#include "common/file_io.h"
#include "common/secret_file.h"
#include "common/url_credentials.h"
#include "scheduler/calendar.h"

namespace aura::agent {

namespace {

bool ValidHourMinute(const std::string& s) {
  return s.size() == 5 && s[2] == ':' && std::isdigit(s[0]) && std::isdigit(s[1]) &&
         std::isdigit(s[3]) && std::isdigit(s[4]) && std::stoi(s.substr(0, 2)) < 24 &&
         std::stoi(s.substr(3, 2)) < 60;
}

// A `timezone` key: "local" (the default), "UTC" or an IANA name. A written one is resolved
// now, so that a typo (or "") is an error at its line instead of a policy the daemon cannot
// schedule; the default is resolved when the daemon starts (a host whose local zone cannot be
// determined then shows the job as not scheduled, and the database unhealthy).
std::string TimeZoneKey(TableReader& r, const std::string& context) {
  std::optional<std::string> zone = r.String("timezone");
  if (!zone) return "local";
  auto resolved = scheduler::ResolveTimeZone(*zone);
  if (!resolved.ok()) {
    r.ErrorAtKey("timezone", "'timezone' in " + context + ": " + resolved.status().message());
  }
  return *zone;
}

void ReadPolicy(TableReader& parent, const std::string& kind, PolicyConfig& p,
                const std::string& context, const std::string& file,
                std::vector<std::string>& errors) {
  const toml::table* t = parent.Table(kind);
  if (t == nullptr) return;
  TableReader r(*t, context + "." + kind, file, errors);
  p.enabled = true;
  p.keep = static_cast<int>(r.Int("keep", 1, 100000).value_or(kind == "hourly" ? 24 : 7));
  const int default_full_every = kind == "hourly"   ? 24
                                 : kind == "daily"  ? 7
                                 : kind == "weekly" ? 4
                                                    : 1;
  p.full_every = static_cast<int>(r.Int("full_every", 1, 1000).value_or(default_full_every));
  p.targets = r.StringArray("targets");
  p.timezone = TimeZoneKey(r, context + "." + kind);
  if (kind == "hourly") {
    p.minute = static_cast<int>(r.Int("minute", 0, 59).value_or(0));
  } else {
    p.at = r.String("at").value_or("00:00");
    if (!ValidHourMinute(p.at))
      r.ErrorAtKey("at", "'at' in " + context + "." + kind + " must be HH:MM");
  }
  if (kind == "weekly") {
    static const std::set<std::string> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
    p.day = r.String("day").value_or("sun");
    if (!kDays.count(p.day))
      r.ErrorAtKey("day", "'day' in " + context + ".weekly must be mon..sun");
  } else if (kind == "monthly") {
    auto d = r.Int("day", 1, 28);
    p.day = d ? std::to_string(*d) : "1";
  }
  r.Finish("keep, full_every, minute, at, day, timezone, targets");
}

void ReadCheck(TableReader& parent, const std::string& kind, CheckConfig& c,
               const std::string& context, const std::string& file,
               std::vector<std::string>& errors) {
  const toml::table* t = parent.Table(kind);
  if (t == nullptr) return;
  TableReader r(*t, context + "." + kind, file, errors);
  c.enabled = r.Bool("enabled").value_or(true);
  c.at = r.String("at").value_or(kind == "check" ? "03:30" : "04:30");
  if (!ValidHourMinute(c.at))
    r.ErrorAtKey("at", "'at' in " + context + "." + kind + " must be HH:MM");
  c.day = r.String("day").value_or("");
  static const std::set<std::string> kDays = {"", "mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  if (!kDays.count(c.day))
    r.ErrorAtKey("day", "'day' in " + context + "." + kind + " must be mon..sun");
  c.timezone = TimeZoneKey(r, context + "." + kind);
  if (kind == "check") {
    c.level = r.String("level").value_or("full");
    if (c.level != "quick" && c.level != "full") {
      r.ErrorAtKey("level", "'level' in " + context + ".check must be \"quick\" or \"full\"");
    }
    c.quick = r.String("quick").value_or("hourly");
    if (c.quick != "hourly" && c.quick != "off") {
      r.ErrorAtKey("quick", "'quick' in " + context + ".check must be \"hourly\" or \"off\"");
    }
    r.Finish("enabled, at, day, timezone, level, quick");
  } else {
    c.assertions = r.StringArray("assert");
    c.point = r.String("point").value_or("latest");
    if (c.point != "latest" && c.point != "random") {
      r.ErrorAtKey("point", "'point' in " + context + ".drill must be \"latest\" or \"random\"");
    }
    r.Finish("enabled, at, day, timezone, assert, point");
  }
}

void ReadVerify(TableReader& parent, VerifyConfig& v, const std::string& context,
                const std::string& file, std::vector<std::string>& errors) {
  const toml::table* t = parent.Table("verify");
  if (t == nullptr) return;
  TableReader r(*t, context + ".verify", file, errors);
  v.enabled = r.Bool("enabled").value_or(true);
  v.every_s = DurationKey(r, "every", v.every_s, 3600, 3650LL * 86400);
  r.Finish("enabled, every");
}

// "HH:MM-HH:MM", or empty.
bool ValidWindow(const std::string& w) {
  return w.empty() || (w.size() == 11 && w[5] == '-' && ValidHourMinute(w.substr(0, 5)) &&
                       ValidHourMinute(w.substr(6)));
}

void ReadMigrations(TableReader& r, MigrationsConfig& m, const std::string& context,
                    const std::string& file, std::vector<std::string>& errors) {
  const toml::table* t = r.Table("migrations");
  if (t == nullptr) return;
  TableReader mr(*t, context + ".migrations", file, errors);
  m.enabled = true;
  m.dir = mr.String("dir", true).value_or("");
  m.auto_apply = mr.Bool("auto_apply").value_or(false);
  m.window = mr.String("window").value_or("");
  if (!ValidWindow(m.window)) {
    mr.ErrorAtKey("window",
                  context + ".migrations.window must be \"HH:MM-HH:MM\", e.g. \"02:00-04:00\"");
  }
  m.timezone = TimeZoneKey(mr, context + ".migrations");
  m.product_version = mr.String("product_version").value_or("8.0.11");
  m.stale_lock_after_s = DurationKey(mr, "stale_lock_after", 3600, 1, 3650LL * 86400);
  m.assertions = mr.StringArray("assert");
  m.post_checks = mr.StringArray("post_check");
  m.allow_data_loss = mr.StringArray("allow_data_loss");
  m.full_check_max_mb = mr.Int("full_check_max_mb", 0, int64_t{1} << 30).value_or(256);
  m.busy_timeout_ms = static_cast<int>(mr.Int("busy_timeout_ms", 0, 3600000).value_or(60000));
  mr.Finish(
      "dir, auto_apply, window, timezone, product_version, stale_lock_after, assert, "
      "post_check, allow_data_loss, full_check_max_mb, busy_timeout_ms");
}

void ReadDatabase(const toml::table& t, int index, const std::string& file, Config& cfg,
                  std::vector<std::string>& errors) {
  std::string context = "[[database]] #" + std::to_string(index + 1);
  TableReader r(t, context, file, errors);
  DatabaseConfig d;
  d.line = r.line();
  d.source = TableText(t);
  d.name = r.String("name", true).value_or("");
  if (!d.name.empty()) {
    context = "[[database]] '" + d.name + "'";
    Status s = backup::ValidateDatabaseName(d.name);
    if (!s.ok()) r.ErrorAtKey("name", s.message());
  }
  d.path = r.String("path", true).value_or("");
  d.targets = r.StringArray("targets");
  d.continuous = r.Bool("continuous").value_or(false);
  d.busy_timeout_ms = static_cast<int>(r.Int("busy_timeout_ms", 0, 3600000).value_or(5000));
  ReadPolicy(r, "hourly", d.hourly, context, file, errors);
  ReadPolicy(r, "daily", d.daily, context, file, errors);
  ReadPolicy(r, "weekly", d.weekly, context, file, errors);
  ReadPolicy(r, "monthly", d.monthly, context, file, errors);
  ReadCheck(r, "check", d.check, context, file, errors);
  ReadCheck(r, "drill", d.drill, context, file, errors);
  ReadVerify(r, d.verify, context, file, errors);
  d.keep_last = static_cast<int>(r.Int("keep_last", 1, 100000).value_or(1));
  d.pitr_window_s = DurationKey(r, "pitr_window", 7 * 86400, 0, 3650LL * 86400);
  d.rpo_s = DurationKey(r, "rpo", 0, 1, 3650LL * 86400);
  d.generation_interval_s = DurationKey(r, "generation_interval", 86400, 0, 3650LL * 86400);
  if (d.generation_interval_s > 0 && d.generation_interval_s < 600) {
    r.ErrorAtKey("generation_interval",
                 context +
                     ".generation_interval must be 0 (never) or at least 10m: each "
                     "generation starts with a full snapshot");
  }
  ReadMigrations(r, d.migrations, context, file, errors);
  r.Finish(
      "name, path, targets, continuous, busy_timeout_ms, hourly, daily, weekly, monthly, "
      "check, drill, verify, keep_last, pitr_window, rpo, generation_interval, migrations");
  if (d.targets.empty()) r.ErrorHere(context + " needs targets = [\"...\"]");
  cfg.databases.push_back(std::move(d));
}

// A target's `url` or `endpoint` holding userinfo ("http://user:secret@host") is refused: S3
// credentials come from the environment, a profile or credentials_file (the agent never takes
// them from a URL), and the error quotes the URL without them (common/url_credentials.h).
void RefuseCredentialsInUrl(TableReader& r, const std::string& key, const TargetConfig& tc) {
  const std::string& url = key == "url" ? tc.url : *tc.s3.endpoint;
  if (!UrlHasCredentials(url)) return;
  r.ErrorAtKey(key, "target '" + tc.name + "': " + key + " " + RedactUrlCredentials(url) +
                        " holds credentials; remove them from the URL and give S3 keys by "
                        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile or credentials_file");
}

void ReadTarget(const toml::table& t, int index, const std::string& file, Config& cfg,
                std::vector<std::string>& errors) {
  TableReader r(t, "[[target]] #" + std::to_string(index + 1), file, errors);
  TargetConfig tc;
  tc.line = r.line();
  tc.source = TableText(t);
  tc.name = r.String("name", true).value_or("");
  tc.url = r.String("url", true).value_or("");
  tc.encryption = r.String("encryption").value_or("aes-256-gcm");
  if (tc.encryption != "aes-256-gcm" && tc.encryption != "none") {
    r.ErrorAtKey("encryption",
                 "target '" + tc.name + "': encryption must be \"aes-256-gcm\" or \"none\"");
  }
  RefuseCredentialsInUrl(r, "url", tc);
  S3TargetOptions& o = tc.s3;
  o.endpoint = r.String("endpoint");
  if (o.endpoint) RefuseCredentialsInUrl(r, "endpoint", tc);
  o.region = r.String("region");
  o.profile = r.String("profile");
  o.credentials_file = r.String("credentials_file");
  o.ca_bundle = r.String("ca_bundle");
  o.storage_class = r.String("storage_class");
  o.object_lock_mode = r.String("object_lock_mode");
  o.path_style = r.Bool("path_style");
  o.verify_tls = r.Bool("verify_tls");
  o.list_top_prefix_only = r.Bool("list_top_prefix_only");
  o.connect_timeout_ms = r.Int("connect_timeout_ms", 100, 600000);
  o.stall_timeout_s = r.Int("stall_timeout_s", 1, 3600);
  o.part_size_mb = r.Int("part_size_mb", 5, 5120);
  o.upload_concurrency = r.Int("upload_concurrency", 1, 64);
  o.bandwidth_limit_kib = r.Int("bandwidth_limit_kib", 0, int64_t{1} << 40);
  o.object_lock_days = r.Int("object_lock_days", 1, 36500);
  o.max_attempts = r.Int("max_attempts", 1, 100);
  if (o.object_lock_mode && *o.object_lock_mode != "GOVERNANCE" &&
      *o.object_lock_mode != "COMPLIANCE") {
    r.ErrorAtKey(
        "object_lock_mode",
        "target '" + tc.name + "': object_lock_mode must be \"GOVERNANCE\" or \"COMPLIANCE\"");
  }
  if (o.object_lock_mode.has_value() != o.object_lock_days.has_value()) {
    r.ErrorAtKey("object_lock_mode",
                 "target '" + tc.name + "': object_lock_mode and object_lock_days go together");
  }
  bool s3 = tc.url.rfind("s3://", 0) == 0;
  if (!s3 && (o.endpoint || o.region || o.part_size_mb || o.object_lock_mode)) {
    r.ErrorHere("target '" + tc.name + "': S3 settings on a target whose url is not s3://");
  }
  r.Finish(
      "name, url, encryption, endpoint, region, path_style, profile, credentials_file, "
      "ca_bundle, verify_tls, connect_timeout_ms, stall_timeout_s, part_size_mb, "
      "upload_concurrency, bandwidth_limit_kib, storage_class, object_lock_mode, "
      "object_lock_days, max_attempts, list_top_prefix_only");
  cfg.targets.push_back(std::move(tc));
}

void CrossCheck(const Config& cfg, const std::string& file, std::vector<std::string>& errors) {
  std::set<std::string> names;
  bool needs_key = false;
  for (const TargetConfig& t : cfg.targets) {
    if (!names.insert(t.name).second) {
      errors.push_back(file + ":" + std::to_string(t.line) + ": duplicate target '" + t.name + "'");
    }
    if (t.encryption != "none") needs_key = true;
  }
  std::set<std::string> dbs;
  for (const DatabaseConfig& d : cfg.databases) {
    if (!dbs.insert(d.name).second) {
      errors.push_back(file + ":" + std::to_string(d.line) + ": duplicate database '" + d.name +
                       "'");
    }
    for (const PolicyConfig* p : {&d.hourly, &d.daily, &d.weekly, &d.monthly}) {
      for (const std::string& t : p->targets) {
        if (!names.count(t)) {
          errors.push_back(file + ":" + std::to_string(d.line) + ": database '" + d.name +
                           "' policy names unknown target '" + t + "'");
        }
      }
    }
    for (const std::string& t : d.targets) {
      if (!names.count(t)) {
        errors.push_back(file + ":" + std::to_string(d.line) + ": database '" + d.name +
                         "' names unknown target '" + t + "'");
      }
    }
  }
  if (needs_key && !cfg.keys.any()) {
    errors.push_back(file +
                     ": encrypted targets need [keys] key_file (or passphrase_env / "
                     "passphrase_file); or set encryption = \"none\" on the target explicitly");
  }
  int sources = !cfg.keys.key_file.empty() + !cfg.keys.passphrase_env.empty() +
                !cfg.keys.passphrase_file.empty();
  if (sources > 1) {
    errors.push_back(file + ": [keys] takes one of key_file, passphrase_env, passphrase_file");
  }
}

}  // namespace

const TargetConfig* Config::FindTarget(const std::string& name) const {
  for (const TargetConfig& t : targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string Config::Fingerprint(const DatabaseConfig& db) const {
  // The [agent] settings a database's worker reads when it starts.
  std::string f = db.source + "\n--keys\n" + keys.source + "\n--agent\n" +
                  std::to_string(agent.jitter_s) + " " + std::to_string(agent.poll_ms) + " " +
                  std::to_string(agent.segment_ms);
  for (const std::string& name : db.targets) {
    const TargetConfig* t = FindTarget(name);
    f += "\n--target\n" + (t != nullptr ? t->source : name);
  }
  for (const PolicyConfig* p : {&db.hourly, &db.daily, &db.weekly, &db.monthly}) {
    for (const std::string& name : p->targets) {
      const TargetConfig* t = FindTarget(name);
      f += "\n--target\n" + (t != nullptr ? t->source : name);
    }
  }
  return f;
}

const DatabaseConfig* Config::FindDatabase(const std::string& name) const {
  for (const DatabaseConfig& d : databases) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

namespace {

// "127.0.0.1:PORT" or "[::1]:PORT": loopback only, the port 1..65535.
void ReadStatusTcp(TableReader& ar, AgentSettings& a) {
  a.status_tcp = ar.String("status_tcp").value_or(a.status_tcp);
  a.status_token_file = ar.String("status_token_file").value_or(a.status_token_file);
  if (a.status_tcp.empty()) {
    if (a.status_socket.empty()) {
      ar.ErrorAtKey("status_tcp",
                    "[agent] has no status endpoint: set status_socket (a Unix socket path) or "
                    "status_tcp with status_token_file");
    }
    return;
  }
  if (a.status_token_file.empty()) {
    ar.ErrorAtKey("status_tcp",
                  "[agent] status_tcp needs status_token_file (a file holding the bearer token)");
  }
  const auto colon = a.status_tcp.rfind(':');
  std::string host = colon == std::string::npos ? "" : a.status_tcp.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  const std::string port_text = colon == std::string::npos ? "" : a.status_tcp.substr(colon + 1);
  auto [end, perr] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  const bool port_ok = perr == std::errc() && end == port_text.data() + port_text.size() &&
                       port >= 1 && port <= 65535;
  if (!port_ok || (host != "127.0.0.1" && host != "::1" && host.rfind("127.", 0) != 0)) {
    ar.ErrorAtKey("status_tcp",
                  "[agent] status_tcp must be a loopback address and port, \"127.0.0.1:PORT\" "
                  "or \"[::1]:PORT\" (the endpoint is never exposed beyond this host)");
    return;
  }
  a.status_tcp_host = host;
  a.status_tcp_port = static_cast<uint16_t>(port);
}

void ReadAgent(const toml::table& t, const std::string& path, AgentSettings& a,
               std::vector<std::string>& errors) {
  TableReader ar(t, "[agent]", path, errors);
  a.state_dir = ar.String("state_dir").value_or(a.state_dir);
  a.status_socket = ar.String("status_socket").value_or(a.status_socket);
  a.log_level = ar.String("log_level").value_or("info");
  a.log_file = ar.String("log_file").value_or("");
  a.workers = static_cast<int>(ar.Int("workers", 1, 64).value_or(a.workers));
  a.max_concurrent_snapshots = static_cast<int>(
      ar.Int("max_concurrent_snapshots", 1, 64).value_or(a.max_concurrent_snapshots));
  a.max_concurrent_uploads =
      static_cast<int>(ar.Int("max_concurrent_uploads", 1, 64).value_or(a.max_concurrent_uploads));
  a.jitter_s = DurationKey(ar, "jitter", a.jitter_s, 0, 86400);
  a.poll_ms = ar.Int("poll_ms", 1, 60000).value_or(a.poll_ms);
  std::optional<int64_t> segment_ms = ar.Int("segment_ms", 1, 600000);
  a.segment_ms = segment_ms.value_or(a.segment_ms);
  if (auto interval = ar.String("upload_interval")) {
    auto ms = ParseDurationMillis(*interval);
    if (!ms.ok() || *ms < 100 || *ms > 600000) {
      ar.ErrorAtKey("upload_interval",
                    "'upload_interval' must be a duration such as \"1s\", \"10s\", \"1m\" or "
                    "\"500ms\" between 100ms and 10m");
    } else if (segment_ms) {
      ar.ErrorAtKey("upload_interval",
                    "set 'upload_interval' or its older name 'segment_ms', not both");
    } else {
      a.segment_ms = *ms;
    }
  }
  a.shutdown_timeout_s = DurationKey(ar, "shutdown_timeout", a.shutdown_timeout_s, 1, 3600);
  a.prune_interval_s = DurationKey(ar, "prune_interval", a.prune_interval_s, 60, 7 * 86400);
  ReadStatusTcp(ar, a);
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "off"};
  if (!kLevels.count(a.log_level)) {
    ar.ErrorAtKey("log_level",
                  "[agent] log_level must be one of trace, debug, info, warn, error, off");
  }
  ar.Finish(
      "state_dir, status_socket, log_level, log_file, workers, max_concurrent_snapshots, "
      "max_concurrent_uploads, jitter, poll_ms, upload_interval, segment_ms, shutdown_timeout, "
      "prune_interval, status_tcp, status_token_file");
}

void ReadKeys(const toml::table& t, const std::string& path, KeysConfig& keys,
              std::vector<std::string>& errors) {
  TableReader kr(t, "[keys]", path, errors);
  keys.source = TableText(t);
  keys.key_file = kr.String("key_file").value_or("");
  keys.passphrase_env = kr.String("passphrase_env").value_or("");
  keys.passphrase_file = kr.String("passphrase_file").value_or("");
  kr.Finish("key_file, passphrase_env, passphrase_file");
}

Result<toml::table> ParseToml(std::string_view text, const std::string& path) {
  try {
    return toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return ConfigError(path + ":" + std::to_string(e.source().begin.line) + ": " +
                       std::string(e.description()));
  }
}

}  // namespace

Result<Config> ParseConfig(std::string_view text, const std::string& path) {
  AURA_ASSIGN_OR_RETURN(toml::table root, ParseToml(text, path));
  Config cfg;
  cfg.path = path;
  std::vector<std::string> errors;
  TableReader r(root, "the top level", path, errors);
  if (const toml::table* at = r.Table("agent")) ReadAgent(*at, path, cfg.agent, errors);
  if (const toml::table* k = r.Table("keys")) ReadKeys(*k, path, cfg.keys, errors);
  ForEachArrayTable(r, root, "target", errors, path,
                    [&](const toml::table& t, int i) { ReadTarget(t, i, path, cfg, errors); });
  ForEachArrayTable(r, root, "database", errors, path,
                    [&](const toml::table& t, int i) { ReadDatabase(t, i, path, cfg, errors); });
  ForEachArrayTable(r, root, "standby", errors, path,
                    [&](const toml::table& t, int i) { ReadStandby(t, i, path, cfg, errors); });
  r.Finish("agent, keys, target, database, standby");
  CrossCheck(cfg, path, errors);
  CrossCheckStandbys(cfg, path, errors);

  if (errors.empty()) return cfg;
  std::string all;
  for (const std::string& e : errors) all += (all.empty() ? "" : "\n") + e;
  return ConfigError(all);
}

Result<std::vector<const DatabaseConfig*>> SelectDatabases(const Config& cfg,
                                                           const std::string& name) {
  std::vector<const DatabaseConfig*> out;
  for (const DatabaseConfig& d : cfg.databases) {
    if (name.empty() || d.name == name) out.push_back(&d);
  }
  if (out.empty()) {
    return NotFound(name.empty() ? "the config lists no [[database]]"
                                 : "no [[database]] named '" + name + "' in " + cfg.path);
  }
  return out;
}

Result<int64_t> ParseDurationSeconds(const std::string& text) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0 || i > 12)
    return ConfigError("'" + text + "' is not a duration (e.g. 90s, 15m, 12h, 7d)");
  int64_t n = std::stoll(text.substr(0, i));
  std::string unit = text.substr(i);
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  if (unit == "d") return n * 86400;
  return ConfigError("'" + text + "' is not a duration (e.g. 90s, 15m, 12h, 7d)");
}

Result<int64_t> ParseDurationMillis(const std::string& text) {
  if (text.size() > 2 && text.compare(text.size() - 2, 2, "ms") == 0) {
    const std::string digits = text.substr(0, text.size() - 2);
    if (digits.size() <= 12 && std::all_of(digits.begin(), digits.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      return std::stoll(digits);
    }
    return ConfigError("'" + text + "' is not a duration (e.g. 500ms, 1s, 10s, 1m)");
  }
  AURA_ASSIGN_OR_RETURN(int64_t s, ParseDurationSeconds(text));
  if (s > INT64_MAX / 1000) return ConfigError("'" + text + "' is too long a duration");
  return s * 1000;
}

Result<Config> LoadConfig(const std::string& path) {
  auto text = ReadFileToString(path, 4 << 20);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return NotFound("config file " + path + " does not exist");
    }
    return text.status();
  }
  return ParseConfig(*text, path);
}

Result<backup::KeySource> PassphraseFromEnv(const std::string& variable) {
  const char* v = std::getenv(variable.c_str());
  if (v == nullptr || *v == '\0') {
    return KeyError("the passphrase variable $" + variable + " is not set or empty");
  }
  backup::KeySource k;
  k.kind = backup::KeySource::Kind::kPassphrase;
  k.passphrase = v;
  k.passphrase_origin = "$" + variable;
  return k;
}

Result<backup::KeySource> PassphraseFromFile(const std::string& path) {
  auto text = ReadSecretFile(path, 64 * 1024, "passphrase file");
  if (!text.ok()) {
    if (text.status().code() == Code::kKeyError) return text.status();
    return text.status().WithContext("passphrase file");
  }
  std::string p = *text;
  while (!p.empty() && (p.back() == '\n' || p.back() == '\r')) p.pop_back();
  backup::KeySource k;
  k.kind = backup::KeySource::Kind::kPassphrase;
  k.passphrase = p;
  k.passphrase_origin = path;
  return k;
}

Result<backup::KeySource> KeySourceFor(const Config& config, const TargetConfig& target) {
  backup::KeySource k;
  if (target.encryption == "none") {
    k.kind = backup::KeySource::Kind::kNone;
    return k;
  }
  if (!config.keys.key_file.empty()) {
    k.kind = backup::KeySource::Kind::kKeyFile;
    k.key_file = config.keys.key_file;
    return k;
  }
  if (!config.keys.passphrase_env.empty()) return PassphraseFromEnv(config.keys.passphrase_env);
  if (!config.keys.passphrase_file.empty()) return PassphraseFromFile(config.keys.passphrase_file);
  return KeyError("target '" + target.name + "' is encrypted but [keys] names no key");
}

Result<std::string> ReadStatusToken(const std::string& file) {
  AURA_ASSIGN_OR_RETURN(std::string text, ReadSecretFile(file, 4096, "status token file"));
  std::string token = text.substr(0, text.find_first_of("\r\n"));
  if (token.size() < 16) {
    return ConfigError("the status token in " + file + " must be at least 16 characters");
  }
  return token;
}

}  // namespace aura::agent
