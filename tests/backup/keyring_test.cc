#include "backup/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "common/file_io.h"
#include "tests/support/test_env.h"

namespace aura::backup {
namespace {

using aura::testing::TempDir;

TEST(Keyring, GeneratedKeyFileIsPrivateAndLoads) {
  TempDir dir;
  auto key = CreateKeyFile(dir / "backup.key");
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  struct stat st;
  ASSERT_EQ(::stat((dir / "backup.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto ring = Keyring::LoadFile(dir / "backup.key");
  ASSERT_TRUE(ring.ok());
  EXPECT_EQ(ring->WriteKey().id, key->id);
  EXPECT_EQ(ring->WriteKey().bytes, key->bytes);
}

TEST(Keyring, GenerateRefusesToOverwriteAKey) {
  TempDir dir;
  ASSERT_TRUE(CreateKeyFile(dir / "k").ok());
  std::string before = *ReadFileToString(dir / "k");
  EXPECT_EQ(CreateKeyFile(dir / "k").status().code(), Code::kAlreadyExists);
  EXPECT_EQ(*ReadFileToString(dir / "k"), before);
}

TEST(Keyring, AddedKeyWritesAndOldKeysStillRead) {
  TempDir dir;
  auto first = CreateKeyFile(dir / "k");
  auto second = AddKeyToFile(dir / "k");
  ASSERT_TRUE(second.ok());
  auto ring = Keyring::LoadFile(dir / "k");
  ASSERT_TRUE(ring.ok());
  EXPECT_EQ(ring->WriteKey().id, second->id);
  ASSERT_NE(ring->Find(first->id), nullptr);
  EXPECT_EQ(ring->keys().size(), 2u);
}

TEST(Keyring, MalformedLineNamesTheLine) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "k", "# comment\n\naura-key-v1 notbase64!!\n").ok());
  auto ring = Keyring::LoadFile(dir / "k");
  EXPECT_EQ(ring.status().code(), Code::kKeyError);
  EXPECT_NE(ring.status().message().find(":3:"), std::string::npos) << ring.status().message();
}

TEST(Keyring, MissingFileSaysHowToCreateOne) {
  auto ring = Keyring::LoadFile("/nonexistent/backup.key");
  EXPECT_EQ(ring.status().code(), Code::kNotFound);
  EXPECT_NE(ring.status().message().find("key generate"), std::string::npos);
}

TEST(Keyring, PassphraseDerivationDependsOnSalt) {
  std::vector<uint8_t> salt1(32, 1), salt2(32, 2);
  ScryptParams fast{1 << 10, 8, 1};
  auto a = DeriveKeyFromPassphrase("correct horse", salt1, fast);
  auto b = DeriveKeyFromPassphrase("correct horse", salt1, fast);
  auto c = DeriveKeyFromPassphrase("correct horse", salt2, fast);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->bytes, b->bytes);
  EXPECT_NE(a->bytes, c->bytes);
  EXPECT_EQ(DeriveKeyFromPassphrase("", salt1, fast).status().code(), Code::kKeyError);
}

}  // namespace
}  // namespace aura::backup
