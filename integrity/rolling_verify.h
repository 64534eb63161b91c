// Rolling verification: the daemon's verify, spread over a cycle (`verify = { every = "7d" }`).
//
// The repository of a database is a set of items: each snapshot (its manifest and every data
// object it names) and each WAL segment, at every level. A run (hourly) lists them and verifies:
//   - every item never verified before (new objects are checked soon after upload);
//   - its share of the items not yet verified in the current cycle: those left, divided by the
//     runs left before the cycle ends, so the last run of a cycle finishes it.
// Cycles are fixed windows of `every` counted from the Unix epoch, so no start needs storing;
// what each item was last verified at lives in the state database (the caller keeps it). An item
// verified in a cycle is not verified again in that cycle, so every item is checked exactly once
// per cycle (more often only if it was new). Items that disappeared (pruned) are forgotten.
//
// Per item, the same checks as `aura-agent verify` makes of one object: authentication,
// decoding, the SHA-256 and sizes the manifest recorded, a segment's structure and that its
// header matches its name. The cross-object checks (chains, gaps, bases) stay with the full
// verify, which reads every segment header anyway.
//
// Thread-safety: free functions; read-only on the repository.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "common/clock.h"

namespace aura::integrity {

// One item: a snapshot or a segment, named "snapshot <id>" or by the segment object's name.
struct VerifyItemRef {
  std::string name;
  std::optional<backup::SnapshotRef> snapshot;
  std::optional<backup::SegmentRef> segment;
};

// The items of `database` in `repo`, by name.
Result<std::vector<VerifyItemRef>> ListVerifyItems(backup::Repository& repo,
                                                   const std::string& database);

// What to verify in a run at `now`, in order: new items, then the oldest-verified due ones up to
// this run's share. `last_verified`: when each item was last verified (absent: never).
// `run_interval`: how often runs come (hourly in the daemon).
std::vector<std::string> PlanRollingRun(const std::vector<std::string>& items,
                                        const std::map<std::string, TimePoint>& last_verified,
                                        TimePoint now, std::chrono::seconds every,
                                        std::chrono::seconds run_interval);

// The start of the cycle `now` falls in.
TimePoint CycleStart(TimePoint now, std::chrono::seconds every);

// Verifies one item. kCorruption (or kNotFound) naming the object when it is damaged or missing;
// kKeyError/kUnavailable/... when it could not tell.
Status VerifyItem(backup::Repository& repo, const VerifyItemRef& item);

}  // namespace aura::integrity
