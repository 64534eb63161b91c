// [[standby]] tables: warm standbys the daemon keeps current (docs/STANDBY.md).
#include <set>

#include "agent/config.h"
#include "agent/toml_reader.h"
#include "common/sqlite_integrity.h"

namespace aura::agent {

void ReadStandby(const toml::table& t, int index, const std::string& file, Config& cfg,
                 std::vector<std::string>& errors) {
  std::string context = "[[standby]] #" + std::to_string(index + 1);
  TableReader r(t, context, file, errors);
  StandbyConfig s;
  s.line = r.line();
  s.source = TableText(t);
  s.name = r.String("name", true).value_or("");
  if (!s.name.empty()) {
    context = "[[standby]] '" + s.name + "'";
    // The same rules as a database's name: it becomes a metrics label and a log field.
    Status valid = backup::ValidateDatabaseName(s.name);
    if (!valid.ok()) r.ErrorAtKey("name", context + ": name: " + valid.message());
  }
  s.path = r.String("path", true).value_or("");
  s.from = r.String("from", true).value_or("");
  s.database = r.String("database").value_or("");
  if (!s.database.empty()) {
    Status valid = backup::ValidateDatabaseName(s.database);
    if (!valid.ok()) r.ErrorAtKey("database", context + ": " + valid.message());
  }
  if (auto poll = r.String("poll_interval")) {
    auto ms = ParseDurationMillis(*poll);
    if (!ms.ok() || *ms < 10 || *ms > 3600 * 1000) {
      r.ErrorAtKey("poll_interval",
                   context + ".poll_interval must be a duration between 10ms and 1h, e.g. \"1s\"");
    } else {
      s.poll_ms = *ms;
    }
  }
  s.check = r.String("check").value_or("quick");
  if (!ParseIntegrityLevel(s.check).ok()) {
    r.ErrorAtKey("check", context + ".check must be \"none\", \"quick\" or \"full\"");
  }
  s.max_lag_s = DurationKey(r, "max_lag", 300, 1, 30 * 86400);
  r.Finish("name, path, from, database, poll_interval, check, max_lag");
  cfg.standbys.push_back(std::move(s));
}

void CrossCheckStandbys(const Config& cfg, const std::string& file,
                        std::vector<std::string>& errors) {
  auto at = [&](const StandbyConfig& s) { return file + ":" + std::to_string(s.line) + ": "; };
  std::set<std::string> names, paths;
  for (const StandbyConfig& s : cfg.standbys) {
    if (!s.name.empty() && !names.insert(s.name).second) {
      errors.push_back(at(s) + "duplicate standby '" + s.name + "'");
    }
    if (!s.path.empty() && !paths.insert(s.path).second) {
      errors.push_back(at(s) + "standby '" + s.name + "': another [[standby]] already follows " +
                       s.path);
    }
    if (!s.from.empty() && cfg.FindTarget(s.from) == nullptr) {
      errors.push_back(at(s) + "standby '" + s.name + "' names unknown target '" + s.from +
                       "' in 'from'");
    }
    for (const DatabaseConfig& d : cfg.databases) {
      if (d.path == s.path) {
        errors.push_back(at(s) + "standby '" + s.name + "' path " + s.path +
                         " is the live database '" + d.name +
                         "': a standby is a separate file the agent rewrites");
      }
    }
  }
}

std::string Config::Fingerprint(const StandbyConfig& sb) const {
  const TargetConfig* t = FindTarget(sb.from);
  return sb.source + "\n--keys\n" + keys.source + "\n--target\n" + (t != nullptr ? t->source : "");
}

}  // namespace aura::agent
