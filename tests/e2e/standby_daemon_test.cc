// The daemon's [[standby]]: a warm standby kept current from a target while the agent ships the
// source there, its lag in status, metrics and `status`, promotion while the daemon follows (the
// daemon lets go), and the promoted file left alone afterwards (a health problem, never a
// reseed over it). Config errors of a [[standby]] name file:line.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "integrity/logical_checksum.h"
#include "tests/e2e/daemon_fixture.h"
#include "tests/support/test_env.h"
#include "tests/support/unix_http.h"
#include "tests/support/workload.h"

namespace aura {
namespace {

using aura::testing::ProcessResult;
using aura::testing::UnixHttp;
using aura::testing::Writer;
using e2e::WaitUntil;
using nlohmann::json;
using namespace std::chrono_literals;

class StandbyDaemonTest : public e2e::DaemonTest {
 protected:
  std::string StandbyPath() { return dir_ / "standby.db"; }

  std::string StandbyToml(const std::string& path, const std::string& from = "main") {
    return "[[standby]]\nname = \"warm\"\npath = \"" + path + "\"\nfrom = \"" + from +
           "\"\ndatabase = \"live\"\npoll_interval = \"100ms\"\ncheck = \"none\"\n";
  }

  json Standby() {
    json st = Status();
    if (st.is_null() || !st.contains("standbys")) return json();
    for (const json& s : st["standbys"])
      if (s["name"] == "warm") return s;
    return json();
  }
};

TEST_F(StandbyDaemonTest, KeepsAStandbyCurrentShowsItsLagAndLetsGoForAPromotion) {
  WriteConfig(Config("", StandbyToml(StandbyPath())));
  {
    Writer writer(dir_ / "live.db", 1, {"--interval-ms", "20"});
    StartAgent();
    ASSERT_TRUE(WaitUntil(
        [&] {
          json s = Standby();
          return !s.is_null() && s["state"] == "following" && s["txid"].get<uint64_t>() > 0 &&
                 Uploaded() >= 10;
        },
        60s))
        << Status().dump(2) << Log();
    // While the writer commits, the standby moves on.
    const uint64_t seen = Standby()["txid"].get<uint64_t>();
    ASSERT_TRUE(WaitUntil([&] { return Standby()["txid"].get<uint64_t>() > seen; }, 30s))
        << Status().dump(2);
  }
  const uint64_t shipped = WaitAllShipped();
  ASSERT_TRUE(WaitUntil([&] { return Standby()["txid"].get<uint64_t>() == shipped; }, 30s))
      << Status().dump(2);

  {
    json before = Standby();
    ASSERT_TRUE(before["apply_lag_seconds"].is_number()) << before.dump(2);
    EXPECT_GT(before["segments_applied"].get<uint64_t>(), 0u);
  }
  // SIGKILL and a new start: the standby resumes where it stopped, no reseed.
  agent_->Signal(SIGKILL);
  agent_->Wait();
  agent_.reset();
  StartAgent();
  ASSERT_TRUE(WaitUntil(
      [&] {
        json s = Standby();
        return !s.is_null() && s["state"] == "following" && s["txid"].get<uint64_t>() == shipped &&
               s["lag_seconds"].is_number();
      },
      30s))
      << Status().dump(2);
  EXPECT_EQ(Standby()["reseeds"].get<uint64_t>(), 0u);
  const std::string log = Log();
  EXPECT_NE(log.find(": seeded from"), std::string::npos) << log;
  EXPECT_EQ(log.find(": seeded from"), log.rfind(": seeded from")) << "seeded twice:\n" << log;
  EXPECT_EQ(log.find("reseeding"), std::string::npos) << log;

  json st = Status();
  json sb = Standby();
  EXPECT_TRUE(st["healthy"].get<bool>()) << st.dump(2);
  EXPECT_TRUE(sb["healthy"].get<bool>()) << sb.dump(2);
  EXPECT_EQ(sb["path"], StandbyPath());
  EXPECT_EQ(sb["database"], "live");
  EXPECT_EQ(sb["newest_txid"].get<uint64_t>(), shipped);
  ASSERT_TRUE(sb["lag_seconds"].is_number()) << sb.dump(2);
  EXPECT_TRUE(sb["apply_lag_seconds"].is_null()) << "nothing was applied since the restart";
  EXPECT_GE(sb["lag_seconds"].get<double>(), 0);
  ProcessResult table = Agent({"status", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("STANDBY"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("warm"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(std::to_string(shipped)), std::string::npos) << table.out;
  const std::string metrics = UnixHttp(Socket(), "GET", "/metrics").body;
  EXPECT_NE(metrics.find("aura_standby_lag_seconds{standby=\"warm\"}"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("aura_standby_txid{standby=\"warm\"} " + std::to_string(shipped)),
            std::string::npos)
      << metrics;

  // Promotion while the daemon follows: the daemon lets go, the file is the source at the
  // shipped txid, and the daemon never touches it again.
  ProcessResult p = Agent({"restore", "--promote", "--to", StandbyPath(), "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err << Log();
  EXPECT_EQ(json::parse(p.out)["txid"].get<uint64_t>(), shipped) << p.out;
  const uint64_t step = aura::testing::WorkloadStepOf(StandbyPath());
  EXPECT_EQ(step, aura::testing::WorkloadStepOf(dir_ / "live.db"));
  const auto promoted = integrity::LogicalChecksumOfFile(StandbyPath());
  ASSERT_TRUE(promoted.ok());
  EXPECT_EQ(*promoted, replay_.Expected(step)) << "the promoted standby is not the source";
  ASSERT_TRUE(WaitUntil([&] { return !Standby()["healthy"].get<bool>(); }, 10s))
      << Status().dump(2);
  sb = Standby();
  EXPECT_NE(sb["error"].get<std::string>().find("not a standby"), std::string::npos) << sb;
  aura::testing::HttpReply health = UnixHttp(Socket(), "GET", "/healthz");
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_NE(health.body.find("\"standby\": \"warm\""), std::string::npos) << health.body;
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(StandbyPath()), *promoted)
      << "the daemon changed the promoted database";
  EXPECT_FALSE(std::filesystem::exists(StandbyPath() + ".aura-standby"));
  EXPECT_FALSE(std::filesystem::exists(StandbyPath() + ".aura-standby.release"));
  EXPECT_NE(Log().find("standby=warm op=release"), std::string::npos) << Log();
  EXPECT_EQ(StopAgent(), 0);
}

TEST_F(StandbyDaemonTest, ConfigErrorsOfAStandbyNameTheLine) {
  WriteConfig(Config("", StandbyToml(StandbyPath(), "nowhere")));
  ProcessResult unknown = Agent({"config", "check", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(unknown.exit_code, 3);
  EXPECT_NE(unknown.err.find("agent.toml:"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("unknown target 'nowhere'"), std::string::npos) << unknown.err;

  WriteConfig(Config("", StandbyToml(dir_ / "live.db")));
  ProcessResult over_live = Agent({"config", "check", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(over_live.exit_code, 3);
  EXPECT_NE(over_live.err.find("is the live database 'live'"), std::string::npos) << over_live.err;

  WriteConfig(Config("", StandbyToml(StandbyPath()) + "poll_interval_ms = 5\n"));
  ProcessResult typo = Agent({"config", "check", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(typo.exit_code, 3);
  EXPECT_NE(typo.err.find("unknown key 'poll_interval_ms'"), std::string::npos) << typo.err;
  EXPECT_FALSE(std::filesystem::exists(StandbyPath())) << "a refused config created the standby";
}

}  // namespace
}  // namespace aura
