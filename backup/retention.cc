#include "backup/retention.h"

#include <date/iso_week.h>
#include <date/tz.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "backup/wal_segment.h"

namespace aura::backup {

namespace {

using namespace std::chrono;

// Calendar bucket of `t` for a rule, in the policy's time zone.
std::string Bucket(const std::string& rule, TimePoint t, const date::time_zone* zone) {
  auto sys = floor<seconds>(sys_time<TimePoint::duration>(t.time_since_epoch()));
  date::local_seconds local =
      zone != nullptr ? zone->to_local(sys) : date::local_seconds(sys.time_since_epoch());
  auto day = floor<date::days>(local);
  date::year_month_day ymd{day};
  char buf[96];
  if (rule == "hourly") {
    auto h = floor<hours>(local - day).count();
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld", int(ymd.year()), unsigned(ymd.month()),
                  unsigned(ymd.day()), static_cast<long long>(h));
  } else if (rule == "daily") {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", int(ymd.year()), unsigned(ymd.month()),
                  unsigned(ymd.day()));
  } else if (rule == "weekly") {
    iso_week::year_weeknum_weekday w{date::sys_days(day.time_since_epoch())};
    std::snprintf(buf, sizeof buf, "%04d-W%02u", int(w.year()), unsigned(w.weeknum()));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u", int(ymd.year()), unsigned(ymd.month()));
  }
  return buf;
}

void KeepBuckets(const std::string& rule, int count, const std::vector<SnapshotInfo>& newest_first,
                 const RetentionPolicy& p, std::map<std::string, std::vector<std::string>>& keep) {
  const date::time_zone* zone = p.zone;
  std::set<std::string> seen;
  for (const SnapshotInfo& s : newest_first) {
    if (static_cast<int>(seen.size()) >= count) break;
    if (p.by_policy_label && rule != "last" && s.summary.label != rule) continue;
    std::string key = rule == "last" ? s.ref.id : Bucket(rule, s.summary.created, zone);
    if (seen.insert(key).second) keep[s.ref.id].push_back(rule + " " + key);
  }
}

// Keeps, per generation still inside the window, the base snapshot and the segments after it.
void KeepPitr(const RetentionPolicy& p, const std::vector<SnapshotInfo>& newest_first,
              const std::vector<SegmentInfo>& segments, TimePoint now,
              std::map<std::string, std::vector<std::string>>& keep_snap,
              std::set<std::string>& keep_seg) {
  if (p.pitr_window.count() <= 0) return;
  const int64_t cutoff = ToUnixMicros(now - p.pitr_window);
  // A generation is active if it committed inside the window, or started inside it (its first
  // segments may not be uploaded yet, but its snapshot is the base every one of them needs).
  std::set<uint64_t> active;
  for (const SegmentInfo& s : segments) {
    if (s.last_commit_us >= cutoff) active.insert(s.ref.generation);
  }
  for (const SnapshotInfo& s : newest_first) {
    if (s.summary.generation != 0 && ToUnixMicros(s.summary.created) >= cutoff) {
      active.insert(s.summary.generation);
    }
  }
  for (uint64_t g : active) {
    const SnapshotInfo* base = nullptr;
    for (const SnapshotInfo& s : newest_first) {
      if (s.summary.generation != g) continue;
      if (ToUnixMicros(s.summary.created) <= cutoff) {
        base = &s;  // the newest at or before the window's start
        break;
      }
      base = &s;  // otherwise the oldest of the generation
    }
    if (base == nullptr) continue;
    keep_snap[base->ref.id].push_back("point-in-time base of generation " + GenerationName(g));
    for (const SegmentInfo& s : segments) {
      if (s.ref.generation == g && s.ref.last_txid > base->summary.txid)
        keep_seg.insert(s.ref.Name());
    }
  }
}

}  // namespace

RetentionPlan PlanRetention(const RetentionPolicy& p, std::vector<SnapshotInfo> snaps,
                            const std::vector<SegmentInfo>& segments, TimePoint now) {
  std::sort(snaps.begin(), snaps.end(), [](const SnapshotInfo& a, const SnapshotInfo& b) {
    return a.summary.created != b.summary.created ? a.summary.created > b.summary.created
                                                  : a.ref.id > b.ref.id;
  });
  std::map<std::string, std::vector<std::string>> keep;
  KeepBuckets("last", p.last, snaps, p, keep);
  KeepBuckets("hourly", p.hourly, snaps, p, keep);
  KeepBuckets("daily", p.daily, snaps, p, keep);
  KeepBuckets("weekly", p.weekly, snaps, p, keep);
  KeepBuckets("monthly", p.monthly, snaps, p, keep);
  for (const SnapshotInfo& s : snaps) {
    if (s.last_good) {
      keep[s.ref.id].push_back("the last snapshot before the source failed its integrity check");
    }
  }
  auto verified =
      std::find_if(snaps.begin(), snaps.end(), [](const auto& s) { return s.verified; });
  if (verified != snaps.end()) {
    keep[verified->ref.id].push_back("newest verified snapshot");
  } else if (!snaps.empty()) {
    keep[snaps.front().ref.id].push_back("newest snapshot (none known verified)");
  }
  std::set<std::string> keep_seg;
  KeepPitr(p, snaps, segments, now, keep, keep_seg);
  // Base chains of kept incremental snapshots.
  std::map<std::string, const SnapshotInfo*> by_id;
  for (const SnapshotInfo& s : snaps) by_id[s.ref.id] = &s;
  for (bool changed = true; changed;) {
    changed = false;
    for (const SnapshotInfo& s : snaps) {
      if (!keep.count(s.ref.id) || s.base.empty() || keep.count(s.base)) continue;
      keep[s.base].push_back("base of " + s.ref.id);
      changed = true;
    }
  }
  RetentionPlan plan;
  for (const SnapshotInfo& s : snaps) {
    auto it = keep.find(s.ref.id);
    bool k = it != keep.end();
    plan.snapshots.push_back(
        {s.ref.id, k, k ? it->second : std::vector<std::string>{"outside every keep rule"}});
    if (!k) {
      plan.delete_objects.push_back(s.ref.ManifestName());  // first: it disappears from listings
      plan.delete_objects.push_back(s.ref.DataName());
    }
  }
  for (const SegmentInfo& s : segments) {
    bool k = keep_seg.count(s.ref.Name()) > 0;
    plan.segments.push_back(
        {s.ref.Name(),
         k,
         {k ? "inside the point-in-time window" : "outside the point-in-time window"}});
    if (!k) plan.delete_objects.push_back(s.ref.Name());
  }
  return plan;
}

}  // namespace aura::backup
