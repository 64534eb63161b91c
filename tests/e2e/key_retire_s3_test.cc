// `aura-agent key retire` on a bucket (moto_server, signatures checked): the history of
// key_retire_test.cc (snapshots and WAL segments under key A, more under key B) retired from A,
// then restored with a key file holding B alone; and runs SIGKILLed at random points, after each
// of which everything restores with A and B, and a completing run after which B alone suffices.

#include "backup/storage/s3_storage.h"
#include "tests/e2e/key_retire_fixture.h"
#include "tests/support/moto_server.h"

namespace aura {
namespace {

using aura::testing::ChildProcess;
using aura::testing::KeyRetireTest;
using aura::testing::MotoServer;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using nlohmann::json;

class KeyRetireS3Test : public KeyRetireTest {
 protected:
  void SetUp() override {
    std::string missing = MotoServer::Missing();
    ASSERT_TRUE(missing.empty()) << missing;
    moto_ = std::make_unique<MotoServer>(true, "aura-retire");
    ASSERT_TRUE(moto_->ready());
    KeyRetireTest::SetUp();
  }

  std::string RepoUrl() override { return "s3://aura-retire/repo"; }
  std::string TargetSettings() override {
    return "endpoint = \"" + moto_->endpoint() +
           "\"\nregion = \"us-east-1\"\npath_style = true\nlist_top_prefix_only = true\n";
  }
  std::vector<std::string> Env() override { return moto_->Env(); }
  std::unique_ptr<backup::Storage> OpenStorage() override {
    return std::make_unique<backup::S3Storage>(moto_->Config("repo"));
  }

  std::unique_ptr<MotoServer> moto_;
};

TEST_F(KeyRetireS3Test, AfterRetiringOnS3AKeyFileWithOnlyTheNewKeyRestoresEverything) {
  BuildHistory(12);
  ASSERT_GT(SealedWith(key_a_), 0);
  aura::testing::CopyFile(dir_ / "k", dir_ / "k-retire");
  std::vector<std::string> args = RetireArgs(dir_ / "k-retire");
  args.push_back("--drop-from-key-file");
  ProcessResult r = RunProcess(args, ScratchEnv(0));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  EXPECT_GT(j["resealed"].get<int>(), 0) << r.out;
  EXPECT_GT(j["references_rewritten"].get<int>(), 0) << r.out;
  EXPECT_EQ(SealedWith(key_a_), 0);
  auto ring = backup::Keyring::LoadFile(dir_ / "k-retire");
  ASSERT_TRUE(ring.ok());
  ASSERT_EQ(ring->keys().size(), 1u);
  EXPECT_EQ(ring->keys()[0].IdHex(), key_b_);
  ExpectEverythingRestores(dir_ / "k-retire");
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp")) << "scratch left behind";
}

TEST_F(KeyRetireS3Test, SigkillDuringRetirementOnS3LeavesEverythingRestorable) {
  BuildHistory(8);
  const int initial = SealedWith(key_a_);
  ASSERT_GT(initial, 3);
  constexpr int kDelayMs = 60;
  const int slice_ms = initial * (kDelayMs + 40) / 4;
  const std::vector<int> left = KillRetirementsAtRandomPoints(3, kDelayMs, slice_ms, 1414);
  EXPECT_LT(left.back(), initial) << "no kill landed after an object was re-sealed";
  aura::testing::CopyFile(dir_ / "k", dir_ / "k-retire");
  FinishRetirement(dir_ / "k-retire");
  EXPECT_TRUE(std::filesystem::is_empty(dir_ / "tmp")) << "a killed run's scratch is left";
}

}  // namespace
}  // namespace aura
