// Point-in-time restore: the newest snapshot at or before the target, plus the shortest chain of
// WAL segments up to the target transaction, each checked against its checksums.
//
// Targets: the latest state (the end of the newest generation's WAL, or a snapshot taken after
// its last transaction, whichever is newer: RestorePlan::why says which); a txid; or a time (the
// last transaction whose observed commit time is at or before it). txids increase across
// generations, so a txid names one point; a time picks the newest generation that had started by
// then.
//
// The base: any snapshot of the generation standing at a txid at or before the target (every
// snapshot of a continuous database records its position); the cheapest in bytes to fetch.
//
// The chain: from the base snapshot's txid p, repeatedly take the segment of the same
// generation that starts at p+1 with the highest compaction level whose last txid does not pass
// the target (compacted segments only restore to their end), finishing with per-transaction
// segments applied up to the target. A missing segment is an error naming the txid.
//
// Verification: the base snapshot's SHA-256 (as every restore); each segment's "checksum
// before" against the database checksum at that point; each transaction's and segment's
// "checksum after"; then PRAGMA integrity_check; only then the rename into place.
//
// Thread-safety: independent calls may run concurrently on different targets.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "backup/restore.h"
#include "common/clock.h"

namespace aura::backup {

struct PointInTime {
  enum class Kind { kLatest, kTxid, kTime };
  Kind kind = Kind::kLatest;
  uint64_t txid = 0;
  TimePoint time{};
};

struct RestorePlan {
  SnapshotRef base;
  uint64_t generation = 0;  // 0: a plain snapshot with no replication
  uint64_t base_txid = 0;
  uint64_t target_txid = 0;
  std::vector<SegmentRef> chain;
  std::string why;                       // what was chosen and why (for --latest)
  std::vector<std::string> passed_over;  // newer-looking objects not used, and why
  uint64_t bytes = 0;                    // stored bytes of the base (with its chain) and segments
};

// Chooses the target, then the cheapest path to it: of all snapshots of the generation at or
// before the target (generation or policy, full or incremental), the one whose bytes plus its
// WAL chain's are fewest, snapshots named in `exclude` (found damaged) aside. kNotFound if
// nothing in the repository reaches the point.
Result<RestorePlan> PlanRestore(Repository& repo, const std::string& database,
                                const PointInTime& point,
                                const std::set<std::string>& exclude = {});

// The segments among `segs` that carry generation `gen` from txid `from` to `target`: at each
// step the one starting right after the txids covered so far, or a per-transaction one covering
// that txid (entered mid-way: a snapshot taken between two segment boundaries), reaching
// furthest, higher levels first. kNotFound naming the first txid no segment carries.
Result<std::vector<SegmentRef>> SegmentChain(const std::vector<SegmentRef>& segs, uint64_t gen,
                                             uint64_t from, uint64_t target);

// What `plan` chose, for the operator (RestoreResult::why).
std::string DescribeChoice(const RestorePlan& plan);

// Restores exactly `plan` (from PlanRestore), with no other path tried on damage.
Result<RestoreResult> RestoreToPlan(Repository& repo, const RestorePlan& plan,
                                    const std::string& target, const RestoreOptions& options);

Result<RestoreResult> RestoreToPoint(Repository& repo, const std::string& database,
                                     const PointInTime& point, const std::string& target,
                                     const RestoreOptions& options);

}  // namespace aura::backup
