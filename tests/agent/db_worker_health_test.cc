// A database's health as the daemon reports it (DbWorker's status, problems and metrics) when
// one of its schedules could not be built. The config refuses a time zone it cannot resolve, so
// the worker is built here from a DatabaseConfig the parser never saw, as a host would hand it
// over if its zone data went away after the check (the default "local" is resolved only when
// the daemon starts).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "agent/daemon/db_worker.h"
#include "agent/daemon/metrics.h"
#include "tests/support/test_env.h"

namespace aura::agent {
namespace {

using aura::testing::TempDir;
using nlohmann::json;

class DbWorkerHealth : public ::testing::Test {
 protected:
  void SetUp() override {
    auto state = StateStore::Open(dir_ / "state");
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    state_ = std::move(state).value();
    config_ = std::make_shared<Config>();
    config_->agent.jitter_s = 0;
    config_->targets.push_back(TargetConfig{.name = "local", .url = dir_ / "repo"});
    DatabaseConfig& db = config_->databases.emplace_back();
    db.name = "aura";
    db.path = dir_ / "aura.db";
    db.targets = {"local"};
    db.verify.enabled = false;
  }

  std::shared_ptr<DbWorker> Worker() {
    WorkerContext ctx{io_, step_, upload_, heavy_, *state_, clock_, errors_};
    auto worker = std::make_shared<DbWorker>(ctx, config_, config_->databases.front());
    worker->Start();  // as the daemon does: nothing is due yet at the start
    return worker;
  }

  DatabaseConfig& db() { return config_->databases.front(); }

  TempDir dir_;
  boost::asio::io_context io_;
  boost::asio::thread_pool step_{1}, upload_{1}, heavy_{1};
  std::unique_ptr<StateStore> state_;
  FakeClock clock_{*ParseRfc3339("2026-11-25T12:00:00Z")};
  StateWriteErrors errors_;
  std::shared_ptr<Config> config_;
};

TEST_F(DbWorkerHealth, APolicyDroppedForAnUnknownTimeZoneLeftTheDatabaseHealthy) {
  db().daily = PolicyConfig{.enabled = true, .keep = 7, .at = "02:30", .timezone = "Europe/Berln"};
  auto worker = Worker();
  const TimePoint now = clock_.Now();
  json st = worker->Status(now, [](JobKind) { return std::nullopt; });
  EXPECT_FALSE(st["healthy"].get<bool>()) << st.dump(2);
  ASSERT_EQ(st["problems"].size(), 1u) << st.dump(2);
  const std::string problem = st["problems"][0];
  EXPECT_NE(problem.find("daily"), std::string::npos) << problem;
  EXPECT_NE(problem.find("Europe/Berln"), std::string::npos) << problem;
  EXPECT_NE(problem.find("not scheduled"), std::string::npos) << problem;

  MetricsText m;
  worker->Metrics(m, now);
  EXPECT_NE(m.Finish().find("aura_database_healthy{database=\"aura\"} 0"), std::string::npos)
      << m.Finish();
}

TEST_F(DbWorkerHealth, EveryScheduleBuiltLeavesTheDatabaseHealthy) {
  db().daily = PolicyConfig{.enabled = true, .keep = 7, .at = "02:30", .timezone = "UTC"};
  json st = Worker()->Status(clock_.Now(), [](JobKind) { return std::nullopt; });
  EXPECT_TRUE(st["healthy"].get<bool>()) << st.dump(2);
}

}  // namespace
}  // namespace aura::agent
