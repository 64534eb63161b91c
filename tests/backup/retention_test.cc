// Grandfather-father-son retention on generated histories, checked against hand-computed sets.
#include "backup/retention.h"

#include <gtest/gtest.h>

#include <set>

namespace aura::backup {
namespace {

using namespace std::chrono;

TimePoint At(const std::string& s) { return *ParseRfc3339(s); }

SnapshotInfo Snap(const std::string& created, uint64_t gen = 0, uint64_t txid = 0) {
  SnapshotInfo s;
  s.summary.created = At(created);
  s.ref = SnapshotRef{"db", FormatCompactUtc(s.summary.created) + "-00000000", 0};
  s.summary.generation = gen;
  s.summary.txid = txid;
  return s;
}

std::set<std::string> Kept(const RetentionPlan& plan) {
  std::set<std::string> out;
  for (const auto& d : plan.snapshots) {
    if (d.keep) out.insert(d.name.substr(0, 15));  // "20261120T180000"
  }
  return out;
}

TEST(Retention, KeepsExactlyTheGrandfatherFatherSonSet) {
  // A snapshot every six hours from 2026-11-01 to 2026-11-20 (a Friday), UTC.
  std::vector<SnapshotInfo> snaps;
  for (int day = 1; day <= 20; ++day) {
    for (int h = 0; h < 24; h += 6) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "2026-11-%02dT%02d:00:00Z", day, h);
      snaps.push_back(Snap(buf));
    }
  }
  RetentionPolicy p;
  p.last = 1;
  p.hourly = 2;
  p.daily = 3;
  p.weekly = 2;
  p.monthly = 2;
  RetentionPlan plan = PlanRetention(p, snaps, {}, At("2026-11-21T00:00:00Z"));
  EXPECT_EQ(Kept(plan), (std::set<std::string>{
                            "20261120T180000",  // last 1, hourly, daily, weekly (W47), monthly
                            "20261120T120000",  // hourly 2
                            "20261119T180000",  // daily
                            "20261118T180000",  // daily
                            "20261115T180000",  // weekly: newest of ISO week 46
                        }));
  EXPECT_EQ(plan.delete_objects.size(), 2 * (snaps.size() - 5));
  // Manifests go before their data objects, so a half-done prune never lists a broken snapshot.
  EXPECT_NE(plan.delete_objects[0].find(".manifest"), std::string::npos);
  EXPECT_NE(plan.delete_objects[1].find(".data"), std::string::npos);
}

TEST(Retention, TheNewestVerifiedSnapshotSurvivesEverything) {
  std::vector<SnapshotInfo> snaps = {Snap("2026-11-01T00:00:00Z"), Snap("2026-11-02T00:00:00Z"),
                                     Snap("2026-11-03T00:00:00Z")};
  snaps[1].verified = true;
  RetentionPlan plan = PlanRetention({}, snaps, {}, At("2026-11-04T00:00:00Z"));
  EXPECT_EQ(Kept(plan), std::set<std::string>{"20261102T000000"});
  snaps[1].verified = false;
  plan = PlanRetention({}, snaps, {}, At("2026-11-04T00:00:00Z"));
  EXPECT_EQ(Kept(plan), std::set<std::string>{"20261103T000000"}) << "nothing verified: newest";
}

TEST(Retention, PointInTimeWindowKeepsItsBaseAndTheSegmentsAfterIt) {
  const uint64_t gen = 77;
  std::vector<SnapshotInfo> snaps = {Snap("2026-11-20T00:00:00Z", gen, 100),
                                     Snap("2026-11-20T10:00:00Z", gen, 500),
                                     Snap("2026-11-20T20:00:00Z", gen, 900)};
  std::vector<SegmentInfo> segs;
  for (int i = 0; i < 24; ++i) {  // one segment of 40 transactions per hour on 2026-11-20
    SegmentInfo s;
    s.ref = SegmentRef{"db", gen, 0, 100 + 40u * i + 1, 100 + 40u * (i + 1), 0};
    s.last_commit_us = ToUnixMicros(At("2026-11-20T00:59:00Z") + hours(i));
    segs.push_back(s);
  }
  RetentionPolicy p;
  p.pitr_window = hours(6);  // back to 18:00
  RetentionPlan plan = PlanRetention(p, snaps, segs, At("2026-11-21T00:00:00Z"));
  // Base: the newest snapshot at or before 18:00 (10:00, txid 500), plus the newest (verified
  // rule).
  EXPECT_EQ(Kept(plan), (std::set<std::string>{"20261120T100000", "20261120T200000"}));
  int kept = 0;
  for (const auto& d : plan.segments) {
    if (!d.keep) continue;
    ++kept;
    EXPECT_GT(d.name.substr(d.name.rfind('-') + 1, 16), "00000000000001f4") << d.name;  // > 500
  }
  EXPECT_EQ(kept, 24 - 10) << "segments after txid 500";
}

// WAL shipping starts a fresh generation every day: what a 7-day window keeps is bounded.
TEST(Retention, DailyGenerationsBoundTheWalKeptToTheWindow) {
  std::vector<SnapshotInfo> snaps;
  std::vector<SegmentInfo> segs;
  const TimePoint day0 = At("2026-11-10T00:00:00Z");
  for (int d = 0; d < 10; ++d) {  // generations of Nov 10..19, each with 24 hourly segments
    const uint64_t gen = 1000 + d, first = 1000u * d + 1;
    SnapshotInfo snap = Snap(FormatRfc3339(day0 + hours(24 * d)), gen, first);
    snaps.push_back(snap);
    for (int h = 0; h < 24; ++h) {
      SegmentInfo seg;
      seg.ref = SegmentRef{"db", gen, 0, first + 10u * h + 1, first + 10u * (h + 1), 0};
      seg.last_commit_us = ToUnixMicros(day0 + hours(24 * d + h) + minutes(59));
      segs.push_back(seg);
    }
  }
  RetentionPolicy p;
  p.pitr_window = hours(24 * 7);  // back to Nov 13 00:00
  RetentionPlan plan = PlanRetention(p, snaps, segs, At("2026-11-20T00:00:00Z"));
  EXPECT_EQ(Kept(plan),
            (std::set<std::string>{"20261113T000000", "20261114T000000", "20261115T000000",
                                   "20261116T000000", "20261117T000000", "20261118T000000",
                                   "20261119T000000"}));
  size_t kept = 0;
  for (const auto& d : plan.segments) kept += d.keep ? 1 : 0;
  EXPECT_EQ(kept, 7u * 24) << "the three generations that ended before the window go entirely";
}

TEST(Retention, IncrementalSnapshotsKeepTheirBaseChain) {
  std::vector<SnapshotInfo> snaps = {Snap("2026-11-01T00:00:00Z"), Snap("2026-11-02T00:00:00Z"),
                                     Snap("2026-11-03T00:00:00Z")};
  snaps[1].base = snaps[0].ref.id;
  snaps[2].base = snaps[1].ref.id;
  RetentionPolicy p;
  p.last = 1;
  RetentionPlan plan = PlanRetention(p, snaps, {}, At("2026-11-04T00:00:00Z"));
  EXPECT_EQ(Kept(plan).size(), 3u) << "the kept increment needs its whole chain";
}

TEST(Retention, TiersKeepTheirOwnSnapshotsWhenGroupedByPolicy) {
  // Hourly snapshots at :15 and one daily at 02:30, plus a WAL generation snapshot at 02:31.
  std::vector<SnapshotInfo> snaps;
  for (int h = 0; h < 6; ++h) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "2026-11-20T%02d:15:00Z", h);
    snaps.push_back(Snap(buf));
    snaps.back().summary.label = "hourly";
  }
  snaps.push_back(Snap("2026-11-20T02:30:00Z"));
  snaps.back().summary.label = "daily";
  snaps.push_back(Snap("2026-11-20T02:31:00Z", 9, 40));
  snaps.back().summary.label = "generation start";
  RetentionPolicy p;
  p.hourly = 2;
  p.daily = 1;
  p.by_policy_label = true;
  RetentionPlan plan = PlanRetention(p, snaps, {}, At("2026-11-20T06:00:00Z"));
  EXPECT_EQ(Kept(plan),
            (std::set<std::string>{"20261120T051500", "20261120T041500", "20261120T023000"}));
  // restic's way: the daily rule keeps the newest of the day, an hourly one; the daily goes.
  p.by_policy_label = false;
  plan = PlanRetention(p, snaps, {}, At("2026-11-20T06:00:00Z"));
  EXPECT_EQ(Kept(plan), (std::set<std::string>{"20261120T051500", "20261120T041500"}));
}

}  // namespace
}  // namespace aura::backup
