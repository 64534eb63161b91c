// migrate list: which migrations are applied (by whom, when, with which checksum) and which are
// pending, and any drift; read-only.
#include <nlohmann/json.hpp>

#include "agent/commands.h"
#include "agent/migrate_context.h"
#include "common/file_io.h"
#include "migrations/history.h"
#include "migrations/migration_plan.h"

namespace aura::agent {

using nlohmann::json;

namespace {

std::string Short(const std::string& sha) { return sha.size() > 12 ? sha.substr(0, 12) : sha; }

std::string StateOf(const migrations::MigrationStatus& m) {
  if (m.applied) return m.source == nullptr ? "unknown" : "applied";
  return "pending";
}

json EntryJson(const migrations::MigrationStatus& m) {
  json j = {{"id", m.id}, {"state", StateOf(m)}};
  j["name"] = m.id.size() > 15 ? m.id.substr(15) : m.id;
  j["file"] = m.source != nullptr ? json(BaseName(m.source->file)) : json(nullptr);
  j["sha256"] = m.source != nullptr ? json(m.source->sha256) : json(nullptr);
  j["has_down"] = m.source != nullptr && !m.source->down_file.empty();
  j["product_version"] = m.applied ? json(m.product_version) : json(nullptr);
  j["recorded_sha256"] = m.recorded_sha256.empty() ? json(nullptr) : json(m.recorded_sha256);
  if (m.applied_record) {
    const migrations::AuditRecord& a = *m.applied_record;
    j["applied_at"] = a.applied_at;
    j["applied_by"] = a.applied_by;
    j["duration_ms"] = a.duration_ms;
    j["snapshot"] = a.snapshot;
    j["agent_version"] = a.agent_version;
  } else {
    j["applied_by"] = m.applied ? json("application") : json(nullptr);
  }
  return j;
}

std::string EntryLine(const migrations::MigrationStatus& m) {
  std::string line = "  " + StateOf(m) + std::string(9 - StateOf(m).size(), ' ') + m.id;
  line += std::string(line.size() < 48 ? 48 - line.size() : 1, ' ');
  if (m.applied && m.applied_record) {
    const migrations::AuditRecord& a = *m.applied_record;
    line += a.applied_at + " by " + a.applied_by + ", " + std::to_string(a.duration_ms) +
            " ms, sha256 " + Short(a.sha256) +
            (a.snapshot.empty() ? "" : ", pre-migration snapshot " + a.snapshot);
  } else if (m.applied && m.source != nullptr) {
    line += "by the application (ProductVersion " + m.product_version + ")";
  } else if (m.applied) {
    line += "in the database only (ProductVersion " + m.product_version + ")";
  } else {
    line += BaseName(m.source->file) + ", sha256 " + Short(m.source->sha256) +
            (m.source->down_file.empty() ? "" : ", down file");
  }
  return line;
}

}  // namespace

json DriftJson(const std::vector<migrations::Drift>& drift) {
  json a = json::array();
  for (const migrations::Drift& d : drift) {
    a.push_back({{"kind", migrations::DriftKindName(d.kind)},
                 {"id", d.id},
                 {"file", d.file},
                 {"message", d.message}});
  }
  return a;
}

int RunMigrateList(const MigrateArgs& args, const Output& out) {
  auto c = ResolveMigrate(args, false);
  if (!c.ok()) return out.Fail(c.status());
  auto db = SqliteDb::Open(c->db_path, SQLITE_OPEN_READONLY, 5000);
  if (!db.ok()) return out.Fail(db.status());
  auto history = migrations::ReadHistory(*db);
  if (!history.ok()) return out.Fail(history.status());
  auto audit = migrations::ReadAudit(*db);
  if (!audit.ok()) return out.Fail(audit.status());
  auto plan = migrations::PlanMigrations(c->sources, *history, *audit);
  if (!plan.ok()) return out.Fail(plan.status());
  json entries = json::array();
  json applied_ids = json::array();
  json pending_ids = json::array();
  int applied = 0;
  for (const migrations::MigrationStatus& m : plan->all) {
    applied += m.applied ? 1 : 0;
    if (m.applied) applied_ids.push_back(m.id);
    entries.push_back(EntryJson(m));
  }
  for (const migrations::Migration& m : plan->pending) pending_ids.push_back(m.id);
  out.Line("migrations of " + c->db_path + " (" + c->dir + "): " + std::to_string(applied) +
           " applied, " + std::to_string(plan->pending.size()) + " pending");
  for (const migrations::MigrationStatus& m : plan->all) out.Line(EntryLine(m));
  for (const migrations::Drift& d : plan->drift) out.Line("DRIFT " + d.message);
  if (!plan->drift.empty()) {
    out.Line("review the drift, then run 'aura-agent migrate repair' to accept it");
  }
  out.Json({{"database", c->db_path},
            {"dir", c->dir},
            {"applied", applied_ids},
            {"pending", pending_ids},
            {"applied_count", applied},
            {"pending_count", plan->pending.size()},
            {"migrations", entries},
            {"drift", DriftJson(plan->drift)}});
  return 0;
}

}  // namespace aura::agent
