// backup, restore, list and verify.
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/commands.h"
#include "agent/jobs.h"
#include "agent/repo_resolver.h"
#include "backup/database_image.h"
#include "backup/pitr_restore.h"
#include "backup/restore.h"
#include "backup/snapshot.h"
#include "common/clock.h"
#include "common/open_files.h"
#include "common/terminal_text.h"
#include "integrity/verify.h"

namespace aura::agent {

using nlohmann::json;

namespace {

std::string Ratio(uint64_t a, uint64_t b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f:1", b == 0 ? 0.0 : double(a) / double(b));
  return buf;
}

std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000.0);
  return buf;
}

// One row of `list`: DATABASE, SNAPSHOT, CREATED, KIND, SIZE, STORED, LABEL, each cell escaped.
std::string ListRow(const std::array<std::string, 7>& c) {
  return PadRight(c[0], 16) + " " + PadRight(c[1], 30) + " " + PadRight(c[2], 20) + " " +
         PadRight(c[3], 5) + " " + PadLeft(c[4], 11) + " " + PadLeft(c[5], 11) + "  " +
         EscapeForTerminal(c[6]);
}

bool IsRegularFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// What the snapshot would refuse about the database and its name, checked before the target is
// created: a backup of a missing database used to leave aura-repository.json behind.
Status CheckBackupSource(const ResolvedRepo& job) {
  AURA_RETURN_IF_ERROR(backup::ValidateDatabaseName(job.database));
  return backup::CheckDatabaseFile(job.db_path).status();
}

}  // namespace

int RunBackup(const BackupArgs& args, const Output& out) {
  if (!IsValidUtf8(args.label)) {
    // The manifest is JSON, which holds UTF-8 only (it used to abort the backup mid-way).
    return out.Fail(
        InvalidArgument("--label '" + args.label + "' is not UTF-8 text: give the label in UTF-8"));
  }
  auto jobs = ResolveForBackup(args.repo, args.db);
  if (!jobs.ok()) return out.Fail(jobs.status());
  json results = json::array();
  for (ResolvedRepo& job : *jobs) {
    Status source = CheckBackupSource(job);
    if (!source.ok()) {
      return out.Fail(source.WithContext("backup of " + job.db_path + " to " +
                                         job.storage->Describe() + " refused"));
    }
    auto repo = backup::Repository::OpenForWrite(job.storage, job.keys, SystemClock::Instance());
    if (!repo.ok()) return out.Fail(repo.status());
    backup::SnapshotOptions o;
    o.database_name = job.database;
    o.label = args.label;
    o.busy_timeout_ms = args.repo.config.empty() ? args.busy_timeout_ms : job.busy_timeout_ms;
    o.threads = args.threads;
    o.progress = out.progress();
    DatabaseConfig db;
    db.name = job.database;
    db.path = job.db_path;
    db.continuous = job.continuous;
    auto snap = TakeJobSnapshot(db, **repo, o);
    if (!snap.ok()) {
      return out.Fail(WithHolders(snap.status(), job.db_path)
                          .WithContext("backup of " + job.db_path + " to " +
                                       job.storage->Describe() + " failed"));
    }
    const backup::Manifest& m = snap->manifest;
    const backup::SnapshotSummary& s = m.summary;
    json j = backup::SummaryJson(s);
    j["target"] = job.storage->Describe();
    j["source_path"] = m.source_path;
    j["sha256"] = m.sha256;
    j["duration_ms"] = m.duration_ms;
    j["journal_mode"] = m.journal_mode;
    results.push_back(j);
    out.Line("snapshot " + s.snapshot + " of " + job.db_path + " -> " + job.storage->Describe() +
             " (database \"" + s.database + "\")");
    out.Line("  " + HumanBytes(s.size) + " stored as " + HumanBytes(s.stored_size) + " (" +
             Ratio(s.size, s.stored_size) + "), " +
             (s.encrypted ? "aes-256-gcm, key " + s.key_id : std::string("unencrypted")) + ", " +
             Seconds(m.duration_ms));
    out.Line("  sha256 " + m.sha256);
  }
  out.Json(results.size() == 1 ? results[0] : json{{"snapshots", results}});
  return 0;
}

Result<std::optional<backup::PointInTime>> RestorePointFromArgs(const RestoreArgs& args) {
  int given =
      (args.latest ? 1 : 0) + !args.snapshot.empty() + !args.at.empty() + (args.txid >= 0 ? 1 : 0);
  if (given != 1) {
    return InvalidArgument("pass exactly one of --latest, --snapshot ID, --at TIME, --txid N");
  }
  if (!args.snapshot.empty()) return std::optional<backup::PointInTime>();
  backup::PointInTime p;
  if (!args.at.empty()) {
    p.kind = backup::PointInTime::Kind::kTime;
    AURA_ASSIGN_OR_RETURN(p.time, ParseRfc3339(args.at));
  } else if (args.txid >= 0) {
    p.kind = backup::PointInTime::Kind::kTxid;
    p.txid = static_cast<uint64_t>(args.txid);
  }
  return std::optional<backup::PointInTime>(p);
}

namespace {

// The database to restore: the one named, or the only one in the repository.
Result<std::string> PickDatabase(backup::Repository& repo, const std::string& named) {
  if (!named.empty()) return named;
  AURA_ASSIGN_OR_RETURN(auto latest, repo.LatestSnapshot(""));
  return latest.database;
}

Result<backup::RestoreResult> RestoreFromRepository(const RestoreArgs& args,
                                                    const backup::RestoreOptions& o) {
  AURA_ASSIGN_OR_RETURN(auto point, RestorePointFromArgs(args));
  AURA_ASSIGN_OR_RETURN(ResolvedRepo resolved, ResolveForRead(args.repo));
  AURA_ASSIGN_OR_RETURN(auto repo, backup::Repository::Open(resolved.storage, resolved.keys));
  if (!point) {
    AURA_ASSIGN_OR_RETURN(auto ref, repo->FindSnapshot(resolved.database, args.snapshot));
    return backup::RestoreSnapshot(*repo, ref, args.to, o);
  }
  AURA_ASSIGN_OR_RETURN(std::string db, PickDatabase(*repo, resolved.database));
  return backup::RestoreToPoint(*repo, db, *point, args.to, o);
}

}  // namespace

int RunRestore(const RestoreArgs& args, const Output& out) {
  if (args.follow || args.promote || args.once) {
    if (args.once && !args.follow) return out.Fail(InvalidArgument("--once goes with --follow"));
    return RunStandby(args, out);
  }
  auto level = ParseIntegrityLevel(args.check);
  if (!level.ok()) return out.Fail(level.status());
  if (args.dry_run) {
    if (args.repo.config.empty() && IsRegularFile(args.repo.url)) {
      return out.Fail(InvalidArgument("--dry-run plans restores from backup folders; " +
                                      args.repo.url + " is a database file"));
    }
    return RunRestoreDryRun(args, out);
  }
  if (args.to.empty()) return out.Fail(InvalidArgument("--to is required (the file to create)"));
  backup::RestoreOptions o;
  o.force = args.force;
  o.check = *level;
  o.threads = args.threads;
  o.progress = out.progress();
  Result<backup::RestoreResult> result = InternalError("unreachable");
  if (args.repo.config.empty() && IsRegularFile(args.repo.url)) {
    if (args.latest || !args.snapshot.empty() || !args.at.empty() || args.txid >= 0) {
      return out.Fail(InvalidArgument(args.repo.url +
                                      " is a database file; --latest, --snapshot, --at and "
                                      "--txid apply to backup folders"));
    }
    result = backup::RestoreFromDatabaseFile(args.repo.url, args.to, o);
  } else {
    result = RestoreFromRepository(args, o);
  }
  if (!result.ok()) {
    return out.Fail(result.status().WithContext("restore to " + args.to + " failed"));
  }
  const backup::RestoreResult& r = *result;
  json j = {{"target", r.target},
            {"source", r.source},
            {"size", r.bytes},
            {"integrity_check", r.integrity},
            {"duration_ms", r.duration_ms}};
  if (!r.sha256.empty()) j["sha256"] = r.sha256;
  if (r.txid != 0) j["txid"] = r.txid;
  if (!r.why.empty()) j["why"] = r.why;
  out.Json(j);
  std::string proof = r.sha256.empty() ? "database checksums verified at every segment"
                                       : "sha256 " + r.sha256.substr(0, 16) + "... verified";
  out.Line("restored " + r.source + " to " + r.target + ": " + HumanBytes(r.bytes) + ", " + proof +
           ", integrity check " + r.integrity + ", " + Seconds(r.duration_ms));
  if (!r.why.empty()) out.Line("  chosen because " + r.why);
  return 0;
}

int RunList(const ListArgs& args, const Output& out) {
  auto resolved = ResolveForRead(args.repo);
  if (!resolved.ok()) return out.Fail(resolved.status());
  auto repo = backup::Repository::Open(resolved->storage, resolved->keys);
  if (!repo.ok()) return out.Fail(repo.status());
  auto refs = (*repo)->ListSnapshots(resolved->database);
  if (!refs.ok()) return out.Fail(refs.status());
  json items = json::array();
  if (!refs->empty()) {
    out.Line(ListRow({"DATABASE", "SNAPSHOT", "CREATED (UTC)", "KIND", "SIZE", "STORED", "LABEL"}));
  }
  int unreadable = 0;
  for (const backup::SnapshotRef& ref : *refs) {
    auto s = (*repo)->ReadSummary(ref);
    if (!s.ok()) {
      ++unreadable;
      items.push_back(
          {{"database", ref.database}, {"snapshot", ref.id}, {"error", s.status().message()}});
      out.Line(ref.database + " " + ref.id + "  (unreadable: " + s.status().message() + ")");
      continue;
    }
    items.push_back(backup::SummaryJson(*s));
    std::string created = FormatRfc3339(s->created, 0);
    created[10] = ' ';
    created.pop_back();
    // An increment's base is in --json; the column says which snapshots need one.
    out.Line(ListRow({s->database, s->snapshot, created, s->kind == "full" ? "full" : "incr",
                      HumanBytes(s->size), HumanBytes(s->stored_size), s->label}));
  }
  out.Line(std::to_string(refs->size()) + " snapshot" + (refs->size() == 1 ? "" : "s") + " in " +
           resolved->storage->Describe());
  out.Json({{"repository", resolved->storage->Describe()}, {"snapshots", items}});
  return unreadable == 0 ? 0 : ExitCode(Corruption("unreadable manifests"));
}

int RunVerify(const VerifyArgs& args, const Output& out) {
  auto resolved = ResolveForRead(args.repo);
  if (!resolved.ok()) return out.Fail(resolved.status());
  auto repo = backup::Repository::Open(resolved->storage, resolved->keys);
  if (!repo.ok()) return out.Fail(repo.status());
  integrity::VerifyOptions o;
  o.database = resolved->database;
  o.snapshot = args.snapshot;
  o.threads = args.threads;
  o.progress = out.progress();
  auto report = integrity::VerifyRepository(**repo, o);
  if (!report.ok()) return out.Fail(report.status());
  json bad = json::array();
  for (const auto& p : report->bad) {
    bad.push_back({{"object", p.name},
                   {"kind", p.kind},
                   {"code", std::string(CodeName(p.error.code()))},
                   {"error", p.error.message()}});
    out.Line("BAD " + p.name + " [" + p.kind + "]: " + p.error.message());
  }
  for (const std::string& o2 : report->orphans) {
    out.Line("orphan " + o2 + " (no manifest names it; left by an interrupted backup)");
  }
  out.Json({{"ok", report->ok()},
            {"snapshots", report->snapshots},
            {"segments", report->segments},
            {"objects", report->objects},
            {"bytes", report->bytes},
            {"bad", bad},
            {"orphans", report->orphans}});
  std::string summary = "verified " + std::to_string(report->snapshots) + " snapshot" +
                        (report->snapshots == 1 ? "" : "s") + ", " +
                        std::to_string(report->segments) + " WAL segments, " +
                        std::to_string(report->objects) + " objects, " + HumanBytes(report->bytes) +
                        ": ";
  if (report->ok()) {
    out.Line(summary + "all good");
    return 0;
  }
  out.Line(summary + std::to_string(report->bad.size()) + " bad");
  std::cerr << "aura-agent: error: " << report->bad.size() << " bad object(s) in "
            << EscapeForTerminal(resolved->storage->Describe()) << "\n";
  return ExitCode(Corruption("bad objects"));
}

}  // namespace aura::agent
