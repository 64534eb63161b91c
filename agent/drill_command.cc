// drill: a restore drill now (integrity/drill.h), of a repository or of configured databases,
// recorded in the state database with --config; --history shows the recorded ones.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/jobs.h"
#include "agent/repo_resolver.h"
#include "agent/state_store.h"
#include "integrity/drill.h"

namespace aura::agent {

using nlohmann::json;

namespace {

json ReportJson(const std::string& database, const std::string& target,
                const integrity::DrillReport& r) {
  json j = DrillReportJson(target, r);
  j["database"] = database;
  return j;
}

void PrintReport(const std::string& database, const integrity::DrillReport& r, const Output& out) {
  char times[96];
  std::snprintf(times, sizeof times, "RTO %.2f s, RPO %s", r.rto_seconds,
                r.rpo_seconds
                    ? (std::to_string(static_cast<int64_t>(*r.rpo_seconds)) + " s").c_str()
                    : "not measured");
  if (!r.passed()) {
    out.Line("drill of " + database + ": " + integrity::DrillOutcomeName(r.outcome) + ": " +
             r.reason);
    return;
  }
  std::string checks;
  for (const std::string& c : r.checks) checks += (checks.empty() ? "" : ", ") + c;
  out.Line("drill of " + database + ": PASS: restored " + r.restored + "; " + checks + "; " +
           times);
}

// One drill against one resolved repository; `scratch` is removed afterwards when `own_scratch`.
integrity::DrillReport DrillOne(const ResolvedRepo& resolved, const std::string& database,
                                integrity::DrillOptions o) {
  o.database = database;
  auto repo = backup::Repository::Open(resolved.storage, resolved.keys);
  if (!repo.ok()) {
    integrity::DrillReport r;
    r.outcome = repo.status().code() == Code::kNotFound ? integrity::DrillOutcome::kFail
                                                        : integrity::DrillOutcome::kInconclusive;
    r.code = repo.status().code();
    r.reason = repo.status().message();
    return r;
  }
  return integrity::RunRestoreDrill(**repo, o);
}

int ExitFor(const std::vector<integrity::DrillReport>& reports) {
  int code = 0;
  for (const auto& r : reports) {
    if (r.outcome == integrity::DrillOutcome::kFail) return ExitCode(Corruption("drill failed"));
    if (r.outcome == integrity::DrillOutcome::kInconclusive) code = ExitCode(Status(r.code, ""));
  }
  return code;
}

// The config, the databases the command names, and the state database drills are recorded in.
struct Configured {
  std::unique_ptr<Config> config;  // owns what `databases` points to
  std::vector<const DatabaseConfig*> databases;
  std::unique_ptr<StateStore> state;
};

Result<Configured> OpenConfigured(const DrillArgs& args) {
  Configured c;
  AURA_ASSIGN_OR_RETURN(Config cfg, LoadConfigAndWarn(args.repo.config));
  c.config = std::make_unique<Config>(std::move(cfg));
  AURA_ASSIGN_OR_RETURN(c.databases, SelectDatabases(*c.config, args.repo.database));
  auto state = StateStore::Open(c.config->agent.state_dir);
  if (!state.ok()) return state.status().WithContext("state directory");
  c.state = std::move(state).value();
  return c;
}

int RunHistory(const DrillArgs& args, const Output& out) {
  if (args.repo.config.empty()) {
    return out.Fail(
        InvalidArgument("--history needs --config (drills are recorded in the "
                        "agent's state directory)"));
  }
  auto c = OpenConfigured(args);
  if (!c.ok()) return out.Fail(c.status());
  json all = json::array();
  for (const DatabaseConfig* db : c->databases) {
    auto drills = c->state->Drills(db->name, 50);
    if (!drills.ok()) return out.Fail(drills.status());
    for (const DrillRecord& d : *drills) {
      all.push_back({{"database", db->name},
                     {"target", d.target},
                     {"finished", FormatRfc3339(d.finished, 0)},
                     {"outcome", d.outcome},
                     {"reason", d.reason},
                     {"point", d.point},
                     {"restored", d.restored},
                     {"txid", d.txid},
                     {"rto_ms", d.rto_ms},
                     {"rpo_ms", d.rpo_ms >= 0 ? json(d.rpo_ms) : json(nullptr)}});
      out.Line(FormatRfc3339(d.finished, 0) + "  " + db->name + "  " + d.target + "  " + d.outcome +
               "  RTO " + std::to_string(d.rto_ms) + " ms  " +
               (d.reason.empty() ? d.restored : d.reason));
    }
  }
  out.Json({{"drills", all}});
  return 0;
}

// A drill that could not start (bad flags, no scratch space): reported as an error, not a drill.
integrity::DrillReport FailedBefore(const Status& s) {
  integrity::DrillReport r;
  r.outcome = integrity::DrillOutcome::kInconclusive;
  r.code = s.code();
  r.reason = s.message();
  return r;
}

// A drill of a repository named by flags, in a temporary scratch directory.
integrity::DrillReport DrillFromFlags(const DrillArgs& args, integrity::DrillOptions o,
                                      const Output& out, json& results) {
  auto resolved = ResolveForRead(args.repo);
  if (!resolved.ok()) return FailedBefore(resolved.status());
  std::string scratch = (std::filesystem::temp_directory_path() / "aura-drill-XXXXXX").string();
  if (::mkdtemp(scratch.data()) == nullptr) {
    return FailedBefore(ErrnoStatus(errno, "mkdtemp", scratch));
  }
  o.scratch_dir = scratch;
  std::string database = resolved->database;
  if (database.empty()) {
    auto repo = backup::Repository::Open(resolved->storage, resolved->keys);
    auto latest =
        repo.ok() ? (*repo)->LatestSnapshot("") : Result<backup::SnapshotRef>(repo.status());
    database = latest.ok() ? latest->database : "";
  }
  integrity::DrillReport r = DrillOne(*resolved, database, o);
  std::filesystem::remove_all(scratch);
  PrintReport(database, r, out);
  results.push_back(ReportJson(database, resolved->storage->Describe(), r));
  return r;
}

// A drill of each configured database (its first target, or --target), recorded.
Status DrillConfigured(const DrillArgs& args, const integrity::DrillOptions& o, const Output& out,
                       json& results, std::vector<integrity::DrillReport>& reports) {
  AURA_ASSIGN_OR_RETURN(Configured c, OpenConfigured(args));
  for (const DatabaseConfig* db : c.databases) {
    RepoArgs ra = args.repo;
    ra.database = db->name;
    AURA_ASSIGN_OR_RETURN(ResolvedRepo resolved, ResolveForRead(ra));
    integrity::DrillOptions dbo = o;
    dbo.scratch_dir = c.config->agent.state_dir + "/drill/cli-" + db->name;
    dbo.source_path = db->path;
    dbo.assertions.insert(dbo.assertions.begin(), db->drill.assertions.begin(),
                          db->drill.assertions.end());
    if (args.point.empty() && db->drill.point == "random") dbo.random_point = true;
    reports.push_back(DrillOne(resolved, db->name, dbo));
    const integrity::DrillReport& r = reports.back();
    const std::string target = ra.target.empty() ? db->targets.front() : ra.target;
    Status rec =
        c.state->RecordDrill(db->name, DrillRecordOf(target, SystemClock::Instance().Now(), r));
    if (!rec.ok()) out.Line("warning: the drill could not be recorded: " + rec.message());
    PrintReport(db->name, r, out);
    results.push_back(ReportJson(db->name, target, r));
  }
  return Status::Ok();
}

}  // namespace

int RunDrillCommand(const DrillArgs& args, const Output& out) {
  if (args.history) return RunHistory(args, out);
  integrity::DrillOptions o;
  o.random_point = args.point == "random";
  o.verify_repository = !args.no_verify;
  o.assertions = args.assertions;
  o.progress = out.progress();
  std::vector<integrity::DrillReport> reports;
  json results = json::array();
  if (args.repo.config.empty()) {
    reports.push_back(DrillFromFlags(args, o, out, results));
    if (reports.back().restored.empty() && reports.back().code != Code::kOk && results.empty()) {
      return out.Fail(Status(reports.back().code, reports.back().reason));
    }
  } else {
    Status s = DrillConfigured(args, o, out, results, reports);
    if (!s.ok()) return out.Fail(s);
  }
  out.Json({{"drills", results}});
  return ExitFor(reports);
}

}  // namespace aura::agent
