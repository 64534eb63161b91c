// backup --policy (a scheduled snapshot run by hand, on its incremental chain) and prune.
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/jobs.h"
#include "backup/database_image.h"

namespace aura::agent {

using nlohmann::json;

namespace {

std::vector<std::string> Only(const std::vector<std::string>& names, const std::string& one) {
  if (one.empty()) return names;
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (n == one) out.push_back(n);
  }
  return out;
}

}  // namespace

int RunBackupPolicy(const BackupArgs& args, const Output& out) {
  if (args.repo.config.empty()) {
    return out.Fail(
        InvalidArgument("--policy needs --config (the chain state lives in the "
                        "agent's state directory)"));
  }
  auto cfg = LoadConfigAndWarn(args.repo.config);
  if (!cfg.ok()) return out.Fail(cfg.status());
  auto dbs = SelectDatabases(*cfg, args.repo.database);
  if (!dbs.ok()) return out.Fail(dbs.status());
  auto lock = StateDirLock::Acquire(cfg->agent.state_dir);
  if (!lock.ok()) {
    return out.Fail(AlreadyExists(lock.status().message() +
                                  "; it owns the snapshot chains: ask it instead (aura-agent "
                                  "status shows it; POST /v1/databases/NAME/backup?policy=" +
                                  args.policy + ") or stop it"));
  }
  auto state = StateStore::Open(cfg->agent.state_dir);
  if (!state.ok()) return out.Fail(state.status().WithContext("state directory"));
  json results = json::array();
  int ran = 0;
  for (const DatabaseConfig* db : *dbs) {
    const PolicyConfig* p = FindPolicy(*db, args.policy);
    if (p == nullptr || !p->enabled) continue;
    // Before the targets are opened (and created): a missing database leaves nothing in them.
    auto source = backup::CheckDatabaseFile(db->path);
    if (!source.ok()) return out.Fail(source.status().WithContext("backup of " + db->name));
    auto targets = OpenTargets(*cfg, Only(PolicyTargets(*db, *p), args.repo.target));
    if (!targets.ok()) return out.Fail(targets.status());
    for (const TargetHandle& t : *targets) {
      const TimePoint now = SystemClock::Instance().Now();
      auto r =
          RunPolicySnapshot(*db, args.policy, p->full_every, t, **state, args.threads,
                            SystemClock::Instance(), SourceCheckFailing(**state, db->name, now));
      if (!r.ok()) {
        return out.Fail(r.status().WithContext(args.policy + " snapshot of " + db->name +
                                               " to target '" + t.name + "' failed"));
      }
      ++ran;
      const backup::Manifest& m = r->manifest;
      const backup::SnapshotSummary& s = m.summary;
      json j = PolicySnapshotJson(*r);
      j["target"] = t.name;
      j["policy"] = args.policy;
      results.push_back(j);
      std::string kind = r->incremental ? "incremental on " + s.base + ", " +
                                              std::to_string(m.pages_changed) + " page(s) changed"
                                        : "full (" + r->why_full + ")";
      out.Line(args.policy + " snapshot " + s.snapshot + " of " + db->name + " -> " + t.name +
               ": " + kind + ", " + HumanBytes(s.size) + " database, " + HumanBytes(s.stored_size) +
               " stored, " + std::to_string(m.duration_ms) + " ms");
    }
  }
  if (ran == 0) {
    return out.Fail(InvalidArgument("no selected database has a '" + args.policy + "' policy in " +
                                    args.repo.config));
  }
  out.Json({{"snapshots", results}});
  return 0;
}

namespace {

// Prints one target's prune decisions and returns them as JSON.
json ReportPrune(const DatabaseConfig& db, const std::string& target, const PruneReport& r,
                 bool dry_run, const Output& out) {
  json snaps = json::array();
  size_t keep = 0, go = 0, seg_keep = 0, seg_go = 0;
  out.Line(db.name + " on " + target + ":");
  for (const backup::RetentionDecision& d : r.plan.snapshots) {
    snaps.push_back({{"snapshot", d.name}, {"keep", d.keep}, {"reasons", d.reasons}});
    (d.keep ? keep : go)++;
    std::string why;
    for (const std::string& reason : d.reasons) why += (why.empty() ? "" : "; ") + reason;
    out.Line(std::string(d.keep ? "  keep   " : "  delete ") + d.name + "  (" + why + ")");
  }
  for (const backup::RetentionDecision& d : r.plan.segments) (d.keep ? seg_keep : seg_go)++;
  for (const std::string& o : r.orphans) {
    out.Line("  delete " + o + "  (data object without a manifest, older than a day)");
  }
  json kept_data = json::array();
  for (const auto& [o, why] : r.kept_without_manifest) {
    out.Line("  keep   " + o + "  (" + why + ")");
    kept_data.push_back({{"object", o}, {"reason", why}});
  }
  const std::string gone = dry_run ? " would go" : " deleted";
  out.Line("  " + std::to_string(keep) + " snapshot(s) kept, " + std::to_string(go) + gone + "; " +
           std::to_string(seg_keep) + " WAL segment(s) kept, " + std::to_string(seg_go) + gone +
           "; " + std::to_string(r.orphans.size()) + " orphan(s)" +
           (r.stale_temp_files > 0
                ? "; " + std::to_string(r.stale_temp_files) + " stale temp file(s) removed"
                : ""));
  return {{"database", db.name},          {"target", target},
          {"dry_run", dry_run},           {"snapshots", snaps},
          {"segments_kept", seg_keep},    {"segments_deleted", seg_go},
          {"orphans", r.orphans},         {"kept_without_manifest", kept_data},
          {"objects_deleted", r.deleted}, {"stale_temp_files_removed", r.stale_temp_files}};
}

}  // namespace

int RunPruneCommand(const PruneArgs& args, const Output& out) {
  auto cfg = LoadConfigAndWarn(args.config);
  if (!cfg.ok()) return out.Fail(cfg.status());
  auto dbs = SelectDatabases(*cfg, args.database);
  if (!dbs.ok()) return out.Fail(dbs.status());
  // A dry run only reads; a real prune must not race the running agent's own prunes.
  std::optional<StateDirLock> lock;
  if (!args.dry_run) {
    auto l = StateDirLock::Acquire(cfg->agent.state_dir);
    if (!l.ok()) {
      return out.Fail(AlreadyExists(l.status().message() +
                                    "; it prunes on its own: ask it (POST "
                                    "/v1/databases/NAME/prune), use --dry-run, or stop it"));
    }
    lock.emplace(std::move(l).value());
  }
  auto state = StateStore::Open(cfg->agent.state_dir);
  if (!state.ok()) return out.Fail(state.status().WithContext("state directory"));
  json reports = json::array();
  for (const DatabaseConfig* db : *dbs) {
    auto targets = OpenTargets(*cfg, Only(db->targets, args.target));
    if (!targets.ok()) return out.Fail(targets.status());
    for (const TargetHandle& t : *targets) {
      auto verified = (*state)->Verified(db->name, t.name);
      if (!verified.ok()) return out.Fail(verified.status());
      const TimePoint now = SystemClock::Instance().Now();
      auto r = RunPrune(*t.repo, *db, *verified, now, args.dry_run,
                        SourceCheckFailing(**state, db->name, now));
      if (!r.ok()) {
        return out.Fail(
            r.status().WithContext("prune of " + db->name + " on target '" + t.name + "'"));
      }
      reports.push_back(ReportPrune(*db, t.name, *r, args.dry_run, out));
    }
  }
  out.Json({{"prune", reports}});
  return 0;
}

}  // namespace aura::agent
