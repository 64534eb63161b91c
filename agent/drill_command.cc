// drill: a restore drill now (integrity/drill.h), of a repository or of configured databases,
// recorded in the state database with --config; --history shows the recorded ones.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/repo_resolver.h"
#include "agent/state_store.h"
#include "integrity/drill.h"

namespace aura::agent {

using nlohmann::json;

namespace {

json ReportJson(const std::string& database, const std::string& target,
                const integrity::DrillReport& r) {
  json j = {{"database", database},
            {"target", target},
            {"outcome", integrity::DrillOutcomeName(r.outcome)},
            {"point", r.point},
            {"restored", r.restored},
            {"txid", r.txid},
            {"bytes", r.bytes},
            {"checks", r.checks},
            {"rto_seconds", r.rto_seconds},
            {"rpo_seconds", r.rpo_seconds ? json(*r.rpo_seconds) : json(nullptr)}};
  if (!r.passed()) {
    j["reason"] = r.reason;
    j["code"] = CodeName(r.code);
  }
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

int RunHistory(const DrillArgs& args, const Output& out) {
  if (args.repo.config.empty()) {
    return out.Fail(
        InvalidArgument("--history needs --config (drills are recorded in the "
                        "agent's state directory)"));
  }
  auto cfg = LoadConfig(args.repo.config);
  if (!cfg.ok()) return out.Fail(cfg.status());
  auto dbs = SelectDatabases(*cfg, args.repo.database);
  if (!dbs.ok()) return out.Fail(dbs.status());
  auto state = StateStore::Open(cfg->agent.state_dir);
  if (!state.ok()) return out.Fail(state.status().WithContext("state directory"));
  json all = json::array();
  for (const DatabaseConfig* db : *dbs) {
    auto drills = (*state)->Drills(db->name, 50);
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

}  // namespace

int RunDrillCommand(const DrillArgs& args, const Output& out) {
  if (args.history) return RunHistory(args, out);
  integrity::DrillOptions o;
  o.random_point = args.point == "random";
  o.assertions = args.assertions;
  std::vector<integrity::DrillReport> reports;
  json results = json::array();
  if (args.repo.config.empty()) {
    auto resolved = ResolveForRead(args.repo);
    if (!resolved.ok()) return out.Fail(resolved.status());
    std::string scratch = (std::filesystem::temp_directory_path() / "aura-drill-XXXXXX").string();
    if (::mkdtemp(scratch.data()) == nullptr) {
      return out.Fail(ErrnoStatus(errno, "mkdtemp", scratch));
    }
    o.scratch_dir = scratch;
    std::string database = resolved->database;
    if (database.empty()) {
      auto repo = backup::Repository::Open(resolved->storage, resolved->keys);
      auto latest =
          repo.ok() ? (*repo)->LatestSnapshot("") : Result<backup::SnapshotRef>(repo.status());
      database = latest.ok() ? latest->database : "";
    }
    reports.push_back(DrillOne(*resolved, database, o));
    std::filesystem::remove_all(scratch);
    PrintReport(database, reports.back(), out);
    results.push_back(ReportJson(database, resolved->storage->Describe(), reports.back()));
  } else {
    auto cfg = LoadConfig(args.repo.config);
    if (!cfg.ok()) return out.Fail(cfg.status());
    auto dbs = SelectDatabases(*cfg, args.repo.database);
    if (!dbs.ok()) return out.Fail(dbs.status());
    auto state = StateStore::Open(cfg->agent.state_dir);
    if (!state.ok()) return out.Fail(state.status().WithContext("state directory"));
    for (const DatabaseConfig* db : *dbs) {
      RepoArgs ra = args.repo;
      ra.database = db->name;
      auto resolved = ResolveForRead(ra);
      if (!resolved.ok()) return out.Fail(resolved.status());
      integrity::DrillOptions dbo = o;
      dbo.scratch_dir = cfg->agent.state_dir + "/drill/cli-" + db->name;
      dbo.source_path = db->path;
      dbo.assertions.insert(dbo.assertions.begin(), db->drill.assertions.begin(),
                            db->drill.assertions.end());
      if (args.point.empty() && db->drill.point == "random") dbo.random_point = true;
      reports.push_back(DrillOne(*resolved, db->name, dbo));
      const integrity::DrillReport& r = reports.back();
      const std::string target = ra.target.empty() ? db->targets.front() : ra.target;
      Status rec = (*state)->RecordDrill(
          db->name,
          {target, SystemClock::Instance().Now(), integrity::DrillOutcomeName(r.outcome), r.reason,
           r.point, r.restored, r.txid, static_cast<int64_t>(r.rto_seconds * 1000),
           r.rpo_seconds ? static_cast<int64_t>(*r.rpo_seconds * 1000) : -1});
      if (!rec.ok()) out.Line("warning: the drill could not be recorded: " + rec.message());
      PrintReport(db->name, r, out);
      results.push_back(ReportJson(db->name, target, r));
    }
  }
  out.Json({{"drills", results}});
  return ExitFor(reports);
}

}  // namespace aura::agent
