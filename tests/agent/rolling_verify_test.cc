// Rolling verification over simulated days: a real repository (snapshots and compacted WAL from a
// real replicator), the real state database, hourly runs on fake time.
#include "integrity/rolling_verify.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "agent/jobs.h"
#include "agent/state_store.h"
#include "backup/snapshot.h"
#include "tests/support/replicated_repo.h"

namespace aura::agent {
namespace {

using std::chrono::hours;

class RollingVerify : public aura::testing::ReplicatedRepoTest {
 protected:
  void SetUp() override {
    ReplicatedRepoTest::SetUp();
    auto state = StateStore::Open(dir_ / "state");
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(state).value();
    db_.name = "live";
    db_.path = dir_ / "live.db";
    db_.verify.every_s = 86400;
  }

  RollingVerifyReport Run(TimePoint now) {
    auto r = RunRollingVerify(*repo_, db_, "t", *state_, now);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RollingVerifyReport{};
  }

  std::set<std::string> Items() {
    std::set<std::string> out;
    auto items = integrity::ListVerifyItems(*repo_, "live");
    EXPECT_TRUE(items.ok()) << items.status().ToString();
    for (const auto& i : items.ok() ? *items : std::vector<integrity::VerifyItemRef>{}) {
      out.insert(i.name);
    }
    return out;
  }

  void Snapshot() {
    backup::SnapshotOptions o;
    o.database_name = "live";
    o.clock = &clock_;
    clock_.Advance(std::chrono::seconds(1));
    ASSERT_TRUE(backup::TakeSnapshot(dir_ / "live.db", *repo_, o).ok());
  }

  DatabaseConfig db_;
  std::unique_ptr<StateStore> state_;
};

TEST_F(RollingVerify, CoversEveryObjectExactlyOncePerCycleOverSimulatedDays) {
  Ship(20, true);
  const TimePoint start = integrity::CycleStart(SystemClock::Instance().Now(), hours(24));
  std::map<std::pair<int, std::string>, int> verified;  // (cycle, item) -> times verified
  std::set<std::string> seen;
  const size_t at_start = Items().size();
  for (int hour = 0; hour < 72; ++hour) {
    if (hour % 7 == 3) Snapshot();  // new objects keep arriving
    if (hour == 30) {               // and some go (a prune)
      auto snaps = repo_->ListSnapshots("live");
      ASSERT_TRUE(snaps.ok() && !snaps->empty());
      ASSERT_TRUE(repo_->storage().Delete(snaps->front().ManifestName()).ok());
    }
    const std::set<std::string> items = Items();
    RollingVerifyReport r = Run(start + hours(hour) + std::chrono::minutes(45));
    EXPECT_TRUE(r.problems.empty());
    const std::set<std::string> now_verified(r.verified.begin(), r.verified.end());
    for (const std::string& item : items) {
      if (seen.insert(item).second) {
        EXPECT_TRUE(now_verified.count(item)) << item << " is new at hour " << hour;
      }
    }
    for (const std::string& item : r.verified) ++verified[{hour / 24, item}];
    if (hour % 24 == 23) {  // the cycle's last run: everything there was verified in the cycle
      for (const std::string& item : items) {
        EXPECT_EQ(verified[std::pair(hour / 24, item)], 1) << item << " in cycle " << hour / 24;
      }
      EXPECT_EQ(r.verified_in_cycle, static_cast<int>(items.size()));
    }
  }
  for (const auto& [key, times] : verified) {
    EXPECT_EQ(times, 1) << key.second << " verified " << times << " times in cycle " << key.first;
  }
  EXPECT_GE(verified.size(), 3 * at_start) << "three cycles over every object";
}

TEST_F(RollingVerify, ADamagedObjectIsAProblemNamingItUntilItIsGone) {
  Ship(10, false);
  const auto segs = Segments(0);
  ASSERT_GT(segs.size(), 3u);
  const backup::SegmentRef victim = segs[segs.size() / 2];
  FlipByte(victim.Name());
  RollingVerifyReport r = Run(SystemClock::Instance().Now());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].first, victim.Name());
  EXPECT_NE(r.problems[0].second.find(victim.Name()), std::string::npos) << r.problems[0].second;
  // Reported on every run until it is gone from the target.
  r = Run(SystemClock::Instance().Now() + hours(1));
  EXPECT_EQ(r.problems.size(), 1u);
  ASSERT_TRUE(repo_->storage().Delete(victim.Name()).ok());
  r = Run(SystemClock::Instance().Now() + hours(2));
  EXPECT_TRUE(r.problems.empty());
}

// The planner alone: a share per run, the last run of a cycle takes what is left.
TEST(RollingVerifyPlan, EachRunTakesItsShareAndTheLastRunTheRest) {
  std::vector<std::string> items;
  std::map<std::string, TimePoint> last;
  const TimePoint start =
      integrity::CycleStart(FromUnixMicros(int64_t{86400} * 1000000 * 400), hours(24 * 7));
  for (int i = 0; i < 1000; ++i) {
    items.push_back("seg-" + std::to_string(i));
    last[items.back()] = start - hours(1);  // all verified in the previous cycle
  }
  auto first = integrity::PlanRollingRun(items, last, start, hours(24 * 7), hours(1));
  EXPECT_EQ(first.size(), 6u) << "1000 objects over 168 runs";
  auto last_run =
      integrity::PlanRollingRun(items, last, start + hours(167), hours(24 * 7), hours(1));
  EXPECT_EQ(last_run.size(), 1000u) << "nothing verified yet: the last run takes all";
}

}  // namespace
}  // namespace aura::agent
