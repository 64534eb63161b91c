// Retention: which snapshots and WAL segments to keep, grandfather-father-son.
//
// Snapshots: restic's --keep-* semantics. Going from the newest snapshot to the oldest, keep the
// newest snapshot of each of the last `last` snapshots, `hourly` hours, `daily` days, `weekly`
// ISO weeks and `monthly` months (calendar buckets in the policy's time zone) that have one; the
// kept set is the union. With `by_policy_label` each calendar rule applies to its own tier's
// snapshots only. On top of that, never delete:
//   - the newest snapshot that verified (or, when nothing is known to have verified, the newest);
//   - anything a kept snapshot needs (the base chain of an incremental snapshot);
//   - what point-in-time restore needs inside the PITR window: for each generation with
//     transactions inside the window, its newest snapshot at or before the window's start (or its
//     first snapshot) and every segment from there on;
//   - objects whose upload may still be in progress: data objects without a manifest younger
//     than a day.
// Everything else is listed with the reason it may go; `aura-agent prune --dry-run` prints it.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "common/clock.h"

namespace date {
class time_zone;
}

namespace aura::backup {

struct RetentionPolicy {
  int last = 0;
  int hourly = 0;
  int daily = 0;
  int weekly = 0;
  int monthly = 0;
  std::chrono::seconds pitr_window{0};    // keep WAL to restore any point this far back
  const date::time_zone* zone = nullptr;  // calendar buckets; nullptr: UTC
  // The daemon's tiers: the hourly rule looks only at snapshots labelled "hourly" (taken by the
  // hourly policy), the daily rule at "daily" ones, and so on, so that a tier's snapshots are
  // never pruned because another tier's (or a WAL generation's) is newer in the same bucket.
  // `last` still looks at all snapshots. false: restic's behaviour, every rule sees every
  // snapshot.
  bool by_policy_label = false;
};

struct SnapshotInfo {
  SnapshotRef ref;
  SnapshotSummary summary;
  std::string base;  // incremental: the snapshot id it builds on; empty for a full snapshot
  bool verified = false;
  // The newest snapshot taken before the source failed its integrity check (kept whatever the
  // rules say while the source is failing).
  bool last_good = false;
};

struct SegmentInfo {
  SegmentRef ref;
  int64_t last_commit_us = 0;
};

struct RetentionDecision {
  std::string name;  // snapshot id or segment object name
  bool keep = false;
  std::vector<std::string> reasons;  // why kept ("daily 2026-11-24", "newest verified", ...)
};

struct RetentionPlan {
  std::vector<RetentionDecision> snapshots;
  std::vector<RetentionDecision> segments;
  std::vector<std::string> delete_objects;  // object names, manifests before their data
};

// Decides for one database. `snapshots` and `segments` in any order.
RetentionPlan PlanRetention(const RetentionPolicy& policy, std::vector<SnapshotInfo> snapshots,
                            const std::vector<SegmentInfo>& segments, TimePoint now);

}  // namespace aura::backup
