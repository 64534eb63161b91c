// The key retirement suites' fixture (key_retire_test.cc against a local folder,
// key_retire_s3_test.cc against moto_server): a repository with full and incremental snapshots
// and WAL segments sealed under key A, then key B, built by the real binary; restores of every
// snapshot and the latest point compared with the workload's replay.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "backup/key_retirement.h"
#include "backup/object_codec.h"
#include "backup/storage/local_storage.h"
#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"
#include "tests/support/workload.h"
#include "tests/tools/aura_dataset.h"

namespace aura::testing {

inline constexpr uint64_t kRetireSeed = kWorkloadSeed;

class KeyRetireTest : public ::testing::Test {
 protected:
  using json = nlohmann::json;

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
                       "\"\n[[target]]\nname = \"main\"\nurl = \"" + RepoUrl() + "\"\n" +
                       TargetSettings() + "[[database]]\nname = \"live\"\npath = \"" +
                       std::string(dir_ / "live.db") +
                       "\"\ntargets = [\"main\"]\nhourly = { keep = 10, full_every = 3 }\n";
    ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", text).ok());
  }

  // Where the repository is, as --from and --to take it, and the target's other settings.
  virtual std::string RepoUrl() { return dir_ / "repo"; }
  virtual std::string TargetSettings() { return ""; }
  // The environment of every command (an S3 endpoint and its credentials).
  virtual std::vector<std::string> Env() { return {}; }
  // The repository's storage, for looking at its objects directly.
  virtual std::unique_ptr<backup::Storage> OpenStorage() {
    return std::make_unique<backup::LocalStorage>(dir_ / "repo");
  }

  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args, Env());
  }

  static std::string KeyIdOf(const ProcessResult& r) {
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("key_id", "") : "";
  }

  void Steps(int n) {
    for (int i = 0; i < n; ++i) {
      Status s = testtools::ApplyWorkloadStep(*db_, kRetireSeed, ++step_);
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
    ChildProcess agent({AURA_AGENT_BIN, "replicate", "--db", dir_ / "live.db", "--to", RepoUrl(),
                        "--key-file", dir_ / "k", "--name", "live", "--status-file",
                        dir_ / "status.json", "--poll-ms", "2", "--segment-ms", "10"},
                       Env());
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
    ProcessResult l = Agent({"list", "--from", RepoUrl(), "--json"});
    const json listed = json::parse(l.out);
    for (const json& snap : listed["snapshots"]) increments += snap["kind"] == "incremental";
    EXPECT_GT(segments_a, 0) << "no WAL segment sealed with A";
    EXPECT_GE(increments, 2) << "no incremental snapshot under A and under B";
    EXPECT_GT(SealedWith(key_b_), 0);
  }

  // The objects in the repository sealed with `key_hex`.
  std::vector<std::string> ObjectsSealedWith(const std::string& key_hex) {
    std::unique_ptr<backup::Storage> owned = OpenStorage();
    backup::Storage& storage = *owned;
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
    std::vector<std::string> args = {"restore",   "--from",     RepoUrl(), "--to",
                                     dir_ / name, "--key-file", key_file,  "--force"};
    args.insert(args.end(), point.begin(), point.end());
    ProcessResult r = Agent(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return r.exit_code == 0 ? std::string(dir_ / name) : "";
  }

  // Every snapshot and the latest point restore with `key_file`, each equal to the source at its
  // workload step, and verify finds nothing bad.
  void ExpectEverythingRestores(const std::string& key_file) {
    ProcessResult l = Agent({"list", "--from", RepoUrl(), "--json"});
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
    ProcessResult v = Agent({"verify", "--from", RepoUrl(), "--key-file", key_file});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  }

  std::vector<std::string> RetireArgs(const std::string& key_file) {
    return {AURA_AGENT_BIN, "key",        "retire", key_a_,  "--from",
            RepoUrl(),      "--key-file", key_file, "--json"};
  }

  std::vector<std::string> ScratchEnv(int delay_ms) {
    std::filesystem::create_directories(dir_ / "tmp");
    std::vector<std::string> env = Env();
    env.push_back("TMPDIR=" + std::string(dir_ / "tmp"));
    env.push_back("AURA_TEST_RETIRE_STEP_DELAY_MS=" + std::to_string(delay_ms));
    return env;
  }

  // `runs` retirements of A (`delay_ms` per step), each SIGKILLed at a random point around
  // `slice_ms`, once it has re-sealed at least one object. After each kill no object went back to A
  // and everything restores with A and B. Returns how many objects were still sealed with A after
  // each kill.
  std::vector<int> KillRetirementsAtRandomPoints(int runs, int delay_ms, int slice_ms,
                                                 unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> jitter(slice_ms / 2, slice_ms * 3 / 2);
    std::vector<int> left;
    int remaining = SealedWith(key_a_);
    for (int i = 0; i < runs; ++i) {
      ChildProcess run(RetireArgs(dir_ / "k"), ScratchEnv(delay_ms));
      std::this_thread::sleep_for(std::chrono::milliseconds(jitter(rng)));
      // On a loaded machine the run may not have re-sealed anything yet: let it make some
      // progress first, so the kill lands mid-way rather than before the first step.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (remaining > 0 && SealedWith(key_a_) >= remaining &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      run.Signal(SIGKILL);
      run.Wait();
      const int now = SealedWith(key_a_);
      EXPECT_LE(now, remaining) << "a rerun must not undo what an earlier run finished";
      remaining = now;
      left.push_back(now);
      SCOPED_TRACE("after kill " + std::to_string(i) + ", " + std::to_string(now) +
                   " objects still sealed with A");
      ExpectEverythingRestores(dir_ / "k");  // A and B
    }
    return left;
  }

  // A retirement run to its end with --drop-from-key-file on `key_file`: nothing is left sealed
  // with A and everything restores with B alone.
  void FinishRetirement(const std::string& key_file) {
    std::vector<std::string> args = RetireArgs(key_file);
    args.push_back("--drop-from-key-file");
    ProcessResult done = RunProcess(args, ScratchEnv(0));
    ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
    EXPECT_EQ(SealedWith(key_a_), 0);
    ExpectEverythingRestores(key_file);  // B only
  }

  TempDir dir_;
  std::unique_ptr<SqliteDb> db_;
  uint64_t step_ = 0;
  std::string key_a_, key_b_;
  aura::testing::WorkloadReplay replay_{dir_ / "initial.db", dir_ / "replay.db"};
};

}  // namespace aura::testing
