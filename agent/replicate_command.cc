// replicate: continuous WAL shipping in the foreground until SIGINT/SIGTERM (the daemon runs the
// same Replicator for every configured database).
#include <signal.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/jobs.h"
#include "agent/repo_resolver.h"
#include "agent/stop_signal.h"
#include "backup/compactor.h"
#include "backup/database_image.h"
#include "backup/replicator.h"
#include "backup/wal_follower.h"
#include "common/file_io.h"
#include "common/sqlite_version.h"

namespace aura::agent {

namespace {

const std::atomic<bool>& g_stop = StopRequested();

std::string DefaultSpool(const std::string& db_path) {
  return DirName(db_path) + "/." + BaseName(db_path) + ".aura-spool";
}

// Uploads until told to stop, waking whenever a segment is spooled; backs off after errors.
// Compacts closed windows when the compactor says there can be some.
void UploadLoop(backup::Replicator& r, backup::Compactor& compactor,
                const std::atomic<bool>& stop) {
  auto backoff = std::chrono::milliseconds(100);
  while (!stop) {
    auto c = compactor.RunIfDue(r.status().segments_uploaded);
    if (!c.ok()) spdlog::error("compaction: {}", c.status().message());
    if (r.Upload().ok()) {
      backoff = std::chrono::milliseconds(100);
      r.WaitForSpooled(std::chrono::milliseconds(1000));
    } else {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
    }
  }
}

// Drives Step until stopped, sleeping longer while the database is idle.
void StepLoop(backup::Replicator& r, const ReplicateArgs& args, const Output& out) {
  const auto start = std::chrono::steady_clock::now();
  auto last_status = start - std::chrono::seconds(10);
  auto last_active = start;
  uint64_t last_txid = 0;
  while (!g_stop) {
    auto now = std::chrono::steady_clock::now();
    if (args.run_seconds > 0 && now - start >= std::chrono::duration<double>(args.run_seconds)) {
      break;
    }
    (void)r.Step();
    backup::ReplicationStatus s = r.status();
    if (s.spooled_txid != last_txid) {
      last_txid = s.spooled_txid;
      last_active = now;
    }
    if (now - last_status >= std::chrono::seconds(1)) {
      last_status = now;
      if (!args.status_file.empty()) {
        (void)WriteFileAtomic(args.status_file, r.StatusJson(SystemClock::Instance().Now()), 0640);
      }
    }
    auto idle = now - last_active > std::chrono::seconds(1);
    std::this_thread::sleep_for(
        std::chrono::milliseconds(idle ? std::max(args.poll_ms, 50) : args.poll_ms));
  }
  (void)out;
}

// --upload-interval in milliseconds; 0 when it is not given.
Result<int64_t> UploadIntervalMs(const ReplicateArgs& args) {
  if (args.upload_interval.empty()) return int64_t{0};
  auto ms = ParseDurationMillis(args.upload_interval);
  if (!ms.ok() || *ms < 1 || *ms > 600000) {
    return InvalidArgument("--upload-interval '" + args.upload_interval +
                           "' must be a duration such as 1s, 10s or 500ms, at most 10m");
  }
  return ms;
}

// What Replicator::Start would refuse about the database, before the target is created: a
// missing file, one that is not SQLite, one not in WAL mode, a bad --name.
Status CheckReplicationSource(const ResolvedRepo& job) {
  AURA_RETURN_IF_ERROR(backup::ValidateDatabaseName(job.database));
  AURA_ASSIGN_OR_RETURN(backup::JournalMode mode, backup::CheckDatabaseFile(job.db_path));
  if (mode != backup::JournalMode::kWal) return backup::NotInWalMode(job.db_path, "rollback");
  return Status::Ok();
}

}  // namespace

int RunReplicate(const ReplicateArgs& args, const Output& out) {
  auto upload_ms = UploadIntervalMs(args);
  if (!upload_ms.ok()) return out.Fail(upload_ms.status());
  auto jobs = ResolveForBackup(args.repo, args.db);
  if (!jobs.ok()) return out.Fail(jobs.status());
  if (jobs->size() != 1) {
    return out.Fail(InvalidArgument(
        "replicate ships one database to one target; pass --database and --target"));
  }
  ResolvedRepo& job = jobs->front();
  Status source = CheckReplicationSource(job);
  if (!source.ok()) return out.Fail(source.WithContext("replicate " + job.db_path));
  auto repo = backup::Repository::OpenForWrite(job.storage, job.keys, SystemClock::Instance());
  if (!repo.ok()) return out.Fail(repo.status());
  backup::ReplicatorOptions o;
  o.db_path = job.db_path;
  o.database = job.database;
  o.spool_dir = args.spool.empty() ? DefaultSpool(job.db_path) : args.spool;
  o.busy_timeout_ms = args.repo.config.empty() ? args.busy_timeout_ms : job.busy_timeout_ms;
  o.poll_interval = std::chrono::milliseconds(args.poll_ms);
  o.segment_max_age = std::chrono::milliseconds(args.segment_ms);
  if (*upload_ms > 0) o.segment_max_age = std::chrono::milliseconds(*upload_ms);
  o.generation_max_age = std::chrono::seconds(job.generation_interval_s);
  RemoveWritesOfKilledRuns(*job.storage);
  std::shared_ptr<backup::Repository> shared_repo(std::move(repo).value());
  backup::Replicator r(o, shared_repo);
  backup::Compactor compactor(shared_repo, job.database, o.spool_dir + "/compaction");
  r.KeepUploaded([&compactor](const std::string& path, const backup::SegmentHeader& h) {
    compactor.Adopt(path, h);
  });
  InstallStopHandlers();
  if (std::string w = WalResetBugWarning(); !w.empty()) spdlog::warn("replicate: {}", w);
  Status started = r.Start();
  if (!started.ok()) return out.Fail(started.WithContext("replicate " + job.db_path));
  out.Line("replicating " + job.db_path + " -> " + job.storage->Describe() + " (database \"" +
           job.database + "\", spool " + o.spool_dir + "); stop with Ctrl-C or SIGTERM");
  std::atomic<bool> stop_uploads{false};
  std::thread uploader([&] { UploadLoop(r, compactor, stop_uploads); });
  StepLoop(r, args, out);
  Status flushed = r.Flush();
  stop_uploads = true;
  uploader.join();
  Status uploaded = r.Upload();
  if (!args.status_file.empty()) {
    (void)WriteFileAtomic(args.status_file, r.StatusJson(SystemClock::Instance().Now()), 0640);
  }
  backup::ReplicationStatus s = r.status();
  out.Json(nlohmann::json::parse(r.StatusJson(SystemClock::Instance().Now())));
  out.Line("stopped: txid " + std::to_string(s.uploaded_txid) + " uploaded, " +
           std::to_string(s.pending_txns) + " transaction(s) still in the spool");
  if (!flushed.ok()) return out.Fail(flushed);
  if (!uploaded.ok()) {
    return out.Fail(uploaded.WithContext("some segments remain in the spool " + o.spool_dir +
                                         "; they upload on the next start"));
  }
  return 0;
}

}  // namespace aura::agent
