// `aura-agent migrate` under stress and on the way back: the agent SIGKILLed at random points
// of an apply (all or nothing, never a mix) and while it holds EF Core's lock, an application
// writing throughout, a failed post-check restoring the pre-migration snapshot, and rollback by
// snapshot and by down files.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/e2e/migrate_cli_fixture.h"

namespace aura::migrate_e2e {
namespace {

TEST_F(MigrateCliTest, KilledAtRandomPointsOfAnApplyLeavesAllOrNothing) {
  const std::string tmpl = dir_ / "template.db";
  ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, tmpl, "20", "--seed", "11"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::map<std::string, int64_t> rows = RowCounts(tmpl);

  auto fresh = [&](const std::string& sub) {
    std::string d = dir_ / sub;
    fs::remove_all(d);
    fs::create_directories(d);
    aura::testing::CopyFile(tmpl, d + "/aura.db");
    return d + "/aura.db";
  };
  auto apply_args = [](const std::string& db) {
    return std::vector<std::string>{AURA_AGENT_BIN, "migrate", "apply", "--db", db,
                                    "--dir",        kExamples};
  };

  // How long an undisturbed apply takes, so the kills cover the whole run.
  std::string db = fresh("measure");
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult normal = RunProcess(apply_args(db));
  auto full_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(normal.exit_code, 0) << normal.err;
  ASSERT_EQ(History(db), kAll);

  std::mt19937 rng(20251201);
  std::uniform_int_distribution<int64_t> delay(0, full_ms + full_ms / 4);
  int killed_old = 0, killed_new = 0, finished = 0, left_rehearsals = 0;
  for (int i = 0; i < 16; ++i) {
    db = fresh("run");
    const int64_t ms = delay(rng);
    SCOPED_TRACE("iteration " + std::to_string(i) + ", killed after " + std::to_string(ms) +
                 " ms of a " + std::to_string(full_ms) + " ms apply");
    ChildProcess p(apply_args(db));
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    p.Signal(SIGKILL);
    ProcessResult r = p.Wait();
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 128 + SIGKILL) << r.exit_code << r.err;

    EXPECT_EQ(Column(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    std::vector<std::string> history = History(db);
    const bool is_new = history == kAll;
    EXPECT_TRUE(is_new || history == kOld) << "a mix of applied migrations: " << history.size();
    EXPECT_EQ(HasColumn(db, "ProjectStates", "Priority"), is_new);
    EXPECT_EQ(HasColumn(db, "ProjectStates", "Stage"), is_new);
    EXPECT_EQ(HasColumn(db, "ProjectStates", "CurrentStage"), !is_new);
    EXPECT_EQ(HasTable(db, "RenderQueue"), is_new);
    EXPECT_EQ(HasColumn(db, "SceneStates", "Notes"), is_new);
    EXPECT_EQ(RowCounts(db), rows);
    if (r.exit_code == 0) {
      ++finished;
      EXPECT_TRUE(is_new);
    } else {
      ++(is_new ? killed_new : killed_old);
    }

    ProcessResult l =
        RunProcess({AURA_AGENT_BIN, "migrate", "list", "--db", db, "--dir", kExamples, "--json"});
    ASSERT_EQ(l.exit_code, 0) << l.err;
    json listed = ParseJson(l);
    EXPECT_EQ(listed["applied_count"], is_new ? kAll.size() : 1u);
    const json* priority = Entry(listed, kPriority);
    ASSERT_NE(priority, nullptr);
    EXPECT_EQ((*priority)["state"], is_new ? "applied" : "pending");
    EXPECT_TRUE(listed["drift"].empty()) << listed["drift"];

    // The kernel released the dead agent's flock: the next apply works (a stale lock file may
    // be there).
    ProcessResult next = RunProcess(apply_args(db));
    ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
    EXPECT_EQ(History(db), kAll);
    EXPECT_TRUE(HasColumn(db, "ProjectStates", "Priority"));
    EXPECT_EQ(RowCounts(db), rows);
  }
  std::cout << "[ killed ] before commit " << killed_old << ", after commit " << killed_new
            << ", finished " << finished << "; rehearsal copies left behind: " << left_rehearsals
            << " (apply takes " << full_ms << " ms)\n";
}

TEST_F(MigrateCliTest, AnApplicationWritingDuringTheApplyLosesNoAcknowledgedWrite) {
  ChildProcess writer({AURA_WRITER_BIN, "--db", db_, "--seed", "3", "--forever", "--interval-ms",
                       "2", "--busy-timeout", "30000", "--max-blocked-ms", "30000"});
  std::vector<uint64_t> acked;
  std::string line;
  while (acked.size() < 20 && writer.ReadLine(line)) acked.push_back(std::stoull(line));
  ASSERT_EQ(acked.size(), 20u) << "the writer did not start";

  // Keep reading the writer's acknowledgements while the apply runs.
  std::thread reader([&] {
    while (writer.ReadLine(line)) acked.push_back(std::stoull(line));
  });
  ProcessResult a = Migrate("apply", {"--json"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  writer.Signal(SIGTERM);
  reader.join();
  ProcessResult w = writer.Wait();

  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  EXPECT_EQ(ParseJson(a)["outcome"], "applied");
  EXPECT_EQ(w.exit_code, 0) << w.err;
  EXPECT_TRUE(w.err.empty()) << w.err;
  EXPECT_EQ(History(db_), kAll);
  std::set<uint64_t> stored;
  for (const std::string& s : Column(db_, "SELECT Step FROM WorkloadTicks")) {
    stored.insert(std::stoull(s));
  }
  for (uint64_t step : acked)
    EXPECT_TRUE(stored.count(step)) << "acknowledged step " << step << " lost";
  EXPECT_GT(acked.size(), 20u);
  EXPECT_EQ(Column(db_, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(MigrateCliTest, AKilledAgentsOwnEfLockRowIsTakenOverByTheNextRun) {
  Exec(db_,
       "CREATE TABLE \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
       "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL)");
  ChildProcess p({AURA_AGENT_BIN, "migrate", "apply", "--db", db_, "--dir", kExamples,
                  "--post-check",
                  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < "
                  "200000000) SELECT count(*) > 0 FROM c"});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Int(db_, "SELECT count(*) FROM __EFMigrationsHistory") != int64_t(kAll.size()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  p.Signal(SIGKILL);
  ASSERT_EQ(p.Wait().exit_code, 128 + SIGKILL) << "the post-check ended before the kill";
  EXPECT_EQ(History(db_), kAll);
  EXPECT_EQ(Column(db_, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  ASSERT_EQ(Int(db_, "SELECT count(*) FROM __EFMigrationsLock"), 1);

  ProcessResult next = Migrate("apply", {"--json"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(ParseJson(next)["outcome"], "nothing_pending");
  EXPECT_EQ(Int(db_, "SELECT count(*) FROM __EFMigrationsLock"), 0);

  // A row nobody noted is the application's: with nothing pending, apply has nothing to lock
  // for and leaves it alone (a fresh row blocking pending work:
  // AStaleEfLockIsTakenOverOnlyWhenAsked).
  Exec(db_, "INSERT INTO \"__EFMigrationsLock\" VALUES(1, '" + EfTimestamp(0) + "')");
  ProcessResult idle = Migrate("apply", {"--json"});
  EXPECT_EQ(idle.exit_code, 0) << idle.err;
  EXPECT_EQ(ParseJson(idle)["outcome"], "nothing_pending");
  EXPECT_EQ(Int(db_, "SELECT count(*) FROM __EFMigrationsLock"), 1);
}

TEST_F(MigrateCliTest, AFailedPostCheckRestoresThePreMigrationSnapshot) {
  const std::string sum = Checksum(db_);
  ProcessResult a =
      Migrate("apply", {"--post-check", "SELECT count(*) = 0 FROM ProjectStates", "--json"});
  EXPECT_EQ(a.exit_code, 15) << a.err;
  EXPECT_NE(a.err.find("was restored"), std::string::npos) << a.err;
  json j = ParseJson(a);
  EXPECT_EQ(j["outcome"], "restored");
  EXPECT_EQ(j["error"]["exit_code"], 15);
  EXPECT_EQ(History(db_), kOld);
  EXPECT_FALSE(HasColumn(db_, "ProjectStates", "Priority"));
  EXPECT_EQ(Checksum(db_), sum) << "the restored database is not the pre-migration one";
  EXPECT_EQ(Column(db_, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(MigrateCliTest, RollbackBySnapshotNeedsYes) {
  const std::string projects_before =
      RunProcess({"/usr/bin/sqlite3", db_, ".dump ProjectStates"}).out;
  ASSERT_FALSE(projects_before.empty());
  ProcessResult a = Migrate("apply", {"--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string snapshot = ParseJson(a)["snapshot"];
  ASSERT_FALSE(snapshot.empty());
  EXPECT_TRUE(fs::exists(dir_ / snapshot)) << "the plain pre-migration copy is beside the database";
  EXPECT_EQ(snapshot.rfind("aura.db.pre-migration-", 0), 0u) << snapshot;

  const std::string sum = Checksum(db_);
  ProcessResult no = Migrate("rollback", {kInitial});
  EXPECT_EQ(no.exit_code, 2) << no.err;
  EXPECT_NE(no.err.find("--yes"), std::string::npos) << no.err;
  EXPECT_EQ(Checksum(db_), sum);
  ProcessResult dry = Migrate("rollback", {"InitialCreate", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(ParseJson(dry)["method"], "snapshot");
  EXPECT_EQ(Checksum(db_), sum);

  ProcessResult yes = Migrate("rollback", {"InitialCreate", "--yes", "--json"});
  ASSERT_EQ(yes.exit_code, 0) << yes.err;
  json j = ParseJson(yes);
  EXPECT_EQ(j["outcome"], "rolled_back");
  EXPECT_EQ(j["method"], "snapshot");
  EXPECT_EQ(j["snapshot"], snapshot);
  EXPECT_EQ(History(db_), kOld);
  EXPECT_FALSE(HasColumn(db_, "ProjectStates", "Priority"));
  EXPECT_FALSE(HasTable(db_, "RenderQueue"));
  EXPECT_EQ(RunProcess({"/usr/bin/sqlite3", db_, ".dump ProjectStates"}).out, projects_before);
  json listed = ParseJson(Migrate("list", {"--json"}));
  EXPECT_EQ(listed["applied_count"], 1);
  EXPECT_TRUE(listed["drift"].empty());
  // And it can be applied again.
  ASSERT_EQ(Migrate("apply").exit_code, 0);
  EXPECT_EQ(History(db_), kAll);
}

TEST_F(MigrateCliTest, RollbackBySnapshotRecordsItselfWhenTheSnapshotPredatesTheAuditTable) {
  ASSERT_EQ(Migrate("apply").exit_code, 0);
  ProcessResult r = Migrate("rollback", {"InitialCreate", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(HasTable(db_, "__AuraMigrationsAudit"));
  std::vector<std::string> want(kAll.rbegin(), kAll.rend() - 1);
  EXPECT_EQ(Column(db_,
                   "SELECT MigrationId FROM __AuraMigrationsAudit WHERE Action = 'rollback' AND "
                   "Outcome = 'rolled_back' ORDER BY Seq"),
            want);
  json listed = ParseJson(Migrate("list", {"--json"}));
  EXPECT_EQ(listed["applied_count"], 1);
  EXPECT_TRUE(listed["drift"].empty()) << listed["drift"];
}

TEST_F(MigrateCliTest, RollbackByDownFiles) {
  const std::map<std::string, int64_t> rows = RowCounts(db_);
  const std::string stages =
      "SELECT Id || '=' || ifnull(CurrentStage, 'NULL') FROM ProjectStates ORDER BY Id";
  const std::vector<std::string> stages_before = Column(db_, stages);
  ASSERT_EQ(Migrate("apply", {"--to", "BackfillPriority"}).exit_code, 0);
  ASSERT_EQ(History(db_), (std::vector<std::string>{kInitial, kPriority, kRename, kBackfill}));

  ProcessResult dry = Migrate("rollback", {"InitialCreate", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(ParseJson(dry)["method"], "down_files");
  ProcessResult r = Migrate("rollback", {"InitialCreate", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = ParseJson(r);
  EXPECT_EQ(j["method"], "down_files");
  EXPECT_EQ(j["rolled_back"], (std::vector<std::string>{kBackfill, kRename, kPriority}));
  EXPECT_EQ(History(db_), kOld);
  EXPECT_FALSE(HasColumn(db_, "ProjectStates", "Priority"));
  EXPECT_TRUE(HasColumn(db_, "ProjectStates", "CurrentStage"));
  EXPECT_EQ(RowCounts(db_), rows);
  EXPECT_EQ(Column(db_, stages), stages_before);
  json listed = ParseJson(Migrate("list", {"--json"}));
  EXPECT_EQ(listed["applied_count"], 1);
  EXPECT_TRUE(listed["drift"].empty());
  ASSERT_EQ(Migrate("apply").exit_code, 0);
  EXPECT_EQ(History(db_), kAll);
}

}  // namespace
}  // namespace aura::migrate_e2e
