// StateStore: the agent's own state, in a small SQLite database (<state_dir>/agent.db, WAL mode).
//
// What it remembers, per database:
//   - jobs: for each scheduled job ("hourly", "daily", "check", ...) the occurrence it last
//     handled (catch-up after downtime without running anything twice), when it was first
//     scheduled (so a brand-new policy is not "late"), and its last run and result;
//   - chains: per (target, policy) the newest snapshot of its incremental chain, the chain's
//     length and the page state (page_state.h) the next incremental snapshot diffs against;
//   - verified snapshots: those a restore drill restored and checked (retention never deletes the
//     newest of them);
//   - object checks: when rolling verification last checked each snapshot and segment, and the
//     outcome (where it stopped in its cycle).
// Losing the file loses nothing in the backups: the next snapshot of each chain is full and the
// missed-job catch-up starts from "never run".
//
// Thread-safety: all methods may be called from any thread (one connection behind a mutex).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/page_state.h"
#include "common/clock.h"
#include "common/platform.h"
#include "common/sqlite.h"
#include "common/status.h"

namespace aura::agent {

struct JobRecord {
  std::optional<TimePoint> last_occurrence;  // the scheduled instant last handled
  TimePoint first_seen{};
  std::optional<TimePoint> last_run;  // when it last finished (ok or not)
  std::optional<TimePoint> last_ok;
  std::string last_result;  // "ok" or "error"
  std::string last_error;
  int64_t last_duration_ms = 0;
  uint64_t last_size = 0;
  std::string last_snapshot;
};

struct ChainRecord {
  std::string snapshot_id;  // the chain's newest snapshot
  int length = 0;           // snapshots in the chain, the full one included
  backup::PageState pages;
};

// One process at a time changes a state directory: an exclusive flock on <state_dir>/agent.lock
// (which records the holder's pid), held until the lock is destroyed. The daemon holds it for its
// life; `backup --policy` and `prune` for their run, so they cannot race the daemon's chains.
class StateDirLock {
 public:
  // kAlreadyExists (exit 9) naming the directory when another process holds it.
  static Result<StateDirLock> Acquire(const std::string& state_dir);
  StateDirLock(StateDirLock&& o) noexcept = default;
  StateDirLock& operator=(StateDirLock&&) = delete;
  ~StateDirLock() = default;

 private:
  explicit StateDirLock(platform::FileLock lock) : lock_(std::move(lock)) {}
  platform::FileLock lock_;
};

// One restore drill's result (`aura-agent drill --history`, status after a restart).
struct DrillRecord {
  std::string target;
  TimePoint finished{};
  std::string outcome;   // "pass", "fail", "inconclusive"
  std::string reason;    // empty on a pass
  std::string point;     // "latest" or "random"
  std::string restored;  // what was restored
  uint64_t txid = 0;
  int64_t rto_ms = 0;
  int64_t rpo_ms = -1;  // -1: not measured
};

// Rolling verification: when an item (integrity/rolling_verify.h) was last verified, and how.
struct ObjectCheck {
  TimePoint verified{};
  bool ok = true;
  std::string error;  // when not ok
};

class StateStore {
 public:
  // Opens or creates <state_dir>/agent.db (creating state_dir with mode 0700).
  static Result<std::unique_ptr<StateStore>> Open(const std::string& state_dir);

  // The job's record; creates it (first_seen = now) if new.
  Result<JobRecord> Job(const std::string& database, const std::string& job, TimePoint now);
  Status SetOccurrence(const std::string& database, const std::string& job, TimePoint occurrence);
  Status RecordRun(const std::string& database, const std::string& job, TimePoint finished,
                   const Status& result, int64_t duration_ms, uint64_t size = 0,
                   const std::string& snapshot = "");

  // The chain of (database, target, policy), if any and readable.
  Result<std::optional<ChainRecord>> Chain(const std::string& database, const std::string& target,
                                           const std::string& policy);
  Status PutChain(const std::string& database, const std::string& target, const std::string& policy,
                  const ChainRecord& chain);
  Status DropChain(const std::string& database, const std::string& target,
                   const std::string& policy);

  Status MarkVerified(const std::string& database, const std::string& target,
                      const std::string& snapshot, TimePoint when);
  Result<std::set<std::string>> Verified(const std::string& database, const std::string& target);

  Status RecordDrill(const std::string& database, const DrillRecord& drill);
  // The newest `limit` drills of `database`, newest first.
  Result<std::vector<DrillRecord>> Drills(const std::string& database, int limit);

  // Rolling verification (state_store_verify.cc): what was verified of (database, target).
  Result<std::map<std::string, ObjectCheck>> ObjectChecks(const std::string& database,
                                                          const std::string& target);
  Status RecordObjectCheck(const std::string& database, const std::string& target,
                           const std::string& item, const ObjectCheck& check);
  // Forgets the items of (database, target) not in `present` (deleted from the repository).
  Status ForgetObjectsExcept(const std::string& database, const std::string& target,
                             const std::set<std::string>& present);

  const std::string& path() const { return path_; }

 private:
  StateStore() = default;
  std::mutex mu_;
  SqliteDb db_;
  std::string path_;
};

}  // namespace aura::agent
