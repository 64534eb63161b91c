// Secret files the agent reads are refused when others may use them (one check for all of them:
// common/secret_file.h), and what the agent creates gets its own mode whatever the umask.
#include "common/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "agent/config.h"
#include "backup/storage/s3_config.h"
#include "common/file_io.h"
#include "common/sqlite.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::TempDir;

mode_t ModeOf(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

void ExpectRefusedNamingTheFix(const Status& s, const std::string& what, const std::string& path) {
  ASSERT_EQ(s.code(), Code::kKeyError) << s.ToString();
  EXPECT_NE(s.message().find(what + " " + path + " has mode 0644"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("chmod 600 " + path), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("AURA_ALLOW_OPEN_KEY_FILES=1"), std::string::npos) << s.message();
}

// Regression (issue 14): the bearer token of the status endpoint was read whatever its mode.
TEST(SecretFile, StatusTokenFileReadableByOthersIsRefused) {
  TempDir dir;
  const std::string path = dir / "token";
  ASSERT_TRUE(WriteFileAtomic(path, "s3cr3t-token-0123456789\n", 0644).ok());
  auto token = agent::ReadStatusToken(path);
  ExpectRefusedNamingTheFix(token.status(), "status token file", path);
  EXPECT_EQ(token.status().message().find("s3cr3t"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_TRUE(agent::ReadStatusToken(path).ok());
  EXPECT_EQ(*agent::ReadStatusToken(path), "s3cr3t-token-0123456789");
}

// Regression (issue 14): the S3 shared credentials file was read whatever its mode, and the mode
// error must not be hidden behind "no S3 credentials".
TEST(SecretFile, CredentialsFileReadableByOthersIsRefused) {
  TempDir dir;
  const std::string path = dir / "credentials";
  ASSERT_TRUE(WriteFileAtomic(path,
                              "[default]\naws_access_key_id = AKIDEXAMPLE\n"
                              "aws_secret_access_key = not-a-real-secret\n",
                              0644)
                  .ok());
  ExpectRefusedNamingTheFix(backup::ReadSharedCredentials(path, "default").status(),
                            "AWS credentials file", path);
  auto config = backup::S3ConfigFromUrl("s3://bucket/p", {{"AWS_SHARED_CREDENTIALS_FILE", path}});
  ExpectRefusedNamingTheFix(config.status(), "AWS credentials file", path);
  EXPECT_EQ(config.status().message().find("not-a-real-secret"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  auto ok = backup::S3ConfigFromUrl("s3://bucket/p", {{"AWS_SHARED_CREDENTIALS_FILE", path}});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->credentials.access_key_id, "AKIDEXAMPLE");
}

TEST(SecretFile, TheOverrideReadsOpenTokenAndCredentialsFiles) {
  TempDir dir;
  ASSERT_TRUE(WriteFileAtomic(dir / "token", "s3cr3t-token-0123456789\n", 0644).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "credentials",
                              "[default]\naws_access_key_id = AK\naws_secret_access_key = S\n",
                              0644)
                  .ok());
  ASSERT_EQ(::setenv(kAllowOpenKeyFilesEnv, "1", 1), 0);
  auto token = agent::ReadStatusToken(dir / "token");
  auto creds = backup::ReadSharedCredentials(dir / "credentials", "default");
  ::unsetenv(kAllowOpenKeyFilesEnv);
  EXPECT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_TRUE(creds.ok()) << creds.status().ToString();
}

// Regression (issue 14): folders were made with mkdir's mode less the umask (0755 under the
// default umask, 0700 under the service's UMask=0077), whatever the caller asked for.
TEST(FileModes, CreatedFoldersGetExactlyTheirModeAndExistingOnesAreLeftAlone) {
  TempDir dir;
  ASSERT_TRUE(CreateDirectories(dir / "mine", 0700).ok());
  ASSERT_EQ(::chmod((dir / "mine").c_str(), 0755), 0);
  for (mode_t umask : {0000, 0077}) {
    const std::string top = dir / ("u" + std::to_string(umask));
    const mode_t old = ::umask(umask);
    Status made = CreateDirectories(top + "/a/b", 0750);
    Status again = CreateDirectories(dir / "mine/c", 0750);
    ::umask(old);
    ASSERT_TRUE(made.ok() && again.ok()) << made.ToString() << again.ToString();
    EXPECT_EQ(ModeOf(top), 0750u) << "umask " << umask;
    EXPECT_EQ(ModeOf(top + "/a/b"), 0750u) << "umask " << umask;
  }
  EXPECT_EQ(ModeOf(dir / "mine"), 0755u) << "a folder that existed keeps its mode";
}

// Regression (issue 14): the state database was created 0644 less the umask (0644 under 0000).
TEST(FileModes, APrivateDatabaseAndItsWalAreOwnerOnlyUnderAnyUmask) {
  TempDir dir;
  const mode_t old = ::umask(0);
  {
    auto db = SqliteDb::OpenOrCreatePrivate(dir / "state.db", 1000);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x)").ok());
    EXPECT_EQ(ModeOf(dir / "state.db"), 0600u);
    EXPECT_EQ(ModeOf(dir / "state.db-wal"), 0600u);
    EXPECT_EQ(ModeOf(dir / "state.db-shm"), 0600u);
  }
  ::umask(old);
  auto reopened = SqliteDb::OpenOrCreatePrivate(dir / "state.db", 1000);
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  EXPECT_TRUE(reopened->QueryInt("SELECT count(*) FROM t").ok()) << "an existing one is opened";
}

}  // namespace
}  // namespace aura
