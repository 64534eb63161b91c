// The daemon on a FakeClock: a simulated week of hourly, daily and weekly policies, daily
// integrity checks, a weekly restore drill and hourly prunes, in seconds of real time. The daemon
// runs in this process (RunDaemon with the fake clock) with its real status socket, a real local
// target and a real database the test writes to every simulated hour.
#include <gtest/gtest.h>

#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <thread>

#include "agent/daemon/daemon.h"
#include "backup/repository.h"
#include "backup/restore.h"
#include "backup/storage/local_storage.h"
#include "common/file_io.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/support/unix_http.h"
#include "tests/tools/aura_dataset.h"

namespace aura {
namespace {

using aura::testing::TempDir;
using aura::testing::UnixHttp;
using nlohmann::json;
using namespace std::chrono_literals;

TimePoint At(const std::string& rfc3339) { return *ParseRfc3339(rfc3339); }

class DaemonWeek : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testtools::GenerateAuraDb({dir_ / "live.db", 1u << 20, 3, wal_}).ok());
    auto db = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READWRITE, 5000);
    ASSERT_TRUE(db.ok());
    app_ = std::make_unique<SqliteDb>(std::move(db).value());
    ASSERT_TRUE(testtools::PrepareWorkload(*app_).ok());
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", Config()).ok());
  }

  void TearDown() override {
    if (daemon_.joinable()) Stop();
  }

  std::string Config() {
    return "[agent]\nstate_dir = \"" + std::string(dir_ / "state") + "\"\nstatus_socket = \"" +
           Socket() +
           "\"\njitter = \"0s\"\nprune_interval = \"1h\"\nlog_file = \"-\"\nlog_level = \"warn\"\n"
           // Longer than the test's own timeout: a stuck stop must fail the test, not _Exit(0).
           "shutdown_timeout = \"3600s\"\n\n"
           "[[target]]\nname = \"local\"\nurl = \"" +
           std::string(dir_ / "repo") +
           "\"\nencryption = \"none\"\n\n"
           "[[database]]\nname = \"aura\"\npath = \"" +
           std::string(dir_ / "live.db") + "\"\ntargets = [\"local\"]\nbusy_timeout_ms = 50\n" +
           policies_;
  }

  std::string policies_ =
      "hourly = { keep = 24, minute = 15, full_every = 5, timezone = \"UTC\" }\n"
      "daily = { keep = 7, at = \"02:30\", timezone = \"UTC\" }\n"
      "weekly = { keep = 4, day = \"sun\", at = \"03:00\", timezone = \"UTC\" }\n"
      "check = { at = \"04:00\", level = \"full\", timezone = \"UTC\" }\n"
      "drill = { day = \"sat\", at = \"05:00\", timezone = \"UTC\" }\n";

  std::string Socket() { return dir_ / "agent.sock"; }

  json Status() {
    auto r = UnixHttp(Socket(), "GET", "/v1/status");
    return r.status == 200 ? json::parse(r.body) : json();
  }

  void Start() {
    daemon_ = std::thread([this] { exit_code_ = agent::RunDaemon(dir_ / "agent.toml", clock_); });
    for (int i = 0; i < 2000 && Status().is_null(); ++i) std::this_thread::sleep_for(5ms);
    ASSERT_FALSE(Status().is_null()) << "the daemon did not answer on " << Socket();
  }

  void Stop() {
    ::raise(SIGTERM);  // the daemon's signal_set takes it, as in the real process
    daemon_.join();
  }

  // Waits until the daemon has taken every job due at the fake now and finished them all.
  void WaitIdle() {
    const std::string now = FormatRfc3339(clock_.Now(), 3);
    for (int i = 0; i < 60000; ++i) {
      json st = Status();
      if (!st.is_null()) {
        const json& d = st["databases"][0];
        bool due = false;
        for (const auto& [job, next] : d["next_runs"].items())
          due = due || next.get<std::string>() <= now;
        if (!due && d["jobs_queued_or_running"].empty()) return;
      }
      std::this_thread::sleep_for(1ms);
    }
    FAIL() << "the daemon did not go idle at " << now << ": " << Status().dump(2);
  }

  // Advances the fake clock in 15-minute steps to `until`, letting the daemon finish each step.
  void RunUntil(const std::string& until) {
    while (clock_.Now() < At(until)) {
      clock_.Advance(15min);
      WaitIdle();
      if (HasFatalFailure()) return;
    }
  }

  // aura_jobs_total{database="aura",job=JOB,result=RESULT} from /metrics (0 when absent).
  double JobsTotal(const std::string& job, const std::string& result) {
    auto r = UnixHttp(Socket(), "GET", "/metrics");
    std::regex line("aura_jobs_total\\{database=\"aura\",job=\"" + job + "\",result=\"" + result +
                    "\"\\} ([0-9.e+]+)");
    std::smatch m;
    return std::regex_search(r.body, m, line) ? std::stod(m[1]) : 0;
  }

  bool wal_ = true;
  TempDir dir_;
  FakeClock clock_{At("2026-11-30T00:30:00Z")};  // a Monday
  std::unique_ptr<SqliteDb> app_;
  std::thread daemon_;
  int exit_code_ = -1;
};

TEST_F(DaemonWeek, AWeekOfPoliciesChecksDrillsAndPrunesRunsOnTheFakeClock) {
  Start();
  uint64_t step = 0;
  // 7 days in 15-minute steps; the application commits once every simulated hour.
  for (int quarter = 1; quarter <= 7 * 24 * 4; ++quarter) {
    clock_.Advance(15min);
    if (quarter % 4 == 2) {  // at hh:00
      ASSERT_TRUE(testtools::ApplyWorkloadStep(*app_, 7, ++step).ok());
    }
    WaitIdle();
    if (HasFatalFailure()) return;
  }
  ASSERT_EQ(clock_.Now(), At("2026-12-07T00:30:00Z"));

  // Every run happened, and none failed.
  EXPECT_EQ(JobsTotal("hourly", "ok"), 168);  // 01:15 on Monday to 00:15 a week later
  EXPECT_EQ(JobsTotal("daily", "ok"), 7);
  EXPECT_EQ(JobsTotal("weekly", "ok"), 1);
  EXPECT_EQ(JobsTotal("check", "ok"), 7);
  EXPECT_EQ(JobsTotal("drill", "ok"), 1);
  EXPECT_GE(JobsTotal("prune", "ok"), 7 * 24 - 1) << "prune_interval = 1h";
  // The default cadence: a quick_check and a share of the rolling verification every hour.
  EXPECT_NEAR(JobsTotal("quick_check", "ok"), 168, 1);
  EXPECT_NEAR(JobsTotal("verify", "ok"), 168, 1);
  for (const char* job :
       {"hourly", "daily", "weekly", "check", "quick_check", "drill", "prune", "verify"}) {
    EXPECT_EQ(JobsTotal(job, "error"), 0) << job;
  }

  // The status tells the schedule in fake time.
  json d = Status()["databases"][0];
  EXPECT_TRUE(d["healthy"].get<bool>()) << d.dump(2);
  EXPECT_EQ(d["next_runs"]["hourly"], "2026-12-07T01:15:00.000Z");
  EXPECT_EQ(d["next_runs"]["daily"], "2026-12-07T02:30:00.000Z");
  EXPECT_EQ(d["next_runs"]["weekly"], "2026-12-13T03:00:00.000Z");
  EXPECT_EQ(d["next_runs"]["check"], "2026-12-07T04:00:00.000Z");
  EXPECT_EQ(d["next_runs"]["drill"], "2026-12-12T05:00:00.000Z");
  EXPECT_EQ(d["last_drill"]["finished"], "2026-12-05T05:00:00.000Z");
  const json& verify = d["last_verify"]["targets"][0];
  EXPECT_GT(verify["verified_in_cycle"].get<int>(), 0) << d["last_verify"].dump(2);
  EXPECT_TRUE(verify["problems"].empty());
  Stop();
  EXPECT_EQ(exit_code_, 0);

  // The repository holds what the keep rules say, stamped with the fake times they ran at:
  // the newest 24 hourly, 7 daily, 1 weekly, plus the drill's verified snapshot and the bases
  // those need, and nothing else.
  auto repo = backup::Repository::Open(std::make_shared<backup::LocalStorage>(dir_ / "repo"),
                                       {backup::KeySource::Kind::kNone});
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  auto refs = (*repo)->ListSnapshots("aura");
  ASSERT_TRUE(refs.ok());
  std::map<std::string, backup::SnapshotSummary> by_id;
  std::map<std::string, std::set<std::string>> created_by_label;
  for (const auto& ref : *refs) {
    auto s = (*repo)->ReadSummary(ref);
    ASSERT_TRUE(s.ok());
    by_id[ref.id] = *s;
    created_by_label[s->label].insert(FormatRfc3339(s->created, 0));
  }
  std::set<std::string> daily, hourly;
  for (int day = 0; day < 7; ++day) {
    daily.insert(FormatRfc3339(At("2026-11-30T02:30:00Z") + 24h * day, 0));
  }
  for (int h = 0; h < 24; ++h) hourly.insert(FormatRfc3339(At("2026-12-06T01:15:00Z") + 1h * h, 0));
  EXPECT_EQ(created_by_label["daily"], daily);
  EXPECT_EQ(created_by_label["weekly"], std::set<std::string>{"2026-12-06T03:00:00Z"});
  std::set<std::string> needed;  // ids the rules keep, then their bases
  for (const auto& [id, s] : by_id) {
    const std::string created = FormatRfc3339(s.created, 0);
    if (s.label != "hourly" || hourly.count(created) ||
        created == "2026-12-05T04:15:00Z") {  // the newest snapshot when the drill ran
      needed.insert(id);
    }
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (const std::string& id : std::set<std::string>(needed)) {
      const std::string& base = by_id[id].base;
      if (!base.empty() && needed.insert(base).second) grew = true;
    }
  }
  std::set<std::string> hourly_kept;
  for (const auto& [id, s] : by_id) {
    EXPECT_TRUE(needed.count(id)) << "retention kept " << s.label << " snapshot " << id << " of "
                                  << FormatRfc3339(s.created, 0) << " for no rule";
    if (s.label == "hourly") hourly_kept.insert(FormatRfc3339(s.created, 0));
  }
  for (const std::string& h : hourly) EXPECT_TRUE(hourly_kept.count(h)) << "hourly of " << h;

  // The newest snapshot restores to the database as the application left it.
  const backup::SnapshotRef newest = refs->back();
  EXPECT_EQ(FormatRfc3339(by_id[newest.id].created, 0), "2026-12-07T00:15:00Z");
  backup::RestoreOptions ro;
  auto restored = backup::RestoreSnapshot(**repo, newest, dir_ / "restored.db", ro);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "restored.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "live.db"));
}

// A rollback-journal database the application holds locked when the hourly snapshot is due.
class DaemonBusyDatabase : public DaemonWeek {
 protected:
  DaemonBusyDatabase() { wal_ = false; }
};

TEST_F(DaemonBusyDatabase, ABusyDatabaseIsRetriedAfter15sOfFakeTimeAndTheErrorKeepsItsCode) {
  Start();
  ASSERT_TRUE(app_->Exec("BEGIN EXCLUSIVE").ok());
  clock_.Advance(45min);  // 01:15: the hourly snapshot is due and the database is locked
  WaitIdle();
  EXPECT_EQ(JobsTotal("hourly", "error"), 1);
  json last = Status()["databases"][0]["last_snapshot"];
  EXPECT_EQ(last["result"], "error") << last.dump(2);
  EXPECT_EQ(last["error_code"], "busy") << "the failure keeps its own code, not an I/O error";
  ASSERT_TRUE(app_->Exec("COMMIT").ok());
  clock_.Advance(14s);
  WaitIdle();
  EXPECT_EQ(JobsTotal("hourly", "ok"), 0) << "the retry waits 15 s";
  clock_.Advance(1s);
  for (int i = 0; i < 5000 && JobsTotal("hourly", "ok") == 0; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(JobsTotal("hourly", "ok"), 1) << "a transient failure is retried";
  EXPECT_EQ(JobsTotal("hourly", "error"), 1);
}

// Hourly snapshots kept 2 at a time and a daily full check, of a database whose file goes bad.
class DaemonFailingCheck : public DaemonWeek {
 protected:
  DaemonFailingCheck() {
    policies_ =
        "hourly = { keep = 2, minute = 15, full_every = 1, timezone = \"UTC\" }\n"
        "check = { at = \"04:00\", level = \"full\", quick = \"off\", timezone = \"UTC\" }\n";
  }

  // created -> whether the snapshot was taken while the check was failing.
  std::map<std::string, bool> MarkedByTime() {
    std::map<std::string, bool> out;
    auto repo = backup::Repository::Open(std::make_shared<backup::LocalStorage>(dir_ / "repo"),
                                         {backup::KeySource::Kind::kNone});
    EXPECT_TRUE(repo.ok());
    if (!repo.ok()) return out;
    auto refs = (*repo)->ListSnapshots("aura");
    EXPECT_TRUE(refs.ok()) << refs.status().ToString();
    for (const auto& ref : refs.ok() ? *refs : std::vector<backup::SnapshotRef>{}) {
      auto s = (*repo)->ReadSummary(ref);
      EXPECT_TRUE(s.ok());
      if (s.ok()) out[FormatRfc3339(s->created, 0)] = s->source_check_failed;
    }
    return out;
  }

  // Overwrites the header of a page in the middle of the file, as failing storage would.
  void CorruptThePageFile() {
    ASSERT_TRUE(app_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    const std::string path = dir_ / "live.db";
    std::string bytes = *ReadFileToString(path);
    const size_t page = 4096 * (bytes.size() / 4096 / 2);
    for (size_t i = 0; i < 200; ++i) bytes[page + i] = static_cast<char>(0xA5 ^ i);
    ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  }
};

TEST_F(DaemonFailingCheck, AFailedCheckMarksLaterSnapshotsAndTheLastGoodOneSurvivesPrune) {
  Start();
  RunUntil("2026-11-30T05:00:00Z");  // Monday's check passed
  ASSERT_EQ(JobsTotal("check", "ok"), 1);
  CorruptThePageFile();
  RunUntil("2026-12-02T06:00:00Z");  // Tuesday's and Wednesday's checks fail
  EXPECT_EQ(JobsTotal("check", "error"), 2);
  json d = Status()["databases"][0];
  EXPECT_FALSE(d["healthy"].get<bool>()) << "a failed check is an alert";
  EXPECT_EQ(d["last_check"]["result"], "error") << d.dump(2);
  Stop();

  const std::map<std::string, bool> marked_by_time = MarkedByTime();
  // keep = 2 alone would leave only the two newest: the newest snapshot taken before the first
  // failed check (Tuesday 03:15) survives too, unmarked; the later ones carry the mark.
  std::map<std::string, bool> expected = {{"2026-12-01T03:15:00Z", false},
                                          {"2026-12-02T04:15:00Z", true},
                                          {"2026-12-02T05:15:00Z", true}};
  EXPECT_EQ(marked_by_time, expected);
}

// The default cadence: an hourly quick_check besides the daily full check finds the damage
// within the hour, not at the next 04:00.
class DaemonQuickCheck : public DaemonFailingCheck {
 protected:
  DaemonQuickCheck() {
    policies_ =
        "hourly = { keep = 2, minute = 15, full_every = 1, timezone = \"UTC\" }\n"
        "check = { at = \"04:00\", timezone = \"UTC\" }\n";
  }
};

TEST_F(DaemonQuickCheck, TheHourlyQuickCheckCatchesDamageWithinTheHour) {
  Start();
  RunUntil("2026-11-30T05:00:00Z");
  ASSERT_EQ(JobsTotal("check", "ok"), 1);
  ASSERT_GE(JobsTotal("quick_check", "ok"), 1);
  CorruptThePageFile();
  RunUntil("2026-11-30T07:00:00Z");  // the quick checks at 05:30 and 06:30 fail
  EXPECT_EQ(JobsTotal("quick_check", "error"), 2);
  EXPECT_EQ(JobsTotal("check", "error"), 0) << "the full check is not due before 04:00";
  json d = Status()["databases"][0];
  EXPECT_FALSE(d["healthy"].get<bool>()) << d.dump(2);
  EXPECT_EQ(d["last_quick_check"]["result"], "error") << d.dump(2);
  Stop();
  // The snapshot before the first failed quick check survives unmarked; the two newest are marked.
  std::map<std::string, bool> expected = {{"2026-11-30T05:15:00Z", false},
                                          {"2026-11-30T06:15:00Z", true}};
  const auto marked = MarkedByTime();
  EXPECT_EQ(marked, expected);
}

}  // namespace
}  // namespace aura
