// DbWorker's migrations (migrations.auto_apply): new files in the folder are applied on the
// database's heavy strand, so no snapshot, check or drill runs in the middle of one; the
// pre-migration snapshot goes to the first target through its replication unit when the database
// ships there (a point-in-time restore point), and shipping carries the migration's commit like
// any other. A refused migration is reported (status, health, metrics) and not retried until a
// file in the folder changes.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/daemon/db_worker.h"
#include "agent/daemon/repo_cache.h"
#include "agent/migrate_context.h"
#include "agent/migrate_snapshots.h"
#include "common/file_io.h"
#include "migrations/migration_source.h"
#include "migrations/safe_apply.h"

namespace aura::agent {

using nlohmann::json;

namespace {

// How often the folder is looked at (a listing; the database is opened only when it changed).
constexpr std::chrono::seconds kMigrateCheckInterval{10};

// Names, sizes and modification times of the folder's files, in order.
std::string FolderFingerprint(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> entries;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (::stat(e.path().c_str(), &st) != 0) continue;
    entries.push_back(e.path().filename().string() + ":" + std::to_string(st.st_size) + ":" +
                      std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec));
  }
  std::sort(entries.begin(), entries.end());
  std::string f = ec ? "error:" + ec.message() : "";
  for (const std::string& e : entries) f += e + "\n";
  return f;
}

json ReportDetail(const migrations::ApplyReport& r) {
  json pending = json::array();
  for (const migrations::Migration& m : r.plan.pending) pending.push_back(m.id);
  return {{"outcome", r.outcome},
          {"applied", r.applied},
          {"pending", pending},
          {"snapshot", r.snapshot},
          {"write_lock_ms", r.write_lock_ms},
          {"rehearsal_ms", r.rehearsal_ms}};
}

}  // namespace

bool DbWorker::InMigrationWindow(TimePoint now) const {
  const std::string& w = db_.migrations.window;
  if (w.empty()) return true;
  auto start = scheduler::MakeSchedule(scheduler::Period::kDaily, 0, w.substr(0, 5), "",
                                       db_.migrations.timezone);
  if (!start.ok()) return false;
  auto minutes = [](const std::string& hm) {
    return std::stoi(hm.substr(0, 2)) * 60 + std::stoi(hm.substr(3, 2));
  };
  int length = (minutes(w.substr(6)) - minutes(w.substr(0, 5)) + 24 * 60) % (24 * 60);
  TimePoint opened = scheduler::PreviousOccurrence(*start, now);
  return now - opened < std::chrono::minutes(length);
}

void DbWorker::MaybeMigrate(TimePoint now) {
  if (!db_.migrations.enabled || !db_.migrations.auto_apply || stopping_) return;
  if (now - last_migrate_check_ < kMigrateCheckInterval) return;
  last_migrate_check_ = now;
  if (InMigrationWindow(now)) Submit(JobKind::kMigrate);
}

JobOutcome DbWorker::Migrate() {
  JobOutcome out;
  std::string fingerprint = FolderFingerprint(db_.migrations.dir);
  if (fingerprint == migrate_fingerprint_) {
    out.detail = {{"unchanged", true}};
    return out;
  }
  migrate_fingerprint_ = fingerprint;
  auto sources = migrations::LoadMigrations(db_.migrations.dir);
  if (!sources.ok()) {
    out.status = sources.status();
    return out;
  }
  const std::string& target = db_.targets.front();
  auto repo = repos_->Get(target);
  if (!repo.ok()) {
    out.AddFailure(target, repo.status());
    migrate_fingerprint_.clear();  // unreachable target: try again next time
    return out;
  }
  RepositorySnapshots seam(db_, *repo, target, TakerFor(target));
  std::string scratch = config_->agent.state_dir + "/migrate";
  (void)CreatePrivateDirectories(scratch);  // a failure shows when the copy is written there
  migrations::ApplyOptions o = ApplyOptionsFrom(db_.migrations, db_.path, scratch);
  o.snapshots = &seam;
  o.clock = &ctx_.clock;
  migrations::ApplyReport r = migrations::ApplyMigrations(*sources, o);
  if (r.outcome == "nothing_pending") {
    out.detail = {{"unchanged", true}};
    return out;
  }
  out.status = r.status;
  out.detail = ReportDetail(r);
  if (r.status.IsTransient()) migrate_fingerprint_.clear();  // busy: retried at the next check
  return out;
}

json DbWorker::MigrationsJson() const {
  if (!db_.migrations.enabled) return nullptr;
  json j = {
      {"dir", db_.migrations.dir},
      {"auto_apply", db_.migrations.auto_apply},
      {"window", db_.migrations.window.empty() ? json(nullptr) : json(db_.migrations.window)}};
  auto it = last_.find(JobKind::kMigrate);
  if (it == last_.end()) {
    j["last"] = nullptr;
    return j;
  }
  json last = it->second.detail;
  last["finished"] = FormatRfc3339(it->second.finished, 0);
  last["duration_ms"] = it->second.duration_ms;
  last["ok"] = it->second.ok();
  if (!it->second.ok()) last["error"] = it->second.status.message();
  j["last"] = last;
  return j;
}

void DbWorker::MigrationProblems(std::vector<std::string>& out) const {
  auto it = last_.find(JobKind::kMigrate);
  if (it == last_.end() || it->second.ok()) return;
  out.push_back("migration not applied: " + it->second.status.message());
}

void DbWorker::MigrationMetrics(MetricsText& m) const {
  auto it = last_.find(JobKind::kMigrate);
  if (it == last_.end()) return;
  const Labels db{{"database", db_.name}};
  m.Sample("aura_migration_last_success", "gauge",
           "1 if the last migration run of the database applied its migrations, 0 if it was "
           "refused or failed.",
           db, it->second.ok() ? 1.0 : 0.0);
  m.Sample("aura_migration_last_run_timestamp_seconds", "gauge",
           "Unix time of the last migration run.", db,
           double(ToUnixMicros(it->second.finished)) / 1e6);
  m.Sample("aura_migrations_pending", "gauge", "Migrations pending after the last migration run.",
           db,
           double(it->second.detail.value("pending", json::array()).size() -
                  it->second.detail.value("applied", json::array()).size()));
}

}  // namespace aura::agent
