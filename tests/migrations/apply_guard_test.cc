// What stops ApplyMigrations before it changes anything (drift, EF Core's migration lock) and
// what it must not stop: the application writing to the database while it migrates.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/version.h"
#include "migrations/migration_plan.h"
#include "migrations/safe_apply.h"
#include "tests/migrations/apply_fixture.h"

namespace aura::migrations {
namespace {

using testing::ApplyTest;

constexpr const char* kA = "20250101000000_CreateItems";
constexpr const char* kASql =
    "CREATE TABLE \"Items\" (\"Id\" INTEGER PRIMARY KEY, \"Name\" TEXT);\n"
    "INSERT INTO \"Items\" (\"Name\") VALUES ('one'), ('two');\n";
constexpr const char* kB = "20250201000000_AddItemSize";
constexpr const char* kBSql = "ALTER TABLE \"Items\" ADD \"Size\" INTEGER NOT NULL DEFAULT 0;\n";
constexpr const char* kC = "20250301000000_AddItemIndex";
constexpr const char* kCSql = "CREATE INDEX \"IX_Items_Name\" ON \"Items\" (\"Name\");\n";

class ApplyGuardTest : public ApplyTest {
 protected:
  // Accepts every drift of the plan the way `migrate repair` does: the repair audit rows.
  void Repair(const std::vector<Migration>& sources) {
    auto db = SqliteDb::Open(db_, SQLITE_OPEN_READWRITE, 5000);
    ASSERT_TRUE(db.ok());
    auto plan = PlanMigrations(sources, *ReadHistory(*db), *ReadAudit(*db));
    ASSERT_TRUE(plan.ok()) << plan.status().ToString();
    ASSERT_FALSE(plan->drift.empty());
    for (AuditRecord a : RepairRecords(*plan)) {
      a.applied_at = FormatRfc3339(std::chrono::system_clock::now(), 3);
      a.applied_by = CurrentUserAtHost();
      a.agent_version = kAgentVersion;
      ASSERT_TRUE(AppendAudit(*db, a).ok());
    }
  }
  void ExpectRefused(const ApplyReport& r, Code code, const std::string& checksum) {
    EXPECT_EQ(r.outcome, "refused");
    EXPECT_EQ(r.status.code(), code) << r.status.ToString();
    EXPECT_TRUE(r.applied.empty());
    EXPECT_EQ(Checksum(), checksum);
    EXPECT_TRUE(seam_->labels.empty());  // refused before the snapshot
  }
};

TEST_F(ApplyGuardTest, ChangedFileAfterApplyIsDriftUntilRepaired) {
  ASSERT_EQ(Apply({Parse(kA, kASql)}).outcome, "applied");
  seam_->labels.clear();
  const std::string before = Checksum();
  std::vector<Migration> edited = {Parse(kA, std::string(kASql) + "-- tidied up\n"),
                                   Parse(kB, kBSql)};
  ApplyReport r = Apply(edited);
  ExpectRefused(r, Code::kRefused, before);
  EXPECT_NE(r.status.message().find(std::string(kA) + ".sql changed"), std::string::npos)
      << r.status.message();
  EXPECT_NE(r.status.message().find("migrate repair"), std::string::npos);

  Repair(edited);
  r = Apply(edited);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(r.applied, std::vector<std::string>{kB});
}

TEST_F(ApplyGuardTest, UnknownIdInHistoryIsDriftUntilRepaired) {
  ASSERT_EQ(Apply({Parse(kA, kASql)}).outcome, "applied");
  seam_->labels.clear();
  Exec("INSERT INTO \"__EFMigrationsHistory\" VALUES ('20250115000000_FromNewerApp', '9.0.0')");
  const std::string before = Checksum();
  std::vector<Migration> sources = {Parse(kA, kASql), Parse(kB, kBSql)};
  ApplyReport r = Apply(sources);
  ExpectRefused(r, Code::kRefused, before);
  EXPECT_NE(r.status.message().find("20250115000000_FromNewerApp"), std::string::npos)
      << r.status.message();

  Repair(sources);
  r = Apply(sources);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(History(),
            (std::vector<std::string>{kA, "20250115000000_FromNewerApp", std::string(kB)}));
}

TEST_F(ApplyGuardTest, OutOfOrderMigrationIsDriftUntilRepaired) {
  ASSERT_EQ(Apply({Parse(kA, kASql), Parse(kC, kCSql)}).outcome, "applied");
  seam_->labels.clear();
  const std::string before = Checksum();
  std::vector<Migration> sources = {Parse(kA, kASql), Parse(kB, kBSql), Parse(kC, kCSql)};
  ApplyReport r = Apply(sources);
  ExpectRefused(r, Code::kRefused, before);
  EXPECT_NE(r.status.message().find(kB), std::string::npos) << r.status.message();

  Repair(sources);
  r = Apply(sources);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(r.applied, std::vector<std::string>{kB});
  EXPECT_EQ(History(), (std::vector<std::string>{kA, kB, kC}));
  EXPECT_EQ(QueryInt("SELECT sum(\"Size\") FROM \"Items\""), 0);
}

constexpr const char* kCreateEfLock =
    "CREATE TABLE \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
    "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL)";

class EfLockApplyTest : public ApplyGuardTest {
 protected:
  EfLockApplyTest() : clock_(*ParseRfc3339("2026-12-02T02:00:00Z")) {}
  ApplyOptions LockOptions() {
    ApplyOptions o = Options();
    o.clock = &clock_;
    o.stale_lock_after = std::chrono::hours(1);
    return o;
  }
  FakeClock clock_;
};

TEST_F(EfLockApplyTest, FreshLockRowIsBusy) {
  Exec(kCreateEfLock);
  Exec("INSERT INTO \"__EFMigrationsLock\" VALUES (1, '2026-12-02T01:55:00.0000000+00:00')");
  const std::string before = Checksum();
  ApplyReport r = ApplyMigrations({Parse(kA, kASql)}, LockOptions());
  ExpectRefused(r, Code::kBusy, before);  // their row is still there
  EXPECT_NE(r.status.message().find("__EFMigrationsLock"), std::string::npos);
  EXPECT_EQ(r.status.message().find("--break-stale-lock"), std::string::npos) << r.status.message();
  ApplyOptions o = LockOptions();
  o.break_stale_lock = true;  // a fresh lock is never broken
  ExpectRefused(ApplyMigrations({Parse(kA, kASql)}, o), Code::kBusy, before);
  EXPECT_TRUE(History().empty());
}

TEST_F(EfLockApplyTest, StaleLockRowNeedsBreakStaleLock) {
  Exec(kCreateEfLock);
  Exec("INSERT INTO \"__EFMigrationsLock\" VALUES (1, '2026-11-30T02:00:00.0000000+00:00')");
  const std::string before = Checksum();
  ApplyReport r = ApplyMigrations({Parse(kA, kASql)}, LockOptions());
  ExpectRefused(r, Code::kBusy, before);
  EXPECT_NE(r.status.message().find("--break-stale-lock"), std::string::npos) << r.status.message();

  ApplyOptions o = LockOptions();
  o.break_stale_lock = true;
  r = ApplyMigrations({Parse(kA, kASql)}, o);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(History(), std::vector<std::string>{kA});
  EXPECT_EQ(QueryInt("SELECT count(*) FROM \"__EFMigrationsLock\""), 0);
  EXPECT_TRUE(StrayFiles().empty()) << StrayFiles().front();  // the agent's lock file too
}

TEST_F(EfLockApplyTest, TakenAndReleasedAroundTheApplyWhenTheTableExists) {
  Exec(kCreateEfLock);
  ApplyOptions o = LockOptions();
  int64_t held_during = -1;
  o.after_commit_hook = [&](const std::string&) {
    held_during = QueryInt("SELECT count(*) FROM \"__EFMigrationsLock\"");
  };
  ApplyReport r = ApplyMigrations({Parse(kA, kASql)}, o);
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(held_during, 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM \"__EFMigrationsLock\""), 0);
}

TEST_F(EfLockApplyTest, NoLockTableIsNotCreated) {
  ApplyReport r = ApplyMigrations({Parse(kA, kASql)}, LockOptions());
  ASSERT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_EQ(TableSql("__EFMigrationsLock"), "");
}

// The application: its own connection and busy timeout, inserting one row per transaction
// into a table the migrations do not touch.
class AppWriter {
 public:
  explicit AppWriter(const std::string& db) : thread_([this, db] { Run(db); }) {}
  ~AppWriter() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded, for a failure message only) until `n` inserts succeeded.
  bool WaitForCommitted(size_t n) {
    for (int i = 0; i < 60000 && Committed() < n && !done_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Committed() >= n;
  }
  // Waits until an insert has started and not returned (it is waiting for a lock).
  bool WaitForInsertInFlight() {
    for (int i = 0; i < 60000 && !done_; ++i) {
      if (started_.load() > Committed() + failures_.load()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }
  size_t Committed() {
    std::lock_guard<std::mutex> l(mu_);
    return ok_.size();
  }
  std::vector<int64_t> ok() {
    std::lock_guard<std::mutex> l(mu_);
    return ok_;
  }
  std::vector<std::string> errors() {
    std::lock_guard<std::mutex> l(mu_);
    return errors_;
  }

 private:
  void Run(const std::string& path) {
    auto db = SqliteDb::Open(path, SQLITE_OPEN_READWRITE, 60000);
    if (!db.ok()) {
      errors_.push_back(db.status().ToString());
      done_ = true;
      return;
    }
    for (int64_t n = 1; !stop_; ++n) {
      ++started_;
      Status s = db->Exec("INSERT INTO \"Events\" (\"Id\", \"Body\") VALUES (" + std::to_string(n) +
                          ", 'event')");
      std::lock_guard<std::mutex> l(mu_);
      if (s.ok()) {
        ok_.push_back(n);
      } else {
        ++failures_;
        errors_.push_back(s.ToString());
      }
    }
    done_ = true;
  }
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<size_t> started_{0}, failures_{0};
  std::mutex mu_;
  std::vector<int64_t> ok_;
  std::vector<std::string> errors_;
  std::thread thread_;
};

TEST_F(ApplyGuardTest, ApplicationKeepsWritingDuringTheMigration) {
  ASSERT_EQ(Apply({Parse(kA, kASql)}).outcome, "applied");
  Exec("CREATE TABLE \"Events\" (\"Id\" INTEGER PRIMARY KEY, \"Body\" TEXT NOT NULL)");
  std::vector<Migration> sources = {
      Parse(kA, kASql), Parse(kB, kBSql), Parse(kC, kCSql),
      Parse("20250401000000_RebuildItems", R"(CREATE TABLE "ef_temp_Items" (
    "Id" INTEGER NOT NULL CONSTRAINT "PK_Items" PRIMARY KEY,
    "Name" TEXT NOT NULL DEFAULT '',
    "Size" INTEGER NOT NULL DEFAULT 0
);
INSERT INTO "ef_temp_Items" ("Id", "Name", "Size") SELECT "Id", IFNULL("Name", ''), "Size" FROM "Items";
DROP TABLE "Items";
ALTER TABLE "ef_temp_Items" RENAME TO "Items";
CREATE INDEX "IX_Items_Name" ON "Items" ("Name");
)")};

  AppWriter app(db_);
  ASSERT_TRUE(app.WaitForCommitted(50)) << (app.errors().empty() ? "" : app.errors().front());
  ApplyOptions o = Options();
  bool contended = false;
  o.live_statement_hook = [&](int i) {
    // Inside the live write transaction: the application's next insert has to wait for it.
    if (i == 0) contended = app.WaitForInsertInFlight();
    return Status::Ok();
  };
  ApplyReport r = ApplyMigrations(sources, o);
  EXPECT_EQ(r.outcome, "applied") << r.status.ToString();
  EXPECT_TRUE(contended);
  size_t at_commit = app.Committed();
  EXPECT_TRUE(app.WaitForCommitted(at_commit + 50));
  app.Stop();

  EXPECT_TRUE(app.errors().empty()) << app.errors().front();
  std::vector<int64_t> ok = app.ok();
  auto db = SqliteDb::Open(db_, SQLITE_OPEN_READONLY, 5000);
  ASSERT_TRUE(db.ok());
  auto st = db->Prepare("SELECT \"Id\" FROM \"Events\" ORDER BY \"Id\"");
  ASSERT_TRUE(st.ok());
  std::vector<int64_t> present;
  while (*st->Step()) present.push_back(st->ColumnInt64(0));
  EXPECT_EQ(present, ok);  // every insert that reported success, and only those
  EXPECT_EQ(History().size(), 4u);
  EXPECT_EQ(*db->QueryInt("SELECT count(*) FROM \"Items\""), 2);
}

}  // namespace
}  // namespace aura::migrations
