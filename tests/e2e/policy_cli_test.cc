// `aura-agent backup --policy` and `aura-agent prune` as an administrator runs them: policy
// snapshots form incremental chains that restore byte for byte, `list` shows which snapshots are
// increments, and `prune --dry-run` shows exactly what a real prune then deletes, never a base a
// kept increment needs.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "common/file_io.h"
#include "common/sqlite.h"
#include "tests/support/test_env.h"
#include "tests/tools/aura_dataset.h"

namespace aura {
namespace {

using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;

class PolicyCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "live.db", "4", "--seed", "5"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "k"}).exit_code, 0);
    auto db = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READWRITE, 1000);
    ASSERT_TRUE(db.ok());
    db_ = std::make_unique<SqliteDb>(std::move(db).value());
    ASSERT_TRUE(testtools::PrepareWorkload(*db_).ok());
  }

  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args);
  }

  void WriteConfig(const std::string& hourly, const std::string& extra = "") {
    std::string text = "[agent]\nstate_dir = \"" + std::string(dir_ / "state") +
                       "\"\n[keys]\nkey_file = \"" + std::string(dir_ / "k") +
                       "\"\n[[target]]\nname = \"main\"\nurl = \"" + std::string(dir_ / "repo") +
                       "\"\n[[database]]\nname = \"live\"\npath = \"" +
                       std::string(dir_ / "live.db") +
                       "\"\ntargets = [\"main\"]\nhourly = " + hourly + "\n" + extra;
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", text).ok());
  }

  // Commits `n` workload steps, checkpoints, and keeps a copy of the file as it is now.
  std::string Advance(int n, const std::string& copy_name) {
    for (int i = 0; i < n; ++i) {
      Status s = testtools::ApplyWorkloadStep(*db_, 9, ++step_);
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    EXPECT_TRUE(db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    std::string copy = dir_ / copy_name;
    aura::testing::CopyFile(dir_ / "live.db", copy);
    return copy;
  }

  json PolicyBackup() {
    ProcessResult r =
        Agent({"backup", "--config", dir_ / "agent.toml", "--policy", "hourly", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j.is_discarded() ? json() : j["snapshots"][0];
  }

  void ExpectRestoresTo(const std::string& snapshot, const std::string& expected_file) {
    std::string out = dir_ / ("restored-" + snapshot + ".db");
    ProcessResult r = Agent({"restore", "--config", dir_ / "agent.toml", "--database", "live",
                             "--snapshot", snapshot, "--to", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto got = ReadFileToString(out, 1 << 30);
    auto want = ReadFileToString(expected_file, 1 << 30);
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_TRUE(*got == *want) << snapshot << " does not restore byte for byte to "
                               << expected_file;
  }

  std::vector<std::string> Listed() {
    ProcessResult r = Agent({"list", "--from", dir_ / "repo", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> ids;
    const json listing = json::parse(r.out);
    for (const json& s : listing["snapshots"]) ids.push_back(s["snapshot"]);
    return ids;
  }

  TempDir dir_;
  std::unique_ptr<SqliteDb> db_;
  uint64_t step_ = 0;
};

TEST_F(PolicyCliTest, PolicySnapshotsFormChainsThatRestoreByteForByte) {
  WriteConfig("{ keep = 10, full_every = 3 }");
  std::vector<std::pair<std::string, std::string>> taken;  // snapshot, file it must restore to
  std::vector<std::string> kinds;
  for (int i = 0; i < 4; ++i) {
    std::string expected = Advance(5 + i, "expected-" + std::to_string(i) + ".db");
    json s = PolicyBackup();
    ASSERT_TRUE(s.is_object());
    kinds.push_back(s["kind"]);
    if (s["kind"] == "incremental") {
      EXPECT_EQ(s["base"], taken.back().first) << "an increment builds on the chain's newest";
      EXPECT_GT(s["pages_changed"].get<uint64_t>(), 0u);
      EXPECT_LT(s["stored_size"].get<uint64_t>(), s["size"].get<uint64_t>() / 4)
          << "an increment stores the changed pages, not the database";
    }
    taken.emplace_back(s["snapshot"], expected);
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"full", "incremental", "incremental", "full"}));

  ProcessResult text = Agent({"list", "--from", dir_ / "repo"});
  auto row = [&](const std::string& id) {
    size_t at = text.out.find(id);
    return at == std::string::npos ? std::string()
                                   : text.out.substr(at, text.out.find('\n', at) - at);
  };
  EXPECT_NE(row(taken[0].first).find(" full "), std::string::npos) << text.out;
  EXPECT_NE(row(taken[1].first).find(" incr "), std::string::npos) << text.out;

  for (const auto& [snapshot, expected] : taken) ExpectRestoresTo(snapshot, expected);

  // Losing the state directory loses nothing: the next snapshot starts a new chain.
  std::filesystem::remove_all(dir_ / "state");
  std::string expected = Advance(3, "expected-after-loss.db");
  json s = PolicyBackup();
  EXPECT_EQ(s["kind"], "full");
  ExpectRestoresTo(s["snapshot"], expected);
}

TEST_F(PolicyCliTest, DryRunShowsExactlyWhatPruneDeletesAndBasesOfKeptIncrementsStay) {
  // Four snapshots in the same hour, two chains of two: F1 <- I2, F3 <- I4. With keep = 1 the
  // hour keeps I4, which needs F3; F1 and I2 go.
  WriteConfig("{ keep = 1, full_every = 2 }", "keep_last = 1\npitr_window = \"1h\"\n");
  std::vector<std::string> ids;
  std::string newest_expected;
  for (int i = 0; i < 4; ++i) {
    newest_expected = Advance(4, "expected-" + std::to_string(i) + ".db");
    json b = PolicyBackup();
    ASSERT_TRUE(b.is_object()) << b.dump();
    ids.push_back(b["snapshot"]);
  }
  ASSERT_EQ(Listed().size(), 4u);

  ProcessResult dry = Agent({"prune", "--config", dir_ / "agent.toml", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  json plan = json::parse(dry.out)["prune"][0];
  EXPECT_TRUE(plan["dry_run"].get<bool>());
  std::set<std::string> would_go, kept;
  std::map<std::string, std::string> reasons;
  for (const json& d : plan["snapshots"]) {
    (d["keep"].get<bool>() ? kept : would_go).insert(d["snapshot"].get<std::string>());
    for (const json& r : d["reasons"]) reasons[d["snapshot"]] += r.get<std::string>() + ";";
  }
  ASSERT_EQ(Listed().size(), 4u) << "a dry run deletes nothing";

  // Unless the four snapshots straddled an hour (then the older hour keeps its newest too), the
  // plan is exactly {I4, F3}.
  EXPECT_TRUE(kept.count(ids[3]) && kept.count(ids[2])) << dry.out;
  EXPECT_NE(reasons[ids[2]].find("base of " + ids[3]), std::string::npos) << dry.out;
  if (kept.size() == 2) {
    EXPECT_EQ(would_go, (std::set<std::string>{ids[0], ids[1]}));
  }

  ProcessResult real = Agent({"prune", "--config", dir_ / "agent.toml", "--json"});
  ASSERT_EQ(real.exit_code, 0) << real.err;
  std::vector<std::string> left = Listed();
  EXPECT_EQ(std::set<std::string>(left.begin(), left.end()), kept)
      << "prune deleted exactly what the dry run said";
  ExpectRestoresTo(ids[3], newest_expected);
}

}  // namespace
}  // namespace aura
