#include "integrity/drill.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <random>
#include <set>

#include "backup/pitr_restore.h"
#include "backup/restore.h"
#include "backup/segment_io.h"
#include "common/file_io.h"
#include "common/sqlite.h"
#include "common/sqlite_integrity.h"
#include "integrity/verify.h"

namespace aura::integrity {

using backup::PointInTime;

const char* DrillOutcomeName(DrillOutcome o) {
  switch (o) {
    case DrillOutcome::kPass:
      return "pass";
    case DrillOutcome::kFail:
      return "fail";
    case DrillOutcome::kInconclusive:
      return "inconclusive";
  }
  return "?";
}

namespace {

// What a drill restores: a point in time, or one snapshot by id (random picks).
struct DrillPoint {
  std::optional<PointInTime> point;
  backup::SnapshotRef snapshot;
};

// A random snapshot, or a random replicated transaction of a random generation.
Result<DrillPoint> RandomPoint(backup::Repository& repo, const std::string& db, uint64_t seed) {
  AURA_ASSIGN_OR_RETURN(auto refs, repo.ListSnapshots(db));
  if (refs.empty()) return NotFound("no snapshot of '" + db + "' in " + repo.storage().Describe());
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> gens;  // generation -> txid range
  for (const backup::SnapshotRef& r : refs) {
    AURA_ASSIGN_OR_RETURN(backup::SnapshotSummary s, repo.ReadSummary(r));
    if (s.generation == 0) continue;
    auto [it, fresh] = gens.try_emplace(s.generation, s.txid, s.txid);
    if (!fresh) it->second.first = std::min(it->second.first, s.txid);
  }
  AURA_ASSIGN_OR_RETURN(auto segs, repo.ListSegments(db));
  for (const backup::SegmentRef& s : segs) {
    auto it = gens.find(s.generation);
    if (it != gens.end()) it->second.second = std::max(it->second.second, s.last_txid);
  }
  std::mt19937_64 rng(seed != 0 ? seed : std::random_device{}());
  const size_t pick = rng() % (refs.size() + gens.size());
  if (pick < refs.size()) return DrillPoint{std::nullopt, refs[pick]};
  auto g = std::next(gens.begin(), static_cast<long>(pick - refs.size()));
  const auto [lo, hi] = g->second;
  return DrillPoint{PointInTime{PointInTime::Kind::kTxid, lo + rng() % (hi - lo + 1), {}}, {}};
}

// When the restored state was the source's: the snapshot's time, or its WAL chain's last commit.
Result<TimePoint> PointTime(backup::Repository& repo, const std::string& db, const DrillPoint& p) {
  if (!p.point) {
    AURA_ASSIGN_OR_RETURN(backup::SnapshotSummary s, repo.ReadSummary(p.snapshot));
    return s.created;
  }
  AURA_ASSIGN_OR_RETURN(backup::RestorePlan plan, backup::PlanRestore(repo, db, *p.point));
  if (plan.chain.empty()) {
    AURA_ASSIGN_OR_RETURN(backup::SnapshotSummary s, repo.ReadSummary(plan.base));
    return s.created;
  }
  AURA_ASSIGN_OR_RETURN(auto times, backup::SegmentCommitTimes(repo, plan.chain.back()));
  return FromUnixMicros(times.second);
}

// The source's newest change: the later of the database's and its WAL's modification times.
std::optional<TimePoint> SourceChanged(const std::string& path) {
  std::optional<TimePoint> newest;
  for (const std::string& f : {path, path + "-wal"}) {
    struct stat st;
    if (path.empty() || ::stat(f.c_str(), &st) != 0) continue;
    TimePoint t = FromUnixMicros(int64_t{st.st_mtim.tv_sec} * 1000000 + st.st_mtim.tv_nsec / 1000);
    if (!newest || t > *newest) newest = t;
  }
  return newest;
}

// foreign_key_check and the operator's assertions on the restored copy (`uri`: the restore's
// verified temp file, while the restore's integrity_check runs on it on another connection).
Status CheckCopy(const std::string& uri, const std::vector<std::string>& assertions,
                 std::vector<std::string>& checks) {
  AURA_ASSIGN_OR_RETURN(SqliteDb db,
                        SqliteDb::Open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 0));
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> fk, ForeignKeyViolations(db, 1));
  // "foreign key: table T ..." -> "foreign_key_check: table T ..."
  static constexpr std::string_view kPrefix = "foreign key:";
  if (!fk.empty()) return Corruption("foreign_key_check:" + fk.front().substr(kPrefix.size()));
  checks.push_back("foreign_key_check ok");
  for (const std::string& sql : assertions) {
    AURA_ASSIGN_OR_RETURN(bool holds, AssertionHolds(db, sql));
    if (!holds) return Corruption("assertion `" + sql + "` is false on the restored database");
    checks.push_back("assertion `" + sql + "` true");
  }
  return Status::Ok();
}

DrillOutcome OutcomeOf(const Status& s) {
  switch (s.code()) {
    case Code::kUnavailable:
    case Code::kKeyError:
    case Code::kPermissionDenied:
    case Code::kBusy:
    case Code::kCancelled:
    case Code::kIOError:
      return DrillOutcome::kInconclusive;  // the drill could not tell
    default:
      return DrillOutcome::kFail;
  }
}

// Restores `p` into `target` and checks the copy, filling the report; the failure if any.
Status RestoreAndCheck(backup::Repository& repo, const DrillOptions& o, const DrillPoint& p,
                       const std::string& target, DrillReport& r) {
  backup::RestoreOptions ro;
  ro.other_paths_on_damage = false;  // a damaged object fails the drill, even if avoidable
  ro.check = IntegrityLevel::kFull;
  ro.threads = o.threads;
  ro.force = true;  // the scratch copy is the drill's own
  std::vector<std::string> copy_checks;
  ro.copy_check = [&](const std::string& uri) { return CheckCopy(uri, o.assertions, copy_checks); };
  ro.progress = o.progress;
  auto restored = p.point ? backup::RestoreToPoint(repo, o.database, *p.point, target, ro)
                          : backup::RestoreSnapshot(repo, p.snapshot, target, ro);
  AURA_RETURN_IF_ERROR(restored.status());
  r.restored = restored->source;
  r.snapshot = restored->snapshot;
  r.txid = restored->txid;
  r.bytes = restored->bytes;
  r.checks.push_back(restored->sha256.empty() ? "database checksums verified at every segment"
                                              : "sha256 verified");
  r.checks.push_back("integrity_check ok");
  r.checks.insert(r.checks.end(), copy_checks.begin(), copy_checks.end());
  return Status::Ok();
}

// The data objects of the snapshots the restore of `p` reads (and checks in full): the base and,
// for an increment, its bases. Best effort: empty when the plan cannot be made (the restore then
// reports why).
std::set<std::string> RestorePathData(backup::Repository& repo, const DrillOptions& o,
                                      const DrillPoint& p) {
  backup::SnapshotRef base = p.snapshot;
  if (p.point) {
    auto plan = backup::PlanRestore(repo, o.database, *p.point);
    if (!plan.ok()) return {};
    base = plan->base;
  }
  std::set<std::string> out;
  auto chain = backup::SnapshotChain(repo, base);
  if (!chain.ok()) return out;
  for (const backup::SnapshotRef& s : *chain) out.insert(s.DataName());
  return out;
}

// The first problem VerifyRepository finds among the database's objects, as a failure naming the
// object; OK when every object is intact.
Status VerifyAll(backup::Repository& repo, const DrillOptions& o,
                 std::set<std::string> checked_by_restore) {
  VerifyOptions vo;
  vo.database = o.database;
  vo.threads = 1;  // the restore has the other cores
  vo.checked_elsewhere = std::move(checked_by_restore);
  AURA_ASSIGN_OR_RETURN(VerifyReport v, VerifyRepository(repo, vo));
  if (v.ok()) return Status::Ok();
  const ObjectProblem& p = v.bad.front();
  return Status(p.error.code() == Code::kOk ? Code::kCorruption : p.error.code(),
                "verify: " + p.name + " (" + p.kind + "): " + p.error.message() +
                    (v.bad.size() > 1 ? " (and " + std::to_string(v.bad.size() - 1) +
                                            " more problem(s): run aura-agent verify)"
                                      : ""));
}

}  // namespace

DrillReport RunRestoreDrill(backup::Repository& repo, const DrillOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  DrillReport r;
  r.point = o.random_point ? "random" : "latest";
  const std::string target = o.scratch_dir + "/drill.db";
  auto cleanup = [&] {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::remove((target + suffix).c_str());
    }
  };
  Status s = CreateDirectories(o.scratch_dir, 0700);
  Result<DrillPoint> p = DrillPoint{PointInTime{}, {}};
  if (s.ok() && o.random_point) p = RandomPoint(repo, o.database, o.seed);
  if (s.ok()) s = p.status();
  cleanup();  // a drill killed mid-way leaves its copy; it is ours to replace
  std::future<Status> verified;
  if (s.ok() && o.verify_repository) {
    verified = std::async(std::launch::async, [&repo, &o, path = RestorePathData(repo, o, *p)] {
      return VerifyAll(repo, o, path);
    });
  }
  if (s.ok()) s = RestoreAndCheck(repo, o, *p, target, r);
  r.rto_seconds = double(MillisSince(t0)) / 1000.0;
  cleanup();
  if (verified.valid()) {
    Status v = verified.get();
    if (s.ok() && !v.ok()) s = v;
    if (v.ok() && s.ok()) r.checks.push_back("every other object of the database verified");
  }
  if (!s.ok()) {
    r.outcome = OutcomeOf(s);
    r.code = s.code();
    r.reason = s.message();
    return r;
  }
  r.outcome = DrillOutcome::kPass;
  auto at = PointTime(repo, o.database, *p);
  auto changed = SourceChanged(o.source_path);
  if (at.ok() && changed) {
    r.rpo_seconds = std::max(0.0, double(ToUnixMicros(*changed) - ToUnixMicros(*at)) / 1e6);
  }
  return r;
}

}  // namespace aura::integrity
