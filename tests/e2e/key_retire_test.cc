// `aura-agent key retire` as an operator runs it after a key leaked: a repository with full and
// incremental snapshots and WAL segments sealed under key A, rotated to key B, then A retired.
// Afterwards a key file holding only B restores every snapshot and the latest point, equal to the
// source; a run SIGKILLed at random points never leaves anything unrestorable and a rerun
// finishes; every refusal (unknown key, the newest key, no key file, a running agent, another
// retirement of the same repository) exits with its code and changes nothing; and the run's
// owner-only scratch folder does not outlive it, a killed run's removed by the next run.
#include <sys/stat.h>

#include "agent/state_store.h"
#include "tests/e2e/key_retire_fixture.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::KeyRetireTest;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using nlohmann::json;

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
  bool killed_mid_way = false;
  for (int now : KillRetirementsAtRandomPoints(8, kDelayMs, slice_ms, 14)) {
    if (now > 0 && now < initial) killed_mid_way = true;
  }
  EXPECT_TRUE(killed_mid_way) << "no kill landed while objects were left to re-seal";
  FinishRetirement(dir_ / "k");
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

// The retirement's workspace in TMPDIR (backup/retire_workspace.h), keyed by the repository id.
class KeyRetireWorkspaceTest : public KeyRetireRefusalTest {
 protected:
  std::string Workspace() {
    json info = json::parse(*ReadFileToString(dir_ / "repo/aura-repository.json"));
    return dir_ / ("tmp/aura-retire-" + info["id"].get<std::string>());
  }

  // A run slowed down by `delay_ms` a step, once it holds its lock.
  std::unique_ptr<ChildProcess> StartSlowRun(int delay_ms) {
    auto run = std::make_unique<ChildProcess>(RetireArgs(dir_ / "k"), ScratchEnv(delay_ms));
    // objects/ is made once the lock is held.
    for (int i = 0; i < 500 && !std::filesystem::exists(Workspace() + "/objects"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(std::filesystem::exists(Workspace() + "/lock")) << "the run took no lock";
    return run;
  }
};

// Regression (issue 14): `key retire --from` took no lock, so two runs on one repository re-sealed
// the same objects at once, each replacing what the other had just put and verified.
TEST_F(KeyRetireWorkspaceTest, TwoConcurrentRetirementsOfOneRepositoryBothRan) {
  std::filesystem::create_directory_symlink(dir_ / "repo", dir_ / "repo-link");
  auto first = StartSlowRun(800);
  const std::vector<std::vector<std::string>> second = {
      {"key", "retire", key_a_, "--from", dir_ / "repo", "--key-file", dir_ / "k"},
      {"key", "retire", key_a_, "--from", dir_ / "repo-link", "--key-file", dir_ / "k", "--json"},
      {"key", "retire", key_a_, "--config", dir_ / "agent.toml"}};
  for (std::vector<std::string> args : second) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    ProcessResult r = RunProcess(args, ScratchEnv(0));
    EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
    EXPECT_NE(r.err.find("another key retire of this repository is running on this host (pid " +
                         std::to_string(first->pid())),
              std::string::npos)
        << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  ProcessResult done = first->Wait();
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_EQ(SealedWith(key_a_), 0);
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp"));
  ProcessResult again = RunProcess(RetireArgs(dir_ / "k"), ScratchEnv(0));
  EXPECT_EQ(again.exit_code, 0) << again.err << "the lock is gone with the run";
}

// Regression (issue 14): a killed run left its scratch folder in TMPDIR for good, holding an
// object already sealed with the new key; nothing ever removed it.
TEST_F(KeyRetireWorkspaceTest, AKilledRunsScratchFolderStayedInTmpdirForGood) {
  auto killed = StartSlowRun(300);
  struct stat st = {};
  ASSERT_EQ(::stat(Workspace().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "the scratch folder is the owner's only";
  ASSERT_EQ(::stat((Workspace() + "/objects").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  killed->Signal(SIGKILL);
  killed->Wait();
  // What a run killed between staging and replacing leaves (the kill above may land elsewhere).
  const std::string stale = Workspace() + "/objects/live/snapshots/stale.data";
  std::filesystem::create_directories(std::filesystem::path(stale).parent_path());
  ASSERT_TRUE(WriteFileAtomic(stale, "sealed with the new key").ok());
  ProcessResult next = RunProcess(RetireArgs(dir_ / "k"), ScratchEnv(0));
  ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp")) << "the workspace is removed at the end";
  EXPECT_EQ(SealedWith(key_a_), 0);
}

}  // namespace
}  // namespace aura
