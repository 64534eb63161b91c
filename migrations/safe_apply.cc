#include "migrations/safe_apply.h"

#include <unistd.h>

#include <chrono>
#include <future>
#include <utility>

#include "common/file_io.h"
#include "common/sqlite_integrity.h"
#include "common/version.h"
#include "migrations/database_copy.h"
#include "migrations/held_locks.h"
#include "migrations/history.h"
#include "migrations/migration_transaction.h"

namespace aura::migrations {

namespace {

using SteadyClock = std::chrono::steady_clock;

ApplyReport Refuse(ApplyReport r, Status s) {
  r.outcome = "refused";
  r.status = std::move(s);
  return r;
}

std::string ScratchPath(const ApplyOptions& o) {
  std::string dir = o.scratch_dir.empty() ? DirName(o.database) : o.scratch_dir;
  return dir + "/." + BaseName(o.database) + ".rehearsal-" + std::to_string(::getpid());
}

// Static findings that destroy data: on a table that has rows, not allowed by name.
Status RefuseDestructive(const std::vector<Destructive>& found, const RowCounts& rows,
                         const NameSet& allowed) {
  for (const Destructive& d : found) {
    auto it = rows.find(d.table);
    if (it == rows.end() || it->second == 0 || allowed.count(d.table) != 0) continue;
    return Refused(d.file + ":" + std::to_string(d.line) + ": migration " + d.migration + ": " +
                   d.what + " destroys data of \"" + d.table + "\" (" + std::to_string(it->second) +
                   " rows); if that is intended, pass " + "--allow-data-loss " + d.table +
                   "; nothing was changed");
  }
  return Status::Ok();
}

Status RefuseRowLoss(const std::vector<RowLoss>& lost) {
  if (lost.empty()) return Status::Ok();
  const RowLoss& l = lost.front();
  return Refused("data-loss guard: in the rehearsal, table \"" + l.table + "\" went from " +
                 std::to_string(l.before) + " to " + std::to_string(l.after) +
                 " rows and no DELETE of the migrations is aimed at it (a cascade, a trigger or "
                 "an INSERT ... SELECT that lost rows); the live database was not touched; if "
                 "the loss is intended, pass --allow-data-loss " +
                 l.table);
}

// The data-loss guard over the rehearsal's row counts (and the static findings).
Status GuardRows(const std::vector<Migration>& pending, const ApplyOptions& o, ApplyReport& r,
                 const RowCounts& before, const RowCounts& after) {
  r.rows_before = before;
  r.rows_after = after;
  r.dropped_tables = DroppedTables(before, after);
  AURA_RETURN_IF_ERROR(RefuseDestructive(r.destructive, before, o.allow_data_loss));
  for (const std::string& table : r.dropped_tables) {
    if (before.at(table) > 0 && o.allow_data_loss.count(table) == 0) {
      return Refused("data-loss guard: the migrations drop table \"" + table + "\" (" +
                     std::to_string(before.at(table)) +
                     " rows) and do not recreate it; pass "
                     "--allow-data-loss " +
                     table + " if that is intended; nothing was changed");
    }
  }
  return RefuseRowLoss(
      UnexplainedRowLoss(before, after, DeleteTargets(pending), o.allow_data_loss));
}

// The rehearsal: the live transaction on a scratch copy, rolled back, with the data-loss guard.
Status Rehearse(SqliteDb& live, const std::vector<Migration>& pending, const ApplyOptions& o,
                ApplyReport& r) {
  auto t0 = SteadyClock::now();
  const std::string scratch = ScratchPath(o);
  Status copied = CopyDatabaseToFile(live, scratch, /*durable=*/false);
  if (!copied.ok()) {
    RemoveDatabaseFiles(scratch);
    return copied.WithContext("rehearsal copy");
  }
  TransactionResult t;
  {
    auto copy = SqliteDb::Open(scratch, SQLITE_OPEN_READWRITE, o.busy_timeout_ms);
    if (!copy.ok()) {
      RemoveDatabaseFiles(scratch);
      return copy.status().WithContext("rehearsal copy");
    }
    // The copy is thrown away: no journal, no fsync, and a 64 MiB page cache.
    (void)copy->Exec("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-65536");
    TransactionOptions to{.product_version = o.product_version,
                          .assertions = o.assertions,
                          .full_check_max_bytes = o.full_check_max_bytes,
                          .commit = true,  // with journal_mode=OFF a ROLLBACK is undefined
                          .count_rows = true,
                          .integrity_check = false,
                          .row_guard =
                              [&](const RowCounts& before, const RowCounts& after) {
                                return GuardRows(pending, o, r, before, after);
                              },
                          .clock = o.clock};
    t = RunMigrationTransaction(*copy, pending, to);
  }
  RemoveDatabaseFiles(scratch);
  r.rehearsal_ms = MillisSince(t0);
  if (!t.status.ok()) return t.status.WithContext("rehearsal");
  return Status::Ok();
}

// The health check after COMMIT, on a fresh connection.
Status HealthCheck(const ApplyOptions& o, const std::vector<std::string>& applied,
                   std::vector<std::string>& checks) {
  AURA_ASSIGN_OR_RETURN(SqliteDb db,
                        SqliteDb::Open(o.database, SQLITE_OPEN_READWRITE, o.busy_timeout_ms));
  AURA_RETURN_IF_ERROR(db.QueryInt("SELECT count(*) FROM sqlite_schema").status());
  AURA_ASSIGN_OR_RETURN(std::vector<AppliedMigration> history, ReadHistory(db));
  for (const std::string& id : applied) {
    bool found = false;
    for (const AppliedMigration& h : history) found = found || h.id == id;
    if (!found) return Corruption("after COMMIT, __EFMigrationsHistory has no row for " + id);
  }
  checks.push_back("health check on a fresh connection ok");
  for (const std::string& sql : o.post_checks) {
    AURA_ASSIGN_OR_RETURN(bool holds, AssertionHolds(db, sql));
    if (!holds) return Refused("post-check `" + sql + "` is false after the migrations");
    checks.push_back("post-check `" + sql + "` true");
  }
  return Status::Ok();
}

// Writes the pre-migration snapshot back into the live database.
Status RestorePreMigration(const ApplyOptions& o, const std::string& snapshot) {
  const std::string file = ScratchPath(o) + ".restore";
  RemoveDatabaseFiles(file);
  Status s = o.snapshots->RestoreToFile(snapshot, file);
  if (s.ok()) {
    auto live = SqliteDb::Open(o.database, SQLITE_OPEN_READWRITE, o.busy_timeout_ms);
    s = live.ok() ? CopyFileIntoDatabase(file, *live) : live.status();
  }
  RemoveDatabaseFiles(file);
  return s;
}

AuditRecord AuditTemplate(const std::string& snapshot) {
  AuditRecord a;
  a.agent_version = kAgentVersion;
  a.applied_by = CurrentUserAtHost();
  a.snapshot = snapshot;
  return a;
}

// Steps 6 and 7: the live transaction, then the health check (and the automatic restore).
ApplyReport ApplyLive(SqliteDb& live, ApplyReport r, const ApplyOptions& o) {
  // A 64 MiB page cache for the rebuilds and index builds (SQLite's default is 2 MiB).
  (void)live.Exec("PRAGMA cache_size=-65536");
  TransactionOptions to{.product_version = o.product_version,
                        .assertions = o.assertions,
                        .full_check_max_bytes = o.full_check_max_bytes,
                        .commit = true,
                        .count_rows = false,
                        .statement_hook = o.live_statement_hook,
                        .audit = AuditTemplate(r.snapshot),
                        .clock = o.clock};
  TransactionResult t = RunMigrationTransaction(live, r.plan.pending, to);
  r.write_lock_ms = t.write_lock_ms;
  for (const auto& [id, ms] : t.timings) r.timings.push_back({id, ms});
  if (!t.status.ok()) return Refuse(std::move(r), t.status);
  r.checks.insert(r.checks.end(), t.checks.begin(), t.checks.end());
  for (const Migration& m : r.plan.pending) r.applied.push_back(m.id);
  if (o.after_commit_hook) o.after_commit_hook(o.database);
  Status health = HealthCheck(o, r.applied, r.checks);
  if (health.ok()) {
    r.outcome = "applied";
    return r;
  }
  Status restored = RestorePreMigration(o, r.snapshot);
  r.outcome = restored.ok() ? "restored" : "refused";
  r.status = restored.ok()
                 ? Refused("after COMMIT: " + health.message() + "; the pre-migration snapshot " +
                           r.snapshot + " was restored into the database")
                 : Corruption("after COMMIT: " + health.message() +
                              "; restoring the pre-migration snapshot " + r.snapshot +
                              " failed too: " + restored.message() +
                              "; restore it by hand with aura-agent restore");
  return r;
}

// Steps 2 to 7 once the locks are held.
ApplyReport PlanAndApply(SqliteDb& live, const std::vector<Migration>& sources,
                         const ApplyOptions& o, ApplyReport r) {
  auto history = ReadHistory(live);
  if (!history.ok()) return Refuse(std::move(r), history.status());
  auto audit = ReadAudit(live);
  if (!audit.ok()) return Refuse(std::move(r), audit.status());
  auto plan = PlanMigrations(sources, *history, *audit, o.to);
  if (!plan.ok()) return Refuse(std::move(r), plan.status());
  r.plan = std::move(plan).value();
  if (Status d = DriftStatus(r.plan.drift); !d.ok()) return Refuse(std::move(r), d);
  if (r.plan.pending.empty()) {
    r.outcome = "nothing_pending";
    return r;
  }
  auto columns = ReadTableColumns(live);
  if (!columns.ok()) return Refuse(std::move(r), columns.status());
  r.destructive = FindDestructive(r.plan.pending, *columns);
  // The snapshot (CPU: compression, encryption) and the rehearsal (the migration on a copy) run
  // side by side; the live database is touched only after both succeeded.
  std::future<std::pair<Result<std::string>, int64_t>> snapshot;
  if (!o.dry_run) {
    snapshot =
        std::async(std::launch::async, [&o, label = "pre-migration " + r.plan.pending.back().id] {
          auto t0 = SteadyClock::now();
          Result<std::string> id = o.snapshots->Take(label);
          return std::make_pair(std::move(id), MillisSince(t0));
        });
  }
  Status rehearsed = Rehearse(live, r.plan.pending, o, r);
  if (snapshot.valid()) {
    auto [id, ms] = snapshot.get();
    r.snapshot_ms = ms;
    if (!id.ok()) return Refuse(std::move(r), id.status().WithContext("pre-migration snapshot"));
    r.snapshot = *id;
  }
  if (!rehearsed.ok()) return Refuse(std::move(r), rehearsed);
  if (o.dry_run) {
    r.outcome = "dry_run";
    return r;
  }
  return ApplyLive(live, std::move(r), o);
}

// Nothing to apply and no drift, by a plain read: then no lock is taken (EF's lock row is a
// write the application and WAL shipping would see; the daemon asks whenever the folder changes).
// A lock file left behind means a run was killed: the locked path then cleans up after it.
bool NothingPending(SqliteDb& live, const std::vector<Migration>& sources, const std::string& to) {
  if (PathExists(live.path() + ".aura-migrate.lock")) return false;
  auto history = ReadHistory(live);
  auto audit = history.ok() ? ReadAudit(live) : Result<std::vector<AuditRecord>>(history.status());
  if (!audit.ok()) return false;
  auto plan = PlanMigrations(sources, *history, *audit, to);
  return plan.ok() && plan->pending.empty() && plan->drift.empty();
}

}  // namespace

ApplyReport ApplyMigrations(const std::vector<Migration>& sources, const ApplyOptions& o) {
  auto t0 = SteadyClock::now();
  ApplyReport r;
  if (!o.dry_run && o.snapshots == nullptr) {
    return Refuse(std::move(r), InvalidArgument("no place for the pre-migration snapshot"));
  }
  auto live = SqliteDb::Open(o.database, SQLITE_OPEN_READWRITE, o.busy_timeout_ms);
  if (!live.ok()) return Refuse(std::move(r), live.status());
  if (o.dry_run || NothingPending(*live, sources, o.to)) {
    r = PlanAndApply(*live, sources, o, std::move(r));  // reads only
  } else {
    auto locks = HeldLocks::Take(*live, o.clock->Now(), o.stale_lock_after, o.break_stale_lock);
    if (!locks.ok()) return Refuse(std::move(r), locks.status());
    RemoveLeftovers(o.scratch_dir.empty() ? DirName(o.database) : o.scratch_dir,
                    "." + BaseName(o.database) + ".rehearsal-");
    r = PlanAndApply(*live, sources, o, std::move(r));
  }
  r.duration_ms = MillisSince(t0);
  return r;
}

}  // namespace aura::migrations
