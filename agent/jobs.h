// The agent's jobs, each one function shared by the daemon (on schedule or when an admin asks)
// and by the CLI (`aura-agent backup --policy`, `prune`, ...):
//   - a policy snapshot: full or incremental on the (target, policy) chain kept in the state
//     database; full every `full_every`, and whenever the chain's state or base is gone;
//   - prune: grandfather-father-son retention (backup/retention.h) plus orphaned data objects;
//   - a restore drill (integrity/drill.h) with the database's configured point and assertions;
//   - an integrity check of the live database (read-only, PRAGMA quick_check or integrity_check).
//
// Thread-safety: jobs for different databases may run concurrently; the daemon runs at most one
// heavy job per database at a time.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "agent/state_store.h"
#include "backup/repository.h"
#include "backup/retention.h"
#include "backup/snapshot.h"
#include "common/sqlite_integrity.h"
#include "integrity/drill.h"

namespace aura::agent {

// A write not committed for this long belongs to a process that died (no snapshot or upload
// runs for a day); younger ones may still be in flight and are left alone.
inline constexpr std::chrono::hours kAbandonedWriteAge{24};

// At start (the daemon's first use of a target, `replicate`): removes what writes of a killed
// run left open on `storage` (S3 multipart uploads are billed until aborted), a day old or more.
// Logs what it removed; a failure is logged and otherwise ignored (prune tries again).
void RemoveWritesOfKilledRuns(backup::Storage& storage);

// How a job takes a snapshot when continuous shipping to the target runs in this process: the
// replicator takes it at the txid it shipped (ReplicationUnit::SnapshotHere). kUnavailable from
// it means "not running": the job then takes the snapshot itself.
using SnapshotTaker = std::function<Result<backup::SnapshotResult>(const backup::SnapshotOptions&)>;

struct TargetHandle {
  std::string name;
  std::shared_ptr<backup::Repository> repo;
  SnapshotTaker take;  // empty: no shipping here
};

// A job's snapshot of `db` to `repo`: through `take` when it is set and shipping runs; else
// directly, and for a continuous database, standing at the txid shipping ended at when the
// database has not changed since (its checksum equals that txid's), so WAL chains can start from
// it; a database that moved on gets a plain snapshot, which `restore --latest` prefers when it is
// newer than the WAL.
Result<backup::SnapshotResult> TakeJobSnapshot(const DatabaseConfig& db, backup::Repository& repo,
                                               backup::SnapshotOptions o,
                                               const SnapshotTaker& take = {});

// Opens (creating if empty) the repositories of `names`, in order; `clock` dates a new one.
Result<std::vector<TargetHandle>> OpenTargets(const Config& config,
                                              const std::vector<std::string>& names,
                                              const Clock& clock = SystemClock::Instance());

// The targets a policy writes to: its own list, else the database's.
std::vector<std::string> PolicyTargets(const DatabaseConfig& db, const PolicyConfig& policy);
const PolicyConfig* FindPolicy(const DatabaseConfig& db, const std::string& name);

struct PolicySnapshotResult {
  backup::SnapshotRef ref;
  backup::Manifest manifest;
  bool incremental = false;
  std::string why_full;  // when full: "first of its chain", "chain reached full_every", ...
  // Not OK when the chain's state could not be recorded (logged; the next snapshot is full).
  Status state_write;
};

// The snapshot of `policy` on its chain to `target`, named and dated by `clock`.
Result<PolicySnapshotResult> RunPolicySnapshot(const DatabaseConfig& db, const std::string& policy,
                                               int full_every, const TargetHandle& target,
                                               StateStore& state, int threads,
                                               const Clock& clock = SystemClock::Instance(),
                                               bool source_check_failed = false);

// A full snapshot outside any chain, labelled `label` (an admin's "backup now" for a database
// with no policy enabled).
Result<PolicySnapshotResult> RunManualSnapshot(const DatabaseConfig& db, const std::string& label,
                                               const TargetHandle& target, int threads,
                                               const Clock& clock = SystemClock::Instance(),
                                               bool source_check_failed = false);

// One snapshot job's JSON: the snapshot's summary (backup::SummaryJson) plus why_full,
// pages_changed and duration_ms.
nlohmann::json PolicySnapshotJson(const PolicySnapshotResult& r);

backup::RetentionPolicy RetentionFor(const DatabaseConfig& db);

struct PruneReport {
  backup::RetentionPlan plan;
  std::vector<std::string> orphans;  // data objects without a manifest, older than a day
  // Data objects without a manifest that a restore still needs, never deleted: (object, why).
  std::vector<std::pair<std::string, std::string>> kept_without_manifest;
  uint64_t deleted = 0;
  int stale_temp_files = 0;  // writes a crash left (temp files, open uploads), a day old
};

// `source_failing`: the database's last integrity check failed, so the newest snapshot taken
// before that (without the "source failed its check" mark) is kept whatever the rules say.
Result<PruneReport> RunPrune(backup::Repository& repo, const DatabaseConfig& db,
                             const std::set<std::string>& verified, TimePoint now, bool dry_run,
                             bool source_failing = false);

// Whether the database's last integrity check failed, by the state database.
bool SourceCheckFailing(StateStore& state, const std::string& database, TimePoint now);

// One restore drill of `db` on `repo` (integrity/drill.h) with the config's point and
// assertions, in `scratch_dir`.
integrity::DrillReport RunDrill(backup::Repository& repo, const DatabaseConfig& db,
                                const std::string& scratch_dir);

// One drill's JSON (status, --json): target, outcome, snapshot, point, restored, txid, bytes,
// checks, rto_seconds, rpo_seconds; reason and code unless it passed.
nlohmann::json DrillReportJson(const std::string& target, const integrity::DrillReport& r);

// The state database's record of a drill of `target`.
DrillRecord DrillRecordOf(const std::string& target, TimePoint finished,
                          const integrity::DrillReport& r);

// How long a scheduled check may read before it gives up as inconclusive (kUnavailable: retried).
inline constexpr std::chrono::minutes kCheckBudget{30};

// The live database's integrity check (integrity/live_check.h: "full" adds foreign_key_check).
// Problems found (empty: sound).
Result<std::vector<std::string>> RunCheck(const DatabaseConfig& db, IntegrityLevel level);

// One run of rolling verification of `db` in `target` (integrity/rolling_verify.h) at `now`:
// verifies this run's share, records each result in the state database, forgets deleted objects.
struct RollingVerifyReport {
  int items = 0;                      // snapshots and segments in the target
  int verified_now = 0;               // in this run
  std::vector<std::string> verified;  // what this run verified, in order
  int verified_in_cycle = 0;          // verified since the current cycle started
  TimePoint cycle_start{};
  std::vector<std::pair<std::string, std::string>> problems;  // (object, error), all known
};
// How often the daemon runs it: each run takes its share of the cycle.
inline constexpr std::chrono::hours kRollingVerifyInterval{1};
Result<RollingVerifyReport> RunRollingVerify(backup::Repository& repo, const DatabaseConfig& db,
                                             const std::string& target, StateStore& state,
                                             TimePoint now);
nlohmann::json RollingVerifyJson(const std::string& target, const RollingVerifyReport& r);

}  // namespace aura::agent
