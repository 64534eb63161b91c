#include "agent/jobs.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

#include "agent/storage_url.h"
#include "backup/pitr_restore.h"
#include "backup/replicator.h"
#include "backup/restore.h"
#include "common/file_io.h"
#include "integrity/live_check.h"
#include "scheduler/calendar.h"

namespace aura::agent {

namespace {

// Deletes `names`, manifests strictly before everything else (in batches where the storage has
// them), so that an interrupted prune never leaves a listed snapshot without its data.
Status DeleteInOrder(backup::Storage& storage, const std::vector<std::string>& names) {
  std::vector<std::string> first, rest;
  for (const std::string& n : names) (n.ends_with(".manifest") ? first : rest).push_back(n);
  if (!first.empty()) AURA_RETURN_IF_ERROR(storage.DeleteMany(first));
  if (!rest.empty()) AURA_RETURN_IF_ERROR(storage.DeleteMany(rest));
  return Status::Ok();
}

// A snapshot of `db` labelled `label`, named and dated by `clock`.
backup::SnapshotOptions SnapshotOptionsFor(const DatabaseConfig& db, const std::string& label,
                                           int threads, const Clock& clock) {
  backup::SnapshotOptions o;
  o.database_name = db.name;
  o.label = label;
  o.busy_timeout_ms = db.busy_timeout_ms;
  o.threads = threads;
  o.clock = &clock;
  return o;
}

}  // namespace

void RemoveWritesOfKilledRuns(backup::Storage& storage) {
  auto removed = storage.RemoveAbandonedWrites(kAbandonedWriteAge);
  if (!removed.ok()) {
    spdlog::warn("op=cleanup {}: could not look for writes a killed run left open: {}",
                 storage.Describe(), removed.status().message());
  } else if (*removed > 0) {
    spdlog::warn("op=cleanup {}: removed {} write(s) a killed run left open", storage.Describe(),
                 *removed);
  }
}

Result<std::vector<TargetHandle>> OpenTargets(const Config& config,
                                              const std::vector<std::string>& names,
                                              const Clock& clock) {
  std::vector<TargetHandle> out;
  for (const std::string& name : names) {
    const TargetConfig* t = config.FindTarget(name);
    if (t == nullptr) return ConfigError("unknown target '" + name + "'");
    AURA_ASSIGN_OR_RETURN(auto storage, OpenTarget(*t));
    AURA_ASSIGN_OR_RETURN(backup::KeySource keys, KeySourceFor(config, *t));
    auto repo = backup::Repository::OpenForWrite(storage, keys, clock);
    if (!repo.ok()) return repo.status().WithContext("target '" + name + "'");
    out.push_back({name, std::shared_ptr<backup::Repository>(std::move(repo).value())});
  }
  return out;
}

std::vector<std::string> PolicyTargets(const DatabaseConfig& db, const PolicyConfig& policy) {
  return policy.targets.empty() ? db.targets : policy.targets;
}

const PolicyConfig* FindPolicy(const DatabaseConfig& db, const std::string& name) {
  if (name == "hourly") return &db.hourly;
  if (name == "daily") return &db.daily;
  if (name == "weekly") return &db.weekly;
  if (name == "monthly") return &db.monthly;
  return nullptr;
}

Result<backup::SnapshotResult> TakeJobSnapshot(const DatabaseConfig& db, backup::Repository& repo,
                                               backup::SnapshotOptions o,
                                               const SnapshotTaker& take) {
  if (take) {
    auto r = take(o);
    if (r.ok() || r.status().code() != Code::kUnavailable) return r;
  }
  backup::DatabaseChecksum image;
  if (db.continuous) {
    auto end = backup::FindReplicatedEnd(repo, db.name);
    if (!end.ok()) {
      spdlog::warn(
          "db={} op=snapshot cannot read where shipping ended ({}); taking a snapshot "
          "WAL segments cannot follow",
          db.name, end.status().message());
    } else if (*end) {
      o.replication_if_equal = (*end)->point;
      if (o.pages == nullptr) o.checksum = &image;
    }
  }
  return backup::TakeSnapshot(db.path, repo, o);
}

Result<PolicySnapshotResult> RunPolicySnapshot(const DatabaseConfig& db, const std::string& policy,
                                               int full_every, const TargetHandle& target,
                                               StateStore& state, int threads, const Clock& clock,
                                               bool source_check_failed) {
  PolicySnapshotResult out;
  std::optional<ChainRecord> chain;
  auto stored = state.Chain(db.name, target.name, policy);
  if (!stored.ok()) {
    out.why_full = "the chain's page state is unreadable (" + stored.status().message() + ")";
  } else if (!stored->has_value()) {
    out.why_full = "first snapshot of its chain";
  } else if ((*stored)->length >= full_every) {
    out.why_full = "the chain reached full_every = " + std::to_string(full_every);
  } else {
    backup::SnapshotRef base{db.name, (*stored)->snapshot_id, 0};
    auto st = target.repo->storage().Stat(base.ManifestName());
    if (st.ok()) {
      chain = std::move(**stored);
    } else if (st.status().code() == Code::kNotFound) {
      out.why_full = "the chain's last snapshot " + base.id + " is gone from the target";
    } else {
      return st.status().WithContext("checking the chain's last snapshot");
    }
  }
  backup::SnapshotOptions o = SnapshotOptionsFor(db, policy, threads, clock);
  o.source_check_failed = source_check_failed;
  backup::PageState pages = chain ? std::move(chain->pages) : backup::PageState();  // no copy
  o.pages = &pages;
  o.base = chain ? chain->snapshot_id : "";
  auto snap = TakeJobSnapshot(db, *target.repo, o, target.take);
  if (!snap.ok() && chain && snap.status().code() == Code::kInvalidArgument) {
    // The page size changed (VACUUM with a new page_size): start a new chain.
    out.why_full = snap.status().message();
    chain.reset();
    pages = backup::PageState();
    o.base.clear();
    snap = TakeJobSnapshot(db, *target.repo, o, target.take);
  }
  if (!snap.ok()) return snap.status();
  out.incremental = chain.has_value();
  out.ref = snap->ref;
  out.manifest = std::move(snap->manifest);
  ChainRecord next{out.ref.id, chain ? chain->length + 1 : 1, std::move(pages)};
  out.state_write = state.PutChain(db.name, target.name, policy, next);
  if (!out.state_write.ok()) {
    // The snapshot is safe; the next one of this chain is simply full.
    spdlog::warn("{} {}: could not record the chain state ({}); the next snapshot is full", db.name,
                 policy, out.state_write.message());
    Status dropped = state.DropChain(db.name, target.name, policy);
    if (!dropped.ok()) {
      spdlog::error(
          "{} {}: could not forget the chain state either ({}); the next snapshot "
          "builds on the chain's previous one",
          db.name, policy, dropped.message());
    }
  }
  return out;
}

Result<PolicySnapshotResult> RunManualSnapshot(const DatabaseConfig& db, const std::string& label,
                                               const TargetHandle& target, int threads,
                                               const Clock& clock, bool source_check_failed) {
  backup::SnapshotOptions o = SnapshotOptionsFor(db, label, threads, clock);
  o.source_check_failed = source_check_failed;
  AURA_ASSIGN_OR_RETURN(backup::SnapshotResult s,
                        TakeJobSnapshot(db, *target.repo, o, target.take));
  PolicySnapshotResult out;
  out.ref = s.ref;
  out.manifest = std::move(s.manifest);
  out.why_full = "manual snapshot";
  return out;
}

nlohmann::json PolicySnapshotJson(const PolicySnapshotResult& r) {
  nlohmann::json j = backup::SummaryJson(r.manifest.summary);
  j["why_full"] = r.why_full;
  j["pages_changed"] = r.manifest.pages_changed;
  j["duration_ms"] = r.manifest.duration_ms;
  return j;
}

backup::RetentionPolicy RetentionFor(const DatabaseConfig& db) {
  backup::RetentionPolicy p;
  p.last = db.keep_last;
  p.hourly = db.hourly.enabled ? db.hourly.keep : 0;
  p.daily = db.daily.enabled ? db.daily.keep : 0;
  p.weekly = db.weekly.enabled ? db.weekly.keep : 0;
  p.monthly = db.monthly.enabled ? db.monthly.keep : 0;
  p.pitr_window = std::chrono::seconds(db.continuous ? db.pitr_window_s : 0);
  p.by_policy_label = true;
  const std::string& tz = db.daily.enabled ? db.daily.timezone : db.hourly.timezone;
  auto s = scheduler::MakeSchedule(scheduler::Period::kDaily, 0, "00:00", "", tz);
  if (s.ok()) p.zone = s->zone;
  return p;
}

namespace {

// Data objects without a manifest: a crash between the two writes, or a snapshot being taken
// right now. Only those older than a day go; younger ones may still be in flight. One that is the
// base of a listed increment is never an orphan (its manifest is what is missing; verify says so):
// deleting it would make the increment unrestorable.
Status FindOrphans(backup::Repository& repo, const std::string& database,
                   const std::set<std::string>& manifests,
                   const std::map<std::string, std::string>& bases, TimePoint now,
                   PruneReport& report) {
  AURA_ASSIGN_OR_RETURN(auto objects, repo.storage().List(database + "/snapshots/"));
  for (const backup::ObjectInfo& o : objects) {
    if (!o.name.ends_with(".data") || manifests.count(o.name)) continue;
    auto base = bases.find(o.name);
    if (base != bases.end()) {
      report.kept_without_manifest.push_back(
          {o.name, "the base of incremental snapshot " + base->second +
                       ", though its manifest is missing (aura-agent verify names it)"});
    } else if (o.modified < now - std::chrono::hours(24)) {
      report.orphans.push_back(o.name);
    }
  }
  return Status::Ok();
}

}  // namespace

bool SourceCheckFailing(StateStore& state, const std::string& database, TimePoint now) {
  // A failed full check stands until a full check passes; a failed quick check until any check
  // passes after it.
  auto full = state.Job(database, "check", now);
  auto quick = state.Job(database, "quick_check", now);
  if (full.ok() && full->last_result == "error") return true;
  if (!quick.ok() || quick->last_result != "error") return false;
  return !full.ok() || !full->last_ok || !quick->last_run || *full->last_ok < *quick->last_run;
}

Result<PruneReport> RunPrune(backup::Repository& repo, const DatabaseConfig& db,
                             const std::set<std::string>& verified, TimePoint now, bool dry_run,
                             bool source_failing) {
  AURA_ASSIGN_OR_RETURN(auto refs, repo.ListSnapshots(db.name));
  std::vector<backup::SnapshotInfo> snaps;
  std::set<std::string> manifests;
  std::map<std::string, std::string> bases;  // base data object -> the increment that needs it
  for (const backup::SnapshotRef& ref : refs) {
    AURA_ASSIGN_OR_RETURN(backup::SnapshotSummary s, repo.ReadSummary(ref));
    snaps.push_back({ref, s, s.base, verified.count(ref.id) > 0});
    manifests.insert(ref.DataName());
    if (!s.base.empty()) bases[backup::SnapshotRef{db.name, s.base, 0}.DataName()] = ref.id;
  }
  AURA_ASSIGN_OR_RETURN(auto seg_refs, repo.ListSegments(db.name));
  AURA_ASSIGN_OR_RETURN(auto wal_objects, repo.storage().List(db.name + "/wal/"));
  std::map<std::string, TimePoint> modified;
  for (const backup::ObjectInfo& o : wal_objects) modified[o.name] = o.modified;
  std::vector<backup::SegmentInfo> segs;
  for (const backup::SegmentRef& s : seg_refs) {
    auto it = modified.find(s.Name());
    segs.push_back({s, ToUnixMicros(it != modified.end() ? it->second : now)});
  }
  if (source_failing) {
    // The newest snapshot without the mark was taken before the source failed its check.
    backup::SnapshotInfo* good = nullptr;
    for (backup::SnapshotInfo& s : snaps) {
      if (!s.summary.source_check_failed &&
          (good == nullptr || s.summary.created > good->summary.created)) {
        good = &s;
      }
    }
    if (good != nullptr) good->last_good = true;
  }
  PruneReport report;
  report.plan = backup::PlanRetention(RetentionFor(db), std::move(snaps), std::move(segs), now);
  AURA_RETURN_IF_ERROR(FindOrphans(repo, db.name, manifests, bases, now, report));
  if (dry_run) return report;
  std::vector<std::string> all = report.plan.delete_objects;
  all.insert(all.end(), report.orphans.begin(), report.orphans.end());
  AURA_RETURN_IF_ERROR(DeleteInOrder(repo.storage(), all));
  report.deleted = all.size();
  // What writes of this database a crash interrupted left (never listed as objects).
  AURA_ASSIGN_OR_RETURN(report.stale_temp_files,
                        repo.storage().RemoveAbandonedWrites(kAbandonedWriteAge, db.name));
  return report;
}

integrity::DrillReport RunDrill(backup::Repository& repo, const DatabaseConfig& db,
                                const std::string& scratch_dir) {
  integrity::DrillOptions o;
  o.database = db.name;
  o.scratch_dir = scratch_dir;
  o.random_point = db.drill.point == "random";
  o.assertions = db.drill.assertions;
  o.source_path = db.path;
  return integrity::RunRestoreDrill(repo, o);
}

nlohmann::json DrillReportJson(const std::string& target, const integrity::DrillReport& r) {
  nlohmann::json j = {
      {"target", target},
      {"outcome", integrity::DrillOutcomeName(r.outcome)},
      {"snapshot", r.snapshot},
      {"point", r.point},
      {"restored", r.restored},
      {"txid", r.txid},
      {"bytes", r.bytes},
      {"checks", r.checks},
      {"rto_seconds", r.rto_seconds},
      {"rpo_seconds", r.rpo_seconds ? nlohmann::json(*r.rpo_seconds) : nlohmann::json(nullptr)}};
  if (!r.passed()) {
    j["reason"] = r.reason;
    j["code"] = CodeName(r.code);
  }
  return j;
}

DrillRecord DrillRecordOf(const std::string& target, TimePoint finished,
                          const integrity::DrillReport& r) {
  return {target,
          finished,
          integrity::DrillOutcomeName(r.outcome),
          r.reason,
          r.point,
          r.restored,
          r.txid,
          static_cast<int64_t>(r.rto_seconds * 1000),
          r.rpo_seconds ? static_cast<int64_t>(*r.rpo_seconds * 1000) : -1};
}

Result<std::vector<std::string>> RunCheck(const DatabaseConfig& db, IntegrityLevel level) {
  AURA_RETURN_IF_ERROR(backup::CheckDatabasePath(db.path));
  integrity::LiveCheckOptions o;
  o.level = level;
  o.busy_timeout_ms = db.busy_timeout_ms;
  o.budget = kCheckBudget;
  AURA_ASSIGN_OR_RETURN(integrity::LiveCheckResult r, integrity::CheckLiveDatabase(db.path, o));
  return r.problems;
}

}  // namespace aura::agent
