// restore --dry-run: the plan a restore would follow (objects, bytes to fetch, the resulting
// transaction and its time, why it was chosen), and nothing written.
#include <nlohmann/json.hpp>

#include "agent/commands.h"
#include "agent/repo_resolver.h"
#include "backup/pitr_restore.h"
#include "backup/segment_io.h"

namespace aura::agent {

using nlohmann::json;

namespace {

struct PlannedObject {
  std::string name;
  uint64_t bytes = 0;
};

// The snapshot objects a restore of `ref` reads: its own, and its bases' down to the full one.
Status SnapshotObjects(backup::Repository& repo, backup::SnapshotRef ref,
                       std::vector<PlannedObject>& out, TimePoint& created) {
  bool newest = true;
  for (int depth = 0; depth < 10000; ++depth) {
    AURA_ASSIGN_OR_RETURN(backup::Manifest m, repo.ReadManifest(ref));
    if (newest) created = m.summary.created;
    newest = false;
    out.push_back({ref.ManifestName(), 0});
    for (const backup::ManifestObject& o : m.objects) out.push_back({o.name, o.stored_size});
    if (m.summary.base.empty()) return Status::Ok();
    ref = backup::SnapshotRef{ref.database, m.summary.base, 0};
  }
  return Corruption("snapshot " + ref.id + ": its chain of bases does not end");
}

}  // namespace

int RunRestoreDryRun(const RestoreArgs& args, const Output& out) {
  auto resolved = ResolveForRead(args.repo);
  if (!resolved.ok()) return out.Fail(resolved.status());
  auto repo = backup::Repository::Open(resolved->storage, resolved->keys);
  if (!repo.ok()) return out.Fail(repo.status());
  backup::RestorePlan plan;
  if (!args.snapshot.empty()) {
    auto ref = (*repo)->FindSnapshot(resolved->database, args.snapshot);
    if (!ref.ok()) return out.Fail(ref.status());
    plan.base = *ref;
  } else {
    auto point = RestorePointFromArgs(args);
    if (!point.ok()) return out.Fail(point.status());
    std::string db = resolved->database;
    if (db.empty()) {
      auto latest = (*repo)->LatestSnapshot("");
      if (!latest.ok()) return out.Fail(latest.status());
      db = latest->database;
    }
    auto planned = backup::PlanRestore(**repo, db, **point);
    if (!planned.ok()) return out.Fail(planned.status());
    plan = std::move(planned).value();
  }
  std::vector<PlannedObject> objects;
  TimePoint at{};
  Status s = SnapshotObjects(**repo, plan.base, objects, at);
  if (!s.ok()) return out.Fail(s);
  for (const backup::SegmentRef& seg : plan.chain) objects.push_back({seg.Name(), seg.size});
  if (!plan.chain.empty()) {
    auto times = backup::SegmentCommitTimes(**repo, plan.chain.back());
    if (times.ok()) at = FromUnixMicros(times->second);
  }
  uint64_t bytes = 0;
  json list = json::array();
  out.Line("restore plan (dry run, nothing written):");
  for (const PlannedObject& o : objects) {
    bytes += o.bytes;
    list.push_back({{"object", o.name}, {"bytes", o.bytes}});
    out.Line("  fetch " + o.name + (o.bytes > 0 ? "  " + HumanBytes(o.bytes) : ""));
  }
  const std::string when = FormatRfc3339(at, 3);
  out.Line("  " + std::to_string(objects.size()) + " object(s), " + HumanBytes(bytes) +
           " to fetch; result: " +
           (plan.target_txid != 0 ? "txid " + std::to_string(plan.target_txid) + " committed "
                                  : "snapshot " + plan.base.id + " taken ") +
           when);
  const std::string why = backup::DescribeChoice(plan);
  if (!why.empty()) out.Line("  chosen because " + why);
  out.Json({{"dry_run", true},
            {"snapshot", plan.base.id},
            {"objects", list},
            {"bytes_to_fetch", bytes},
            {"txid", plan.target_txid},
            {"time", when},
            {"why", why}});
  return 0;
}

}  // namespace aura::agent
