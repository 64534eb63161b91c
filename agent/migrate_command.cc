// migrate apply, rollback, script and repair (docs/MIGRATIONS.md); list is in migrate_list.cc.
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/commands.h"
#include "agent/migrate_context.h"
#include "common/file_io.h"
#include "common/open_files.h"
#include "common/version.h"
#include "migrations/held_locks.h"
#include "migrations/history.h"
#include "migrations/idempotent_script.h"
#include "migrations/rollback.h"

namespace aura::agent {

using nlohmann::json;

json DriftJson(const std::vector<migrations::Drift>& drift);  // migrate_list.cc

namespace {

std::vector<std::string> Ids(const std::vector<migrations::Migration>& ms) {
  std::vector<std::string> ids;
  for (const migrations::Migration& m : ms) ids.push_back(m.id);
  return ids;
}

json ApplyJson(const MigrateContext& c, const migrations::ApplyReport& r) {
  json destructive = json::array();
  for (const migrations::Destructive& d : r.destructive) {
    destructive.push_back({{"migration", d.migration},
                           {"file", BaseName(d.file)},
                           {"line", d.line},
                           {"table", d.table},
                           {"column", d.column},
                           {"what", d.what}});
  }
  json rows = json::object();
  for (const auto& [table, before] : r.rows_before) {
    auto it = r.rows_after.find(table);
    rows[table] = {{"before", before},
                   {"after", it == r.rows_after.end() ? json(nullptr) : json(it->second)}};
  }
  json timings = json::array();
  for (const migrations::StatementTiming& t : r.timings) {
    timings.push_back({{"id", t.migration}, {"duration_ms", t.duration_ms}});
  }
  return {{"database", c.db_path},
          {"outcome", r.outcome},
          {"applied", r.applied},
          {"pending", Ids(r.plan.pending)},
          {"snapshot", r.snapshot},
          {"snapshot_target", c.snapshots ? c.snapshots->Describe() : ""},
          {"destructive", destructive},
          {"dropped_tables", r.dropped_tables},
          {"row_counts", rows},
          {"checks", r.checks},
          {"timings", timings},
          {"drift", DriftJson(r.plan.drift)},
          {"rehearsal_ms", r.rehearsal_ms},
          {"snapshot_ms", r.snapshot_ms},
          {"write_lock_ms", r.write_lock_ms},
          {"duration_ms", r.duration_ms}};
}

void PrintApply(const MigrateContext& c, const migrations::ApplyReport& r, const Output& out) {
  for (const migrations::Destructive& d : r.destructive) {
    out.Line("destructive: " + BaseName(d.file) + ":" + std::to_string(d.line) + ": " + d.what);
  }
  for (const auto& [table, before] : r.rows_before) {
    auto it = r.rows_after.find(table);
    if (table.rfind("__", 0) == 0) continue;  // the history and audit tables
    if (it != r.rows_after.end() && it->second != before) {
      out.Line("rehearsal: " + table + " " + std::to_string(before) + " -> " +
               std::to_string(it->second) + " rows");
    }
  }
  if (!r.snapshot.empty()) {
    out.Line("pre-migration snapshot " + r.snapshot + " -> " + c.snapshots->Describe() + " (" +
             std::to_string(r.snapshot_ms) + " ms)");
  }
  if (r.outcome == "nothing_pending") out.Line("nothing to apply: " + c.db_path + " is up to date");
  if (r.outcome == "dry_run") {
    out.Line("dry run: would apply " + std::to_string(r.plan.pending.size()) +
             " migration(s); rehearsal on a scratch copy passed (" +
             std::to_string(r.rehearsal_ms) + " ms); nothing was changed");
    for (const migrations::Migration& m : r.plan.pending) out.Line("  pending  " + m.id);
  }
  for (const migrations::StatementTiming& t : r.timings) {
    if (r.outcome == "applied")
      out.Line("applied " + t.migration + " (" + std::to_string(t.duration_ms) + " ms)");
  }
  if (r.outcome == "applied") {
    std::string checks;
    for (const std::string& s : r.checks) checks += (checks.empty() ? "" : ", ") + s;
    out.Line("checks: " + checks);
    out.Line("write lock held " + std::to_string(r.write_lock_ms) + " ms; total " +
             std::to_string(r.duration_ms) + " ms");
  }
}

}  // namespace

int RunMigrateApply(const MigrateArgs& args, const Output& out) {
  auto c = ResolveMigrate(args, !args.dry_run);
  if (!c.ok()) return out.Fail(c.status());
  migrations::ApplyReport r = migrations::ApplyMigrations(c->sources, ApplyOptionsFor(*c, args));
  PrintApply(*c, r, out);
  if (!r.status.ok()) return out.Fail(WithHolders(r.status, c->db_path), ApplyJson(*c, r));
  out.Json(ApplyJson(*c, r));
  return 0;
}

int RunMigrateRollback(const MigrateArgs& args, const Output& out) {
  auto c = ResolveMigrate(args, true);
  if (!c.ok()) return out.Fail(c.status());
  migrations::RollbackOptions o;
  o.database = c->db_path;
  o.target = args.rollback_target;
  o.yes = args.yes;
  o.dry_run = args.dry_run;
  o.break_stale_lock = args.break_stale_lock;
  o.stale_lock_after = std::chrono::seconds(c->settings.stale_lock_after_s);
  o.busy_timeout_ms = c->settings.busy_timeout_ms;
  o.full_check_max_bytes = static_cast<uint64_t>(c->settings.full_check_max_mb) << 20;
  o.snapshots = c->snapshots.get();
  migrations::RollbackReport r = migrations::RollbackMigrations(c->sources, o);
  json j = {{"database", c->db_path},       {"outcome", r.outcome},   {"method", r.method},
            {"rolled_back", r.rolled_back}, {"snapshot", r.snapshot}, {"checks", r.checks},
            {"duration_ms", r.duration_ms}};
  if (!r.status.ok()) return out.Fail(WithHolders(r.status, c->db_path), j);
  if (r.outcome == "nothing_to_do")
    out.Line("nothing to roll back: no migration is applied after " + o.target);
  std::string how = r.method == "down_files"
                        ? "by their .down.sql files in one transaction"
                        : "by restoring the pre-migration snapshot " + r.snapshot;
  if (r.outcome == "dry_run")
    out.Line("dry run: would roll back " + std::to_string(r.rolled_back.size()) + " migration(s) " +
             how);
  if (r.outcome == "rolled_back")
    out.Line("rolled back " + std::to_string(r.rolled_back.size()) + " migration(s) " + how);
  for (const std::string& id : r.rolled_back) out.Line("  " + id);
  out.Json(j);
  return 0;
}

int RunMigrateScript(const MigrateArgs& args, const Output& out) {
  std::vector<migrations::Migration> pending;
  std::string header = "aura-agent " + std::string(kAgentVersion) + " migrate script, " +
                       FormatRfc3339(SystemClock::Instance().Now(), 0);
  if (args.db.empty() && args.repo.config.empty()) {
    if (args.dir.empty()) return out.Fail(InvalidArgument("--dir is required (or --config)"));
    auto all = migrations::LoadMigrations(args.dir);
    if (!all.ok()) return out.Fail(all.status());
    pending = std::move(all).value();
    header += ": every migration in " + args.dir;
  } else {
    auto c = ResolveMigrate(args, false);
    if (!c.ok()) return out.Fail(c.status());
    migrations::ApplyOptions o = ApplyOptionsFor(*c, args);
    o.dry_run = true;
    migrations::ApplyReport r = migrations::ApplyMigrations(c->sources, o);
    if (!r.status.ok()) return out.Fail(r.status, ApplyJson(*c, r));
    pending = r.plan.pending;
    header += ": the migrations pending on " + c->db_path;
  }
  migrations::ScriptOptions so;
  so.header = header;
  std::string sql = migrations::IdempotentScript(pending, so);
  json j = {{"migrations", Ids(pending)},
            {"file", args.out.empty() ? json(nullptr) : json(args.out)}};
  if (!args.out.empty()) {
    Status w = WriteFileAtomic(args.out, sql, 0644);
    if (!w.ok()) return out.Fail(w);
    out.Line("wrote " + std::to_string(pending.size()) + " migration(s) to " + args.out);
  } else if (out.json()) {
    j["sql"] = sql;
  } else {
    std::cout << sql;
  }
  out.Json(j);
  return 0;
}

namespace {

// Writes the repair rows in one transaction, under both migration locks.
Status WriteRepairs(const MigrateContext& c, const MigrateArgs& args,
                    std::vector<migrations::AuditRecord>& rows) {
  AURA_ASSIGN_OR_RETURN(
      SqliteDb db, SqliteDb::Open(c.db_path, SQLITE_OPEN_READWRITE, c.settings.busy_timeout_ms));
  AURA_ASSIGN_OR_RETURN(
      migrations::HeldLocks locks,
      migrations::HeldLocks::Take(db, SystemClock::Instance().Now(),
                                  std::chrono::seconds(c.settings.stale_lock_after_s),
                                  args.break_stale_lock));
  return InWriteTransaction(db, [&] {
    AURA_RETURN_IF_ERROR(migrations::EnsureHistoryTables(db));
    for (migrations::AuditRecord& a : rows) {
      a.applied_at = FormatRfc3339(SystemClock::Instance().Now(), 3);
      a.applied_by = migrations::CurrentUserAtHost();
      a.agent_version = kAgentVersion;
      AURA_RETURN_IF_ERROR(migrations::AppendAudit(db, a));
    }
    return Status::Ok();
  });
}

Result<migrations::MigrationPlan> ReadPlan(const MigrateContext& c) {
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(c.db_path, SQLITE_OPEN_READONLY, 5000));
  AURA_ASSIGN_OR_RETURN(auto history, migrations::ReadHistory(db));
  AURA_ASSIGN_OR_RETURN(auto audit, migrations::ReadAudit(db));
  return migrations::PlanMigrations(c.sources, history, audit);
}

}  // namespace

int RunMigrateRepair(const MigrateArgs& args, const Output& out) {
  auto c = ResolveMigrate(args, false);
  if (!c.ok()) return out.Fail(c.status());
  auto plan = ReadPlan(*c);
  if (!plan.ok()) return out.Fail(plan.status());
  std::vector<migrations::AuditRecord> rows = migrations::RepairRecords(*plan);
  json accepted = json::array();
  for (const migrations::AuditRecord& a : rows) {
    accepted.push_back({{"id", a.migration_id}, {"file", a.file}, {"detail", a.detail}});
  }
  if (rows.empty()) {
    out.Line("no drift: nothing to repair in " + c->db_path);
  } else if (Status s = WriteRepairs(*c, args, rows); !s.ok()) {
    return out.Fail(s, {{"database", c->db_path}, {"accepted", json::array()}});
  }
  for (const migrations::AuditRecord& a : rows)
    out.Line("accepted " + a.migration_id + ": " + a.detail);
  out.Json({{"database", c->db_path}, {"accepted", accepted}, {"drift", DriftJson(plan->drift)}});
  return 0;
}

}  // namespace aura::agent
