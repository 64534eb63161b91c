// The aura-agent binary against a real S3-compatible server (moto_server, signatures checked):
// the seed's commands with s3:// URLs, a config-file S3 target, a process killed in the middle of
// a multipart upload, and continuous shipping through an outage.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "backup/storage/s3_storage.h"
#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/moto_server.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::FaultProxy;
using aura::testing::MotoServer;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;

class S3CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string missing = MotoServer::Missing();
    ASSERT_TRUE(missing.empty()) << missing;
    moto_ = std::make_unique<MotoServer>(true, "aura-cli");
    ASSERT_TRUE(moto_->ready());
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura.db", true, 1500).ok());
    ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "k"}).exit_code, 0);
  }

  ProcessResult Agent(std::vector<std::string> args, int port = 0) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args, moto_->Env(port));
  }

  TempDir dir_;
  std::unique_ptr<MotoServer> moto_;
};

TEST_F(S3CliTest, TheSeedCommandsWorkWithAnS3Url) {
  const std::string url = "s3://aura-cli/host-01";
  ProcessResult b =
      Agent({"backup", "--db", dir_ / "aura.db", "--to", url, "--key-file", dir_ / "k"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  ProcessResult l = Agent({"list", "--from", url, "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  json listed = json::parse(l.out);
  ASSERT_EQ(listed["snapshots"].size(), 1u);
  EXPECT_EQ(Agent({"verify", "--from", url, "--key-file", dir_ / "k"}).exit_code, 0);
  ProcessResult r = Agent(
      {"restore", "--from", url, "--latest", "--to", dir_ / "out.db", "--key-file", dir_ / "k"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "out.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "aura.db"));
}

TEST_F(S3CliTest, WrongSecretExitsWithAClearCredentialError) {
  std::vector<std::string> env = moto_->Env();
  env.push_back("AWS_SECRET_ACCESS_KEY=wrong");
  ProcessResult r = RunProcess({AURA_AGENT_BIN, "backup", "--db", dir_ / "aura.db", "--to",
                                "s3://aura-cli/x", "--key-file", dir_ / "k"},
                               env);
  EXPECT_EQ(r.exit_code, 13) << r.err;
  EXPECT_NE(r.err.find("check the secret key"), std::string::npos) << r.err;
}

TEST_F(S3CliTest, ConfigFileS3TargetWorks) {
  std::string cfg =
      "[keys]\nkey_file = \"" + (dir_ / "k") +
      "\"\n[[target]]\nname = \"bucket\"\nurl = \"s3://aura-cli/cfg\"\nendpoint = \"" +
      moto_->endpoint() +
      "\"\nregion = \"us-east-1\"\npath_style = true\npart_size_mb = 5\n"
      "list_top_prefix_only = true\n[[database]]\nname = \"aura\"\npath = \"" +
      (dir_ / "aura.db") + "\"\ntargets = [\"bucket\"]\n";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", cfg).ok());
  ASSERT_EQ(Agent({"backup", "--config", dir_ / "agent.toml"}).exit_code, 0);
  ProcessResult r =
      Agent({"restore", "--config", dir_ / "agent.toml", "--latest", "--to", dir_ / "out.db"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// The daemon's jobs against S3: incremental policy chains (the base found by HEAD, increments
// restored through ranged GETs) and retention deleting through DeleteObjects.
TEST_F(S3CliTest, PolicyChainsAndPruneWorkOnS3) {
  std::string cfg =
      "[agent]\nstate_dir = \"" + (dir_ / "state") + "\"\n[keys]\nkey_file = \"" + (dir_ / "k") +
      "\"\n[[target]]\nname = \"bucket\"\nurl = \"s3://aura-cli/chains\"\nendpoint = \"" +
      moto_->endpoint() +
      "\"\nregion = \"us-east-1\"\npath_style = true\nlist_top_prefix_only = true\n"
      "[[database]]\nname = \"aura\"\npath = \"" +
      (dir_ / "aura.db") +
      "\"\ntargets = [\"bucket\"]\nkeep_last = 1\n"
      "hourly = { keep = 1, full_every = 2 }\n";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", cfg).ok());
  std::vector<std::string> kinds;
  for (int i = 0; i < 4; ++i) {
    {
      auto db = SqliteDb::Open(dir_ / "aura.db", SQLITE_OPEN_READWRITE, 1000);
      ASSERT_TRUE(db.ok());
      ASSERT_TRUE(db->Exec("CREATE TABLE IF NOT EXISTS Extra(x BLOB); "
                           "INSERT INTO Extra VALUES(randomblob(5000)); "
                           "PRAGMA wal_checkpoint(TRUNCATE);")
                      .ok());
    }
    ProcessResult b =
        Agent({"backup", "--config", dir_ / "agent.toml", "--policy", "hourly", "--json"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
    kinds.push_back(json::parse(b.out)["snapshots"][0]["kind"]);
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"full", "incremental", "full", "incremental"}));
  ProcessResult p = Agent({"prune", "--config", dir_ / "agent.toml", "--json"});
  ASSERT_EQ(p.exit_code, 0) << p.err;
  ProcessResult l = Agent({"list", "--config", dir_ / "agent.toml", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  const json listing = json::parse(l.out);
  // Same hour: the newest (an increment) and its base stay. Across an hour boundary the older
  // hour keeps its newest too.
  EXPECT_GE(listing["snapshots"].size(), 2u);
  EXPECT_LE(listing["snapshots"].size(), 3u);
  ProcessResult r =
      Agent({"restore", "--config", dir_ / "agent.toml", "--latest", "--to", dir_ / "out.db"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "out.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "aura.db"));
}

TEST_F(S3CliTest, ProcessKilledMidUploadLeavesNoVisibleObject) {
  {
    auto db = SqliteDb::OpenOrCreate(dir_ / "big.db", 1000);
    ASSERT_TRUE(db->Exec("CREATE TABLE b(v BLOB); BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION "
                         "ALL SELECT i+1 FROM n WHERE i < 400) INSERT INTO b SELECT "
                         "randomblob(65536) FROM n; COMMIT;")
                    .ok());
  }
  FaultProxy proxy(moto_->port());
  proxy.FailNext(1, FaultProxy::Mode::kStall, "partNumber=2&");
  ChildProcess backup({AURA_AGENT_BIN, "backup", "--db", dir_ / "big.db", "--to",
                       "s3://aura-cli/killed", "--key-file", dir_ / "k"},
                      moto_->Env(proxy.port()));
  for (int i = 0; i < 400 && proxy.faults() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_EQ(proxy.faults(), 1) << "the upload never reached its second part";
  backup.Signal(SIGKILL);
  backup.Wait();
  proxy.SetMode(FaultProxy::Mode::kPass);
  backup::S3Config c = moto_->Config("killed");
  backup::S3Storage s(c);
  auto objects = s.List("big/");
  ASSERT_TRUE(objects.ok()) << objects.status().ToString();
  EXPECT_TRUE(objects->empty()) << objects->front().name;
  auto aborted = s.RemoveAbandonedWrites(std::chrono::seconds(0));
  ASSERT_TRUE(aborted.ok());
  EXPECT_EQ(*aborted, 1) << "the killed upload is found and aborted";
}

TEST_F(S3CliTest, ContinuousShippingSurvivesAnOutageAndDrains) {
  FaultProxy proxy(moto_->port());
  const std::string url = "s3://aura-cli/repl";
  ChildProcess agent(
      {AURA_AGENT_BIN, "replicate", "--db", dir_ / "aura.db", "--to", url, "--key-file", dir_ / "k",
       "--status-file", dir_ / "st.json", "--poll-ms", "2", "--segment-ms", "10"},
      moto_->Env(proxy.port()));
  auto status = [&] {
    auto t = ReadFileToString(dir_ / "st.json");
    return t.ok() ? json::parse(*t) : json();
  };
  for (int i = 0; i < 500 && status().is_null(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(status().is_null());
  auto app = SqliteDb::Open(dir_ / "aura.db", SQLITE_OPEN_READWRITE, 5000);
  proxy.SetMode(FaultProxy::Mode::kRefuse);  // the store goes away
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(
        app->Exec("INSERT INTO t(name, body) VALUES('during outage', randomblob(300))").ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  json during = status();
  EXPECT_GT(during["pending_txns"].get<uint64_t>(), 0u) << during.dump();
  proxy.SetMode(FaultProxy::Mode::kPass);  // and returns
  for (int i = 0; i < 1500; ++i) {
    json s = status();
    if (s["pending_txns"].get<uint64_t>() == 0 && s["uploaded_txid"] == s["spooled_txid"] &&
        s["uploaded_txid"].get<uint64_t>() > during["uploaded_txid"].get<uint64_t>()) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  agent.Signal(SIGTERM);
  ProcessResult done = agent.Wait();
  ASSERT_EQ(done.exit_code, 0) << done.err;
  app.value() = SqliteDb();
  ProcessResult r = Agent(
      {"restore", "--from", url, "--latest", "--to", dir_ / "out.db", "--key-file", dir_ / "k"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "out.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "aura.db"));
}

}  // namespace
}  // namespace aura
