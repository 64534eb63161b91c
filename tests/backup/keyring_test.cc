#include "backup/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <new>

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
  ASSERT_TRUE(WriteFileAtomic(dir / "k", "# comment\n\naura-key-v1 notbase64!!\n", 0600).ok());
  auto ring = Keyring::LoadFile(dir / "k");
  EXPECT_EQ(ring.status().code(), Code::kKeyError);
  EXPECT_NE(ring.status().message().find(":3:"), std::string::npos) << ring.status().message();
}

// Regression (issue 14): a key file others may read (0644, 0666) was loaded without a word, as
// ssh refuses such a private key.
TEST(Keyring, AKeyFileOthersMayReadOrWriteIsRefusedNamingTheModeAndTheFix) {
  TempDir dir;
  const std::string path = dir / "k";
  ASSERT_TRUE(CreateKeyFile(path).ok());
  for (mode_t mode : {0644, 0666, 0640, 0604, 0620, 0602, 0700}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    auto ring = Keyring::LoadFile(path);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    if (mode == 0700) {
      EXPECT_TRUE(ring.ok()) << "the owner's own bits are the owner's business";
      continue;
    }
    ASSERT_EQ(ring.status().code(), Code::kKeyError) << octal;
    const std::string& m = ring.status().message();
    EXPECT_NE(m.find(std::string("mode ") + octal), std::string::npos) << m;
    EXPECT_NE(m.find("chmod 600 " + path), std::string::npos) << m;
    EXPECT_NE(m.find("AURA_ALLOW_OPEN_KEY_FILES=1"), std::string::npos) << m;
    EXPECT_EQ(AddKeyToFile(path).status().code(), Code::kKeyError) << "key add refuses it too";
  }
  for (mode_t mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
    EXPECT_TRUE(Keyring::LoadFile(path).ok()) << mode;
  }
}

TEST(Keyring, TheOverrideLoadsAnOpenKeyFile) {
  TempDir dir;
  ASSERT_TRUE(CreateKeyFile(dir / "k").ok());
  ASSERT_EQ(::chmod((dir / "k").c_str(), 0644), 0);
  ASSERT_EQ(::setenv("AURA_ALLOW_OPEN_KEY_FILES", "1", 1), 0);
  auto ring = Keyring::LoadFile(dir / "k");
  ::unsetenv("AURA_ALLOW_OPEN_KEY_FILES");
  EXPECT_TRUE(ring.ok()) << ring.status().ToString();
}

// Regression (issue 14): `key add` rewrote the file as the user who ran it (root:root), so the
// agent's account could no longer read the key it owned.
TEST(Keyring, AddingAKeyKeepsTheFilesOwnerAndGroup) {
  TempDir dir;
  const std::string path = dir / "k";
  ASSERT_TRUE(CreateKeyFile(path).ok());
  const bool root = ::geteuid() == 0;
  const uid_t uid = root ? 65534 : ::geteuid();
  const gid_t gid = root ? 65534 : ::getegid();
  ASSERT_EQ(::chown(path.c_str(), uid, gid), 0);
  ASSERT_TRUE(AddKeyToFile(path).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, uid);
  EXPECT_EQ(st.st_gid, gid);
  if (!root) GTEST_SKIP() << "the owner part needs root (chown to another uid)";
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

namespace aura::backup {
namespace {

// issue 14: key material stayed in memory after use. Every copy of a key wipes its bytes when it
// is destroyed; the storage a key lived in holds zeros afterwards.
TEST(Keyring, KeyBytesWereLeftInMemoryAfterTheKeyWasDestroyed) {
  std::array<uint8_t, 32> secret{};
  secret.fill(0xAB);
  alignas(Key) unsigned char storage[sizeof(Key)];
  Key* k = new (storage) Key(Key::FromBytes(secret));
  ASSERT_EQ(k->bytes, secret);
  k->~Key();
  const unsigned char* after = storage + offsetof(Key, bytes);
  for (size_t i = 0; i < secret.size(); ++i) EXPECT_EQ(after[i], 0) << "byte " << i;
}

}  // namespace
}  // namespace aura::backup
