#include "migrations/migration_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/test_env.h"

namespace aura::migrations {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

bool Exists(const std::string& path) { return std::filesystem::exists(path); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(MigrationLock, SecondAcquireIsBusyNamingThePidAndReleaseRemovesTheFile) {
  aura::testing::TempDir dir;
  std::string db = dir / "app.db";
  std::string lock_path = db + ".aura-migrate.lock";
  {
    auto first = MigrationLock::Acquire(db);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    ASSERT_TRUE(Exists(lock_path));
    EXPECT_EQ(ReadAll(lock_path).rfind("pid " + std::to_string(getpid()) + " since ", 0), 0u);

    // A second open file description conflicts even in the same process.
    auto second = MigrationLock::Acquire(db);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().code(), Code::kBusy);
    EXPECT_NE(second.status().message().find("pid " + std::to_string(getpid()) + ", since "),
              std::string::npos)
        << second.status().message();
    EXPECT_NE(second.status().message().find(db), std::string::npos);

    // Moving the lock keeps it held and the file in place.
    MigrationLock moved = std::move(first).value();
    EXPECT_TRUE(Exists(lock_path));
    EXPECT_EQ(MigrationLock::Acquire(db).status().code(), Code::kBusy);
  }
  EXPECT_FALSE(Exists(lock_path));
  auto again = MigrationLock::Acquire(db);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

TEST(MigrationLock, HeldByAnotherProcess) {
  aura::testing::TempDir dir;
  std::string db = dir / "app.db";
  int ready[2];
  int go[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 0;
    {
      auto lock = MigrationLock::Acquire(db);
      code = lock.ok() ? 0 : 1;
      char c = 'r';
      if (write(ready[1], &c, 1) != 1) code = 2;
      if (read(go[0], &c, 1) != 1) code = 3;
    }
    _exit(code);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto busy = MigrationLock::Acquire(db);
  EXPECT_EQ(busy.status().code(), Code::kBusy);
  EXPECT_NE(busy.status().message().find("pid " + std::to_string(child)), std::string::npos)
      << busy.status().message();
  ASSERT_EQ(write(go[1], "g", 1), 1);
  int wstatus = 0;
  ASSERT_EQ(waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
  EXPECT_FALSE(Exists(db + ".aura-migrate.lock"));
  auto mine = MigrationLock::Acquire(db);
  EXPECT_TRUE(mine.ok()) << mine.status().ToString();
  for (int fd : {ready[0], ready[1], go[0], go[1]}) close(fd);
}

TEST(MigrationLock, LeftoverFileWithoutHolderIsTaken) {
  aura::testing::TempDir dir;
  std::string db = dir / "app.db";
  std::ofstream(db + ".aura-migrate.lock") << "pid 1 since 2020-01-01T00:00:00Z\n";
  auto lock = MigrationLock::Acquire(db);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_EQ(ReadAll(db + ".aura-migrate.lock").rfind("pid " + std::to_string(getpid()), 0), 0u);
}

// --- EF Core's __EFMigrationsLock ----------------------------------------------------------

constexpr const char* kEfLockDdl =
    "CREATE TABLE IF NOT EXISTS \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
    "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL);";

const TimePoint kNow = *ParseRfc3339("2026-12-02T02:00:00Z");

class EfLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = SqliteDb::OpenOrCreate(dir_ / "app.db", 1000);
    ASSERT_TRUE(db.ok());
    db_ = std::move(db).value();
  }
  void CreateTable() { ASSERT_TRUE(db_.Exec(kEfLockDdl).ok()); }
  void InsertRow(const std::string& timestamp) {
    CreateTable();
    auto st = db_.Prepare(
        "INSERT OR IGNORE INTO \"__EFMigrationsLock\"(\"Id\", \"Timestamp\") "
        "VALUES(1, ?1)");
    ASSERT_TRUE(st.ok());
    ASSERT_TRUE(st->BindAll(timestamp).ok());
    ASSERT_TRUE(st->Step().ok());
  }
  int64_t Rows() { return *db_.QueryInt("SELECT count(*) FROM \"__EFMigrationsLock\""); }
  std::string Timestamp() {
    return *db_.QueryText("SELECT \"Timestamp\" FROM \"__EFMigrationsLock\" WHERE \"Id\" = 1");
  }

  aura::testing::TempDir dir_;
  SqliteDb db_;
};

TEST_F(EfLockTest, NoTableNothingToTake) {
  auto taken = TakeEfLock(db_, kNow, hours(1), false);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_FALSE(*taken);
  EXPECT_EQ(*db_.QueryInt("SELECT count(*) FROM sqlite_master"), 0);  // not created
  auto state = ReadEfLock(db_);
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->table_exists);
  EXPECT_TRUE(ReleaseEfLock(db_).ok());
}

TEST_F(EfLockTest, TakesFreeLockInEfFormatAndReleaseDeletesTheRow) {
  CreateTable();
  auto taken = TakeEfLock(db_, kNow, hours(1), false);
  ASSERT_TRUE(taken.ok()) << taken.status().ToString();
  EXPECT_TRUE(*taken);
  EXPECT_EQ(Timestamp(), "2026-12-02T02:00:00.0000000+00:00");
  auto state = ReadEfLock(db_);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->held);
  ASSERT_TRUE(state->since.has_value());
  EXPECT_EQ(*state->since, kNow);
  ASSERT_TRUE(ReleaseEfLock(db_).ok());
  EXPECT_EQ(Rows(), 0);
  EXPECT_EQ(*db_.QueryInt("SELECT count(*) FROM sqlite_master WHERE name = '__EFMigrationsLock'"),
            1);
}

TEST_F(EfLockTest, FreshRowIsBusy) {
  InsertRow("2026-12-02T01:50:00.1234567+00:00");
  auto taken = TakeEfLock(db_, kNow, hours(1), true);  // not stale: break does not apply
  ASSERT_FALSE(taken.ok());
  EXPECT_EQ(taken.status().code(), Code::kBusy);
  EXPECT_NE(taken.status().message().find("__EFMigrationsLock"), std::string::npos);
  EXPECT_NE(taken.status().message().find("held since 2026-12-02T01:50:00Z"), std::string::npos)
      << taken.status().message();
  EXPECT_EQ(Timestamp(), "2026-12-02T01:50:00.1234567+00:00");  // untouched
}

TEST_F(EfLockTest, StaleRowIsBusyUntilBroken) {
  InsertRow("2026-11-30 10:00:00+00:00");  // space separator, no fraction
  auto refused = TakeEfLock(db_, kNow, hours(1), false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kBusy);
  EXPECT_NE(refused.status().message().find("taken at 2026-11-30T10:00:00Z, 40 h ago"),
            std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("--break-stale-lock"), std::string::npos);
  EXPECT_EQ(Timestamp(), "2026-11-30 10:00:00+00:00");

  auto broken = TakeEfLock(db_, kNow, hours(1), true);
  ASSERT_TRUE(broken.ok()) << broken.status().ToString();
  EXPECT_TRUE(*broken);
  EXPECT_EQ(Rows(), 1);
  EXPECT_EQ(Timestamp(), "2026-12-02T02:00:00.0000000+00:00");
}

TEST_F(EfLockTest, UnparsableTimestampCountsAsStale) {
  InsertRow("yesterday");
  auto state = ReadEfLock(db_);
  ASSERT_TRUE(state.ok());
  EXPECT_TRUE(state->held);
  EXPECT_EQ(state->timestamp, "yesterday");
  EXPECT_FALSE(state->since.has_value());
  auto refused = TakeEfLock(db_, kNow, hours(1000), false);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kBusy);
  EXPECT_NE(refused.status().message().find("--break-stale-lock"), std::string::npos);
  EXPECT_NE(refused.status().message().find("yesterday"), std::string::npos);
  auto broken = TakeEfLock(db_, kNow, hours(1000), true);
  ASSERT_TRUE(broken.ok()) << broken.status().ToString();
  EXPECT_TRUE(*broken);
  EXPECT_EQ(Timestamp(), "2026-12-02T02:00:00.0000000+00:00");
}

TEST_F(EfLockTest, ReadsEfTimestampsFlexibly) {
  CreateTable();
  for (const char* text : {"2026-12-02T01:02:03.1234567+00:00", "2026-12-02 01:02:03.1234567Z",
                           "2026-12-02T03:02:03.123+02:00"}) {
    ASSERT_TRUE(db_.Exec("DELETE FROM \"__EFMigrationsLock\"").ok());
    InsertRow(text);
    auto state = ReadEfLock(db_);
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE(state->since.has_value()) << text;
    EXPECT_EQ(FormatRfc3339(*state->since, 0), "2026-12-02T01:02:03Z") << text;
  }
}

TEST_F(EfLockTest, FreshLockTakenByAnotherConnectionIsBusy) {
  CreateTable();
  ASSERT_TRUE(*TakeEfLock(db_, kNow, hours(1), false));
  auto other = SqliteDb::OpenOrCreate(dir_ / "app.db", 1000);
  ASSERT_TRUE(other.ok());
  auto second = TakeEfLock(*other, kNow + minutes(5), hours(1), false);
  EXPECT_EQ(second.status().code(), Code::kBusy);
  EXPECT_NE(second.status().message().find("5 min ago"), std::string::npos)
      << second.status().message();
}

}  // namespace
}  // namespace aura::migrations
