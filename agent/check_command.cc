// check: the live-database integrity check (integrity/live_check.h) of a file or of configured
// databases, now.
#include <nlohmann/json.hpp>

#include "agent/commands.h"
#include "agent/config.h"
#include "backup/database_image.h"
#include "common/open_files.h"
#include "integrity/live_check.h"

namespace aura::agent {

using nlohmann::json;

namespace {

struct Target {
  std::string name, path;
  std::string level;
  int busy_timeout_ms = 5000;
};

Result<std::vector<Target>> TargetsOf(const CheckArgs& args) {
  if (!args.db.empty() && !args.config.empty()) {
    return InvalidArgument("check takes --db PATH or --config FILE, not both");
  }
  if (args.db.empty() && args.config.empty()) {
    return InvalidArgument("check needs --db PATH (a database file) or --config FILE");
  }
  if (!args.db.empty()) return std::vector<Target>{{args.db, args.db, args.level, 5000}};
  AURA_ASSIGN_OR_RETURN(Config cfg, LoadConfigAndWarn(args.config));
  AURA_ASSIGN_OR_RETURN(auto dbs, SelectDatabases(cfg, args.database));
  std::vector<Target> out;
  for (const DatabaseConfig* d : dbs) {
    out.push_back(
        {d->name, d->path, args.level.empty() ? d->check.level : args.level, d->busy_timeout_ms});
  }
  return out;
}

}  // namespace

int RunCheckCommand(const CheckArgs& args, const Output& out) {
  auto targets = TargetsOf(args);
  if (!targets.ok()) return out.Fail(targets.status());
  json results = json::array();
  size_t failed = 0;
  for (const Target& t : *targets) {
    integrity::LiveCheckOptions o;
    o.level = t.level == "full" ? IntegrityLevel::kFull : IntegrityLevel::kQuick;
    o.busy_timeout_ms = t.busy_timeout_ms;
    Status path_ok = backup::CheckDatabasePath(t.path);
    if (!path_ok.ok()) return out.Fail(path_ok);
    auto r = integrity::CheckLiveDatabase(t.path, o);
    if (!r.ok()) return out.Fail(WithHolders(r.status(), t.path).WithContext("check of " + t.name));
    const std::string level = IntegrityLevelName(o.level);
    results.push_back({{"database", t.name},
                       {"path", t.path},
                       {"level", level},
                       {"ok", r->ok()},
                       {"problems", r->problems},
                       {"duration_ms", r->duration_ms}});
    if (r->ok()) {
      out.Line(t.name + ": " + level + " check ok (" + std::to_string(r->duration_ms) + " ms)");
      continue;
    }
    ++failed;
    out.Line(t.name + ": " + level + " check FAILED, " + std::to_string(r->problems.size()) +
             " problem(s):");
    for (const std::string& p : r->problems) out.Line("  " + p);
  }
  out.Json({{"ok", failed == 0}, {"databases", results}});
  if (failed == 0) return 0;
  std::fprintf(stderr,
               "aura-agent: error: %zu database(s) failed the integrity check; restore the newest "
               "good snapshot (aura-agent restore) after stopping the application\n",
               failed);
  return ExitCode(Corruption("integrity check failed"));
}

}  // namespace aura::agent
