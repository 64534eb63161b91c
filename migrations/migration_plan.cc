#include "migrations/migration_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace aura::migrations {
namespace {

// What the audit table says about one id, counting only rows after its newest rollback.
struct AuditView {
  std::optional<AuditRecord> newest;  // newest apply or repair row
  std::string sha256;                 // newest non-empty checksum of those rows
  std::string sha_at;                 // when that checksum was recorded
  bool sha_from_repair = false;
  bool repaired = false;  // a repair row accepted something about the id
};

std::map<std::string, AuditView> ViewAudit(const std::vector<AuditRecord>& audit) {
  std::map<std::string, AuditView> out;
  for (const AuditRecord& r : audit) {
    AuditView& v = out[r.migration_id];
    if (r.action == "rollback") {
      v = AuditView{};  // the migration was undone: what came before no longer counts
      continue;
    }
    if (r.action != "apply" && r.action != "repair") continue;
    v.newest = r;
    if (r.action == "repair") v.repaired = true;
    if (!r.sha256.empty()) {
      v.sha256 = r.sha256;
      v.sha_at = r.applied_at;
      v.sha_from_repair = r.action == "repair";
    }
  }
  return out;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The part of an id after its 14 digits and '_' ("" when it has none).
std::string NameOf(const std::string& id) {
  return id.size() > 15 && id[14] == '_' ? id.substr(15) : std::string();
}

std::string Short(const std::string& sha) {
  return sha.size() > 12 ? sha.substr(0, 12) + "..." : sha;
}

// "20251201000000_AddPriority.sql", or "migration ID in script.sql" for a script's migration.
std::string Where(const Migration& m) {
  std::string base = BaseName(m.file);
  if (base == m.id + ".sql") return base;
  return "migration " + m.id + " in " + base;
}

Drift ChangedDrift(const Migration& m, const AuditView& v) {
  std::string when =
      v.sha_from_repair ? "its checksum was last accepted on " : "it was applied on ";
  return {DriftKind::kChanged, m.id, m.file,
          Where(m) + " changed after " + when + v.sha_at + " (recorded sha256 " + Short(v.sha256) +
              ", now " + Short(m.sha256) +
              "); restore the file, or review the change and run 'aura-agent migrate repair'"};
}

Drift UnknownDrift(const std::string& id) {
  return {DriftKind::kUnknown, id, "",
          id + " is in __EFMigrationsHistory but no migration file here has it (a newer "
               "application or another tool migrated the database past this directory); add "
               "its file, or if that is expected run 'aura-agent migrate repair'"};
}

Drift OutOfOrderDrift(const Migration& m, const std::string& newest_applied) {
  return {DriftKind::kOutOfOrder, m.id, m.file,
          Where(m) + " is pending but older than the applied " + newest_applied +
              ", so applying it would run it in an order no other copy of the database saw; "
              "review it and run 'aura-agent migrate repair' to apply it anyway"};
}

// Index into `sources` of the migration `to` names, or a Status saying why there is none.
Result<size_t> ResolveTarget(const std::vector<const Migration*>& sources,
                             const std::map<std::string, std::string>& applied,
                             const std::string& to) {
  std::vector<size_t> by_name;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i]->id == to) return i;
    if (NameOf(sources[i]->id) == to) by_name.push_back(i);
  }
  if (by_name.size() == 1) return by_name[0];
  if (by_name.size() > 1) {
    return InvalidArgument("--to " + to + " names more than one migration (" +
                           sources[by_name[0]]->id + ", " + sources[by_name[1]]->id +
                           "); pass the full id");
  }
  for (const auto& [id, version] : applied) {
    if (id == to || NameOf(id) == to) {
      return InvalidArgument("--to " + to + ": " + id +
                             " is already applied; to go back to it use 'aura-agent migrate "
                             "rollback'");
    }
  }
  return InvalidArgument("--to " + to +
                         ": no migration in the directory has that id or name; run 'aura-agent "
                         "migrate status' to list them");
}

// Fills plan.all and plan.drift from the sources, the history and the audit view.
void Classify(const std::vector<const Migration*>& sources,
              const std::map<std::string, std::string>& applied,
              const std::map<std::string, AuditView>& views, MigrationPlan& plan) {
  std::map<std::string, const Migration*> by_id;
  for (const Migration* m : sources) by_id[m->id] = m;
  std::set<std::string> ids;
  for (const auto& [id, m] : by_id) ids.insert(id);
  for (const auto& [id, version] : applied) ids.insert(id);
  std::string newest_applied = applied.empty() ? "" : applied.rbegin()->first;
  static const AuditView kNone;
  for (const std::string& id : ids) {
    MigrationStatus st;
    st.id = id;
    auto src = by_id.find(id);
    st.source = src == by_id.end() ? nullptr : src->second;
    auto app = applied.find(id);
    st.applied = app != applied.end();
    auto vi = views.find(id);
    const AuditView& v = vi == views.end() ? kNone : vi->second;
    if (st.applied) {
      st.product_version = app->second;
      st.applied_record = v.newest;
      st.recorded_sha256 = v.sha256;
      if (st.source == nullptr && !v.repaired) plan.drift.push_back(UnknownDrift(id));
      if (st.source != nullptr && !v.sha256.empty() && v.sha256 != st.source->sha256) {
        plan.drift.push_back(ChangedDrift(*st.source, v));
      }
    } else if (id < newest_applied && !v.repaired) {
      plan.drift.push_back(OutOfOrderDrift(*st.source, newest_applied));
    }
    plan.all.push_back(std::move(st));
  }
}

}  // namespace

const char* DriftKindName(DriftKind kind) {
  switch (kind) {
    case DriftKind::kChanged:
      return "changed";
    case DriftKind::kUnknown:
      return "unknown";
    case DriftKind::kOutOfOrder:
      return "out_of_order";
  }
  return "unknown";
}

Result<MigrationPlan> PlanMigrations(const std::vector<Migration>& sources,
                                     const std::vector<AppliedMigration>& history,
                                     const std::vector<AuditRecord>& audit, const std::string& to) {
  std::vector<const Migration*> sorted;
  for (const Migration& m : sources) sorted.push_back(&m);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Migration* a, const Migration* b) { return a->id < b->id; });
  std::map<std::string, std::string> applied;
  for (const AppliedMigration& h : history) applied[h.id] = h.product_version;

  size_t last = sorted.empty() ? 0 : sorted.size() - 1;
  if (!to.empty()) {
    AURA_ASSIGN_OR_RETURN(last, ResolveTarget(sorted, applied, to));
    if (applied.count(sorted[last]->id) != 0) {
      return InvalidArgument("--to " + to + ": " + sorted[last]->id +
                             " is already applied; to go back to it use 'aura-agent migrate "
                             "rollback'");
    }
  }
  MigrationPlan plan;
  for (size_t i = 0; i < sorted.size() && i <= last; ++i) {
    if (applied.count(sorted[i]->id) == 0) plan.pending.push_back(*sorted[i]);
  }
  Classify(sorted, applied, ViewAudit(audit), plan);
  return plan;
}

Status DriftStatus(const std::vector<Drift>& drift) {
  if (drift.empty()) return Status::Ok();
  std::string m = "the migration files and the database disagree (" + std::to_string(drift.size()) +
                  (drift.size() == 1 ? " problem" : " problems") + "):\n";
  for (const Drift& d : drift) m += "  " + d.message + "\n";
  m += "nothing was changed; review each of these and, once they are as intended, run "
       "'aura-agent migrate repair' to accept them";
  return Refused(std::move(m));
}

std::vector<AuditRecord> RepairRecords(const MigrationPlan& plan) {
  std::vector<AuditRecord> out;
  for (const Drift& d : plan.drift) {
    const MigrationStatus* st = nullptr;
    for (const MigrationStatus& s : plan.all) {
      if (s.id == d.id) st = &s;
    }
    AuditRecord r;
    r.migration_id = d.id;
    r.action = "repair";
    r.outcome = "repaired";
    const Migration* src = st != nullptr ? st->source : nullptr;
    if (src != nullptr) {
      r.file = BaseName(src->file);
      r.sha256 = src->sha256;
    }
    switch (d.kind) {
      case DriftKind::kChanged:
        r.detail = "accepted changed checksum (was " + (st ? st->recorded_sha256 : "") + ")";
        break;
      case DriftKind::kUnknown:
        r.sha256.clear();
        r.detail = "accepted unknown id applied outside this directory";
        break;
      case DriftKind::kOutOfOrder:
        r.detail = "accepted out of order";
        break;
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace aura::migrations
