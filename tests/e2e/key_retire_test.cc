// `aura-agent key retire` as an operator runs it after a key leaked: a repository with full and
// incremental snapshots and WAL segments sealed under key A, rotated to key B, then A retired.
// Afterwards a key file holding only B restores every snapshot and the latest point, equal to the
// source; a run SIGKILLed at random points never leaves anything unrestorable and a rerun
// finishes; and every refusal (unknown key, the newest key, no key file, a running agent) exits
// with its code and changes nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "agent/state_store.h"
#include "backup/key_retirement.h"
#include "backup/object_codec.h"
#include "backup/storage/local_storage.h"
#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/support/workload.h"
#include "tests/tools/aura_dataset.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;

constexpr uint64_t kSeed = aura::testing::kWorkloadSeed;

class KeyRetireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, dir_ / "initial.db", "4", "--seed", "2"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    {
      auto db = SqliteDb::Open(dir_ / "initial.db", SQLITE_OPEN_READWRITE, 1000);
      ASSERT_TRUE(testtools::PrepareWorkload(*db).ok());
    }
    aura::testing::CopyFile(dir_ / "initial.db", dir_ / "live.db");
    auto db = SqliteDb::Open(dir_ / "live.db", SQLITE_OPEN_READWRITE, 1000);
    ASSERT_TRUE(db.ok());
    db_ = std::make_unique<SqliteDb>(std::move(db).value());
    key_a_ = KeyIdOf(Agent({"key", "generate", "--out", dir_ / "k", "--json"}));
    std::string text = "[agent]\nstate_dir = \"" + std::string(dir_ / "state") +
                       "\"\n[keys]\nkey_file = \"" + std::string(dir_ / "k") +
                       "\"\n[[target]]\nname = \"main\"\nurl = \"" + std::string(dir_ / "repo") +
                       "\"\n[[database]]\nname = \"live\"\npath = \"" +
                       std::string(dir_ / "live.db") +
                       "\"\ntargets = [\"main\"]\nhourly = { keep = 10, full_every = 3 }\n";
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", text).ok());
  }

  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args);
  }

  static std::string KeyIdOf(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("key_id", "") : "";
  }

  void Steps(int n) {
    for (int i = 0; i < n; ++i) {
      Status s = testtools::ApplyWorkloadStep(*db_, kSeed, ++step_);
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
  }

  json ReplStatus() {
    auto text = ReadFileToString(dir_ / "status.json");
    return text.ok() ? json::parse(*text, nullptr, false) : json();
  }

  // WAL shipping while `n` steps commit, until all of them are uploaded.
  void Replicate(int n) {
    std::filesystem::remove(dir_ / "status.json");
    ChildProcess agent({AURA_AGENT_BIN, "replicate", "--db", dir_ / "live.db", "--to",
                        dir_ / "repo", "--key-file", dir_ / "k", "--name", "live", "--status-file",
                        dir_ / "status.json", "--poll-ms", "2", "--segment-ms", "10"});
    for (int i = 0; i < 1000 && !ReplStatus().is_object(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(ReplStatus().is_object()) << "replicate did not start";
    const uint64_t base = ReplStatus()["spooled_txid"].get<uint64_t>();
    for (int i = 0; i < n; ++i) {
      Steps(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (int i = 0; i < 1500; ++i) {
      json s = ReplStatus();
      if (s.is_object() && s["uploaded_txid"].get<uint64_t>() >= base + n) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GE(ReplStatus()["uploaded_txid"].get<uint64_t>(), base + n) << ReplStatus().dump();
    agent.Signal(SIGTERM);
    EXPECT_EQ(agent.Wait().exit_code, 0);
  }

  void PolicyBackup(int steps) {
    Steps(steps);
    ASSERT_TRUE(db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
    ProcessResult r = Agent({"backup", "--config", dir_ / "agent.toml", "--policy", "hourly"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // Under key A: WAL segments, a full and an incremental snapshot. Then key B, an increment on
  // A's chain and more WAL segments under B.
  void BuildHistory(int segments_steps) {
    Replicate(segments_steps);
    PolicyBackup(5);
    PolicyBackup(5);
    key_b_ = KeyIdOf(Agent({"key", "add", "--file", dir_ / "k", "--json"}));
    ASSERT_FALSE(key_b_.empty());
    PolicyBackup(5);
    Replicate(segments_steps);
    // What the history must hold for the tests to mean anything.
    int segments_a = 0, increments = 0;
    for (const std::string& n : ObjectsSealedWith(key_a_)) segments_a += n.ends_with(".seg");
    ProcessResult l = Agent({"list", "--from", dir_ / "repo", "--json"});
    const json listed = json::parse(l.out);
    for (const json& snap : listed["snapshots"]) increments += snap["kind"] == "incremental";
    EXPECT_GT(segments_a, 0) << "no WAL segment sealed with A";
    EXPECT_GE(increments, 2) << "no incremental snapshot under A and under B";
    EXPECT_GT(SealedWith(key_b_), 0);
  }

  // The objects in the repository sealed with `key_hex`.
  std::vector<std::string> ObjectsSealedWith(const std::string& key_hex) {
    backup::LocalStorage storage(dir_ / "repo");
    auto id = backup::ParseKeyId(key_hex);
    std::vector<std::string> out;
    auto listed = storage.List("");
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    if (!listed.ok()) return {};
    for (const backup::ObjectInfo& o : *listed) {
      if (o.name == backup::kRepositoryConfigName) continue;
      auto in = storage.Open(o.name, 0, backup::kToEnd);
      auto h = backup::ReadObjectHeader(**in, o.name);
      EXPECT_TRUE(h.ok()) << h.status().ToString();
      if (h.ok() && h->key_id == *id) out.push_back(o.name);
    }
    return out;
  }
  int SealedWith(const std::string& key_hex) {
    return static_cast<int>(ObjectsSealedWith(key_hex).size());
  }

  // Every object file of the repository and its SHA-256.
  std::map<std::string, std::string> RepoFiles() {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "repo")) {
      if (e.is_regular_file()) out[e.path().string()] = aura::testing::FileSha256(e.path());
    }
    return out;
  }

  std::string Restore(const std::string& key_file, std::vector<std::string> point,
                      const std::string& name) {
    std::vector<std::string> args = {"restore",   "--from",     dir_ / "repo", "--to",
                                     dir_ / name, "--key-file", key_file,      "--force"};
    args.insert(args.end(), point.begin(), point.end());
    ProcessResult r = Agent(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.exit_code == 0 ? std::string(dir_ / name) : "";
  }

  // Every snapshot and the latest point restore with `key_file`, each equal to the source at its
  // workload step, and verify finds nothing bad.
  void ExpectEverythingRestores(const std::string& key_file) {
    ProcessResult l = Agent({"list", "--from", dir_ / "repo", "--json"});
    ASSERT_EQ(l.exit_code, 0) << l.err;
    const json listed = json::parse(l.out);
    ASSERT_GE(listed["snapshots"].size(), 4u);
    for (const json& s : listed["snapshots"]) {
      std::string id = s["snapshot"];
      std::string file = Restore(key_file, {"--snapshot", id}, "snap.db");
      if (file.empty()) continue;
      uint64_t step = aura::testing::WorkloadStepOf(file);
      EXPECT_EQ(*integrity::LogicalChecksumOfFile(file), replay_.Expected(step)) << id;
    }
    std::string latest = Restore(key_file, {"--latest"}, "latest.db");
    if (!latest.empty()) {
      EXPECT_EQ(aura::testing::WorkloadStepOf(latest), step_);
      EXPECT_EQ(*integrity::LogicalChecksumOfFile(latest), replay_.Expected(step_));
    }
    ProcessResult v = Agent({"verify", "--from", dir_ / "repo", "--key-file", key_file});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }

  std::vector<std::string> RetireArgs(const std::string& key_file) {
    return {AURA_AGENT_BIN, "key",        "retire", key_a_,  "--from",
            dir_ / "repo",  "--key-file", key_file, "--json"};
  }

  std::vector<std::string> ScratchEnv(int delay_ms) {
    std::filesystem::create_directories(dir_ / "tmp");
    return {"TMPDIR=" + std::string(dir_ / "tmp"),
            "AURA_TEST_RETIRE_STEP_DELAY_MS=" + std::to_string(delay_ms)};
  }

  TempDir dir_;
  std::unique_ptr<SqliteDb> db_;
  uint64_t step_ = 0;
  std::string key_a_, key_b_;
  aura::testing::WorkloadReplay replay_{dir_ / "initial.db", dir_ / "replay.db"};
};

TEST_F(KeyRetireTest, AfterRetiringAKeyFileWithOnlyTheNewKeyRestoresEverySnapshotAndTheLatest) {
  BuildHistory(20);
  ASSERT_GT(SealedWith(key_a_), 0);
  ASSERT_GT(SealedWith(key_b_), 0);
  aura::testing::CopyFile(dir_ / "k", dir_ / "k-retire");
  std::vector<std::string> args = RetireArgs(dir_ / "k-retire");
  args.push_back("--drop-from-key-file");
  ProcessResult r = RunProcess(args, ScratchEnv(0));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  EXPECT_GT(j["resealed"].get<int>(), 0) << r.out;
  EXPECT_GT(j["references_rewritten"].get<int>(), 0) << r.out;
  EXPECT_EQ(j["old_objects_deleted"].get<int>(),
            j["resealed"].get<int>() + j["references_rewritten"].get<int>());
  EXPECT_EQ(SealedWith(key_a_), 0);
  // The retired key is gone from the key file, which now holds B alone.
  auto ring = backup::Keyring::LoadFile(dir_ / "k-retire");
  ASSERT_TRUE(ring.ok());
  ASSERT_EQ(ring->keys().size(), 1u);
  EXPECT_EQ(ring->keys()[0].IdHex(), key_b_);
  ExpectEverythingRestores(dir_ / "k-retire");
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp")) << "scratch left behind";
  // A second run has nothing to do.
  ProcessResult again = RunProcess(RetireArgs(dir_ / "k"), ScratchEnv(0));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(json::parse(again.out)["resealed"], 0);
  EXPECT_EQ(json::parse(again.out)["references_rewritten"], 0);
}

TEST_F(KeyRetireTest, SigkillAtRandomPointsLeavesEverythingRestorableAndARerunFinishes) {
  BuildHistory(12);
  const int initial = SealedWith(key_a_);
  ASSERT_GT(initial, 4);
  constexpr int kDelayMs = 40;
  // Each run is killed after about an eighth of the whole job's expected time, give or take.
  const int slice_ms = initial * (kDelayMs + 15) / 8;
  std::mt19937 rng(14);
  std::uniform_int_distribution<int> jitter(slice_ms / 2, slice_ms * 3 / 2);
  bool killed_mid_way = false;
  int remaining = initial;
  for (int i = 0; i < 8; ++i) {
    ChildProcess run(RetireArgs(dir_ / "k"), ScratchEnv(kDelayMs));
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
    run.Signal(SIGKILL);
    run.Wait();
    const int now = SealedWith(key_a_);
    EXPECT_LE(now, remaining) << "a rerun must not undo what an earlier run finished";
    if (now > 0 && now < initial) killed_mid_way = true;
    remaining = now;
    SCOPED_TRACE("after kill " + std::to_string(i) + ", " + std::to_string(now) + " of " +
                 std::to_string(initial) + " objects still sealed with A");
    ExpectEverythingRestores(dir_ / "k");  // A and B
  }
  EXPECT_TRUE(killed_mid_way) << "no kill landed while objects were left to re-seal";
  std::vector<std::string> args = RetireArgs(dir_ / "k");
  args.push_back("--drop-from-key-file");
  ProcessResult done = RunProcess(args, ScratchEnv(0));
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_EQ(SealedWith(key_a_), 0);
  ExpectEverythingRestores(dir_ / "k");  // B only now
}

class KeyRetireRefusalTest : public KeyRetireTest {
 protected:
  void SetUp() override {
    KeyRetireTest::SetUp();
    PolicyBackup(5);
    key_b_ = KeyIdOf(Agent({"key", "add", "--file", dir_ / "k", "--json"}));
    PolicyBackup(5);
    before_ = RepoFiles();
  }

  void ExpectRefused(const std::vector<std::string>& args, int code, const std::string& says) {
    ProcessResult r = Agent(args);
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(RepoFiles(), before_) << "a refused retirement changed the repository";
  }

  std::map<std::string, std::string> before_;
};

TEST_F(KeyRetireRefusalTest, AKeyTheKeyFileDoesNotHoldIsAKeyErrorAndChangesNothing) {
  ExpectRefused(
      {"key", "retire", "0123456789abcdef", "--from", dir_ / "repo", "--key-file", dir_ / "k"}, 6,
      "is not in");
}

TEST_F(KeyRetireRefusalTest, TheNewestKeyIsAKeyErrorAndChangesNothing) {
  ExpectRefused({"key", "retire", key_b_, "--from", dir_ / "repo", "--key-file", dir_ / "k"}, 6,
                "key add");
}

TEST_F(KeyRetireRefusalTest, NoKeyFileIsAKeyErrorAndChangesNothing) {
  ExpectRefused({"key", "retire", key_a_, "--from", dir_ / "repo"}, 6, "--key-file");
}

TEST_F(KeyRetireRefusalTest, AKeyIdThatIsNotHexIsABadArgumentAndChangesNothing) {
  ExpectRefused({"key", "retire", "not-a-key", "--from", dir_ / "repo", "--key-file", dir_ / "k"},
                2, "key id");
}

TEST_F(KeyRetireRefusalTest, ARunningAgentHoldingTheStateDirectoryMakesItBusyAndChangesNothing) {
  auto lock = agent::StateDirLock::Acquire(dir_ / "state");
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ExpectRefused({"key", "retire", key_a_, "--config", dir_ / "agent.toml"}, 7, "stop it");
}

TEST_F(KeyRetireRefusalTest, ADamagedObjectIsNeverReplacedAndTheRunStopsWithCorruption) {
  std::string victim;
  for (const std::string& name : ObjectsSealedWith(key_a_)) {
    if (name.size() > 5 && name.substr(name.size() - 5) == ".data")
      victim = dir_ / ("repo/" + name);
  }
  ASSERT_FALSE(victim.empty());
  auto bytes = ReadFileToString(victim, 1 << 30);
  ASSERT_TRUE(bytes.ok());
  (*bytes)[bytes->size() / 2] ^= 0x40;
  ASSERT_TRUE(WriteFileAtomic(victim, *bytes).ok());
  const std::string damaged = aura::testing::FileSha256(victim);
  ProcessResult r =
      Agent({"key", "retire", key_a_, "--from", dir_ / "repo", "--key-file", dir_ / "k"});
  EXPECT_EQ(r.exit_code, 5) << r.out << r.err;
  EXPECT_EQ(aura::testing::FileSha256(victim), damaged) << "a damaged object was replaced";
  EXPECT_FALSE(ObjectsSealedWith(key_a_).empty());
}

TEST_F(KeyRetireRefusalTest, WithTheConfigFormItRetiresWhenNoAgentRuns) {
  ProcessResult r = Agent({"key", "retire", key_a_, "--config", dir_ / "agent.toml", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(json::parse(r.out)["resealed"].get<int>(), 0);
  EXPECT_EQ(SealedWith(key_a_), 0);
}

}  // namespace
}  // namespace aura
