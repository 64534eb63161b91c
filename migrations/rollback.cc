#include "migrations/rollback.h"

#include <unistd.h>

#include <chrono>

#include "common/file_io.h"
#include "common/version.h"
#include "migrations/database_copy.h"
#include "migrations/held_locks.h"
#include "migrations/history.h"
#include "migrations/migration_transaction.h"

namespace aura::migrations {

namespace {

using SteadyClock = std::chrono::steady_clock;

RollbackReport Fail(RollbackReport r, Status s, const char* outcome = "refused") {
  r.outcome = outcome;
  r.status = std::move(s);
  return r;
}

const Migration* FindSource(const std::vector<Migration>& sources, const std::string& id) {
  for (const Migration& m : sources) {
    if (m.id == id) return &m;
  }
  return nullptr;
}

// The applied ids after `target`, newest first.
Result<std::vector<std::string>> IdsToUndo(const std::vector<AppliedMigration>& history,
                                           const std::string& target) {
  std::string keep;
  if (target != "0") {
    for (const AppliedMigration& h : history) {
      if (h.id == target || h.id.substr(h.id.find('_') + 1) == target) keep = h.id;
    }
    if (keep.empty()) {
      return InvalidArgument("migration '" + target +
                             "' is not applied to this database (see "
                             "'aura-agent migrate list'); name an applied migration, or 0 for all");
    }
  }
  std::vector<std::string> ids;
  for (auto it = history.rbegin(); it != history.rend(); ++it) {
    if (it->id > keep) ids.push_back(it->id);
  }
  return ids;
}

AuditRecord RollbackAudit(const Migration* m, const std::string& id, const std::string& detail,
                          const std::string& snapshot, const Clock& clock) {
  AuditRecord a;
  a.migration_id = id;
  a.action = "rollback";
  a.outcome = "rolled_back";
  if (m != nullptr) {
    a.file = BaseName(m->down_file.empty() ? m->file : m->down_file);
    a.sha256 = m->down_sha256;
  }
  a.applied_at = FormatRfc3339(clock.Now(), 3);
  a.agent_version = kAgentVersion;
  a.snapshot = snapshot;
  a.applied_by = CurrentUserAtHost();
  a.detail = detail;
  return a;
}

Status RunDowns(SqliteDb& db, const std::vector<Migration>& sources, const RollbackOptions& o,
                RollbackReport& r) {
  for (const std::string& id : r.rolled_back) {
    const Migration* m = FindSource(sources, id);
    for (const SqlStatement& s : m->down) {
      Migration named = *m;
      named.file = m->down_file;
      AURA_RETURN_IF_ERROR(RunStatement(db, named, s));
    }
    AURA_RETURN_IF_ERROR(DeleteHistory(db, id));
    AURA_RETURN_IF_ERROR(AppendAudit(db, RollbackAudit(m, id, "down file", r.snapshot, *o.clock)));
  }
  return RunPreCommitChecks(db, {}, o.full_check_max_bytes, r.checks);
}

RollbackReport ByDownFiles(SqliteDb& db, const std::vector<Migration>& sources,
                           const RollbackOptions& o, RollbackReport r) {
  r.method = "down_files";
  if (o.dry_run) return Fail(std::move(r), Status::Ok(), "dry_run");
  if (o.snapshots != nullptr) {
    auto snap = o.snapshots->Take("pre-rollback " + r.rolled_back.back());
    if (!snap.ok()) return Fail(std::move(r), snap.status().WithContext("pre-rollback snapshot"));
    r.snapshot = *snap;
  }
  Status s = RunWithForeignKeysOff(db, true, [&] { return RunDowns(db, sources, o, r); });
  if (!s.ok()) return Fail(std::move(r), s);
  r.outcome = "rolled_back";
  return r;
}

// The ids the snapshot's run applied that are not asked to be undone (ids <= the target).
std::vector<std::string> AlsoUndone(const std::vector<AuditRecord>& audit,
                                    const std::string& snapshot,
                                    const std::vector<std::string>& asked) {
  std::vector<std::string> extra;
  for (const AuditRecord& a : audit) {
    if (a.action != "apply" || a.snapshot != snapshot) continue;
    bool in = false;
    for (const std::string& id : asked) in = in || id == a.migration_id;
    if (!in) extra.push_back(a.migration_id);
  }
  return extra;
}

RollbackReport BySnapshot(SqliteDb& db, const std::vector<AuditRecord>& audit,
                          const RollbackOptions& o, RollbackReport r) {
  r.method = "snapshot";
  const std::string oldest = r.rolled_back.back();
  for (const AuditRecord& a : audit) {
    if (a.migration_id == oldest && a.action == "apply" && !a.snapshot.empty()) {
      r.snapshot = a.snapshot;
    }
  }
  if (r.snapshot.empty() || o.snapshots == nullptr) {
    return Fail(std::move(r),
                Refused("cannot roll back " + oldest +
                        ": not every migration to undo has a "
                        ".down.sql file, and no pre-migration snapshot of it is known here (it "
                        "was applied by the application, or the snapshot's target is not "
                        "configured); restore a backup with 'aura-agent restore'"));
  }
  std::vector<std::string> extra = AlsoUndone(audit, r.snapshot, r.rolled_back);
  if (!extra.empty()) {
    std::string names;
    for (const std::string& id : extra) names += (names.empty() ? "" : ", ") + id;
    Status refused = Refused("the pre-migration snapshot " + r.snapshot +
                             " was taken before one run "
                             "that applied " +
                             oldest + " together with " + names +
                             "; restoring it "
                             "would undo those too. Roll back to the migration before that run "
                             "instead (see 'aura-agent migrate list'), or add .down.sql files");
    return Fail(std::move(r), refused);
  }
  std::string what = "rolling back " + std::to_string(r.rolled_back.size()) +
                     " migration(s) means restoring the pre-migration snapshot " + r.snapshot +
                     " (taken before " + oldest + " was applied, in " + o.snapshots->Describe() +
                     "): every write made since then is lost";
  if (o.dry_run) return Fail(std::move(r), Status::Ok(), "dry_run");
  if (!o.yes) return Fail(std::move(r), InvalidArgument(what + "; rerun with --yes"), "needs_yes");
  std::string file =
      DirName(o.database) + "/." + BaseName(o.database) + ".rollback-" + std::to_string(::getpid());
  Status s = o.snapshots->RestoreToFile(r.snapshot, file);
  if (s.ok()) s = CopyFileIntoDatabase(file, db);
  RemoveDatabaseFiles(file);
  if (!s.ok()) {
    Status failed = s.WithContext("restoring " + r.snapshot);
    return Fail(std::move(r), failed);
  }
  // The snapshot predates the audit table when it was taken before the agent's first apply.
  (void)EnsureHistoryTables(db);
  for (const std::string& id : r.rolled_back) {
    (void)AppendAudit(
        db, RollbackAudit(nullptr, id, "restored pre-migration snapshot " + r.snapshot, r.snapshot,
                          *o.clock));
  }
  r.outcome = "rolled_back";
  return r;
}

RollbackReport Locked(SqliteDb& db, const std::vector<Migration>& sources, const RollbackOptions& o,
                      RollbackReport r) {
  auto history = ReadHistory(db);
  if (!history.ok()) return Fail(std::move(r), history.status());
  auto audit = ReadAudit(db);
  if (!audit.ok()) return Fail(std::move(r), audit.status());
  auto ids = IdsToUndo(*history, o.target);
  if (!ids.ok()) return Fail(std::move(r), ids.status());
  r.rolled_back = *ids;
  if (r.rolled_back.empty()) {
    r.outcome = "nothing_to_do";
    return r;
  }
  bool all_down = true;
  for (const std::string& id : r.rolled_back) {
    const Migration* m = FindSource(sources, id);
    all_down = all_down && m != nullptr && !m->down_file.empty();
  }
  return all_down ? ByDownFiles(db, sources, o, std::move(r))
                  : BySnapshot(db, *audit, o, std::move(r));
}

}  // namespace

RollbackReport RollbackMigrations(const std::vector<Migration>& sources, const RollbackOptions& o) {
  auto t0 = SteadyClock::now();
  RollbackReport r;
  auto db = SqliteDb::Open(o.database, SQLITE_OPEN_READWRITE, o.busy_timeout_ms);
  if (!db.ok()) return Fail(std::move(r), db.status());
  if (o.dry_run) {
    r = Locked(*db, sources, o, std::move(r));
  } else {
    auto locks = HeldLocks::Take(*db, o.clock->Now(), o.stale_lock_after, o.break_stale_lock);
    if (!locks.ok()) return Fail(std::move(r), locks.status());
    r = Locked(*db, sources, o, std::move(r));
  }
  r.duration_ms = MillisSince(t0);
  return r;
}

}  // namespace aura::migrations
