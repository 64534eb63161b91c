// Issue 14, "Security and hostile input", through the real binary: key files others may read are
// refused, a forced restore keeps the replaced file's owner and mode, every argument error keeps
// the error contract (one line on stderr, exit 2, the JSON error document under --json), and a
// refused command leaves no file behind.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "common/file_io.h"
#include "common/sqlite.h"
#include "tests/e2e/hostile_support.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;

using aura::testing::FilesUnder;

struct stat StatOf(const std::string& path) {
  struct stat st = {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st;
}

class HostileInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura.db", true, 400).ok());
    ASSERT_EQ(Agent({"key", "generate", "--out", Key()}).exit_code, 0);
    ASSERT_TRUE(CreateDirectories(dir_ / "backups", 0750).ok());
  }

  ProcessResult Agent(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args, env);
  }

  std::string Key() { return dir_ / "backup.key"; }

  ProcessResult Backup(std::vector<std::string> env = {}) {
    return Agent(
        {"backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups", "--key-file", Key()}, env);
  }

  // The error contract of docs/CLI.md: exit `code`, one line "aura-agent: error: ..." holding
  // `fragment`; with `json_doc`, stdout must be the JSON error document.
  void ExpectContract(const ProcessResult& r, int code, const std::string& fragment,
                      bool json_doc) {
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_EQ(r.err.rfind("aura-agent: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    if (!json_doc) return;
    json doc = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(doc.is_discarded()) << "stdout is not JSON: " << r.out;
    EXPECT_EQ(doc["error"]["exit_code"], code) << r.out;
    EXPECT_EQ(doc["error"]["message"].get<std::string>() + "\n",
              r.err.substr(std::string("aura-agent: error: ").size()))
        << r.out;
  }

  TempDir dir_;
};

// Regression (issue 14): a key file of mode 0644 or 0666 was used without a word, so every user
// on the host could read the key that decrypts every backup.
TEST_F(HostileInputTest, AKeyFileOthersMayReadIsRefusedWithExit6) {
  for (mode_t mode : {0644, 0666, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(Key().c_str(), mode), 0);
    char octal[8];
    std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
    ExpectContract(Backup(), 6, std::string("mode ") + octal, false);
    ExpectContract(Backup(), 6, "chmod 600 " + Key(), false);
    EXPECT_TRUE(FilesUnder(dir_ / "backups").empty()) << "nothing written with an open key";
  }
  ProcessResult listed = Agent({"key", "add", "--file", Key()});
  EXPECT_EQ(listed.exit_code, 6) << "key add refuses it too: " << listed.err;
  ASSERT_EQ(::chmod(Key().c_str(), 0400), 0);
  EXPECT_EQ(Backup().exit_code, 0) << "owner-only is fine, read-only too";
  ASSERT_EQ(::chmod(Key().c_str(), 0600), 0);
  ProcessResult restore = Agent({"restore", "--from", dir_ / "backups", "--latest", "--to",
                                 dir_ / "out.db", "--key-file", Key()});
  EXPECT_EQ(restore.exit_code, 0) << restore.err;
}

TEST_F(HostileInputTest, AnOpenKeyFileIsUsedWhenTheOverrideIsSet) {
  ASSERT_EQ(::chmod(Key().c_str(), 0644), 0);
  ProcessResult r = Backup({"AURA_ALLOW_OPEN_KEY_FILES=1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  ProcessResult other_value = Backup({"AURA_ALLOW_OPEN_KEY_FILES=yes"});
  EXPECT_EQ(other_value.exit_code, 6) << "only 1 turns the check off";
}

// Regression (issue 14): a passphrase file is a key as well, and was read whatever its mode.
TEST_F(HostileInputTest, APassphraseFileOthersMayReadIsRefusedWithExit6) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "pass", "correct horse battery staple\n", 0644).ok());
  ProcessResult r = Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups",
                           "--passphrase-file", dir_ / "pass", "--json"});
  ExpectContract(r, 6, "chmod 600 " + (dir_ / "pass"), true);
  EXPECT_TRUE(FilesUnder(dir_ / "backups").empty());
  ASSERT_EQ(::chmod((dir_ / "pass").c_str(), 0600), 0);
  ProcessResult ok = Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups",
                            "--passphrase-file", dir_ / "pass"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
}

TEST_F(HostileInputTest, KeyGenerateAndKeyAddLeaveAnOwnerOnlyFile) {
  EXPECT_EQ(StatOf(Key()).st_mode & 07777, 0600u);
  ASSERT_EQ(Agent({"key", "add", "--file", Key()}).exit_code, 0);
  EXPECT_EQ(StatOf(Key()).st_mode & 07777, 0600u);
}

// Regression (issue 14): `restore --force` over a database owned by nobody:nogroup, mode 0664,
// left a root:root 0640 file the application could no longer open.
TEST_F(HostileInputTest, AForcedRestoreKeepsTheReplacedFilesOwnerGroupAndMode) {
  ASSERT_EQ(Backup().exit_code, 0);
  ProcessResult listed = Agent({"list", "--from", dir_ / "backups", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const std::string id = json::parse(listed.out)["snapshots"][0]["snapshot"];
  const std::string target = dir_ / "app.db";
  aura::testing::CopyFile(dir_ / "aura.db", target);
  const bool root = ::geteuid() == 0;
  const uid_t uid = root ? 65534 : ::geteuid();
  const gid_t gid = root ? 65534 : ::getegid();
  ASSERT_EQ(::chown(target.c_str(), uid, gid), 0);
  std::vector<std::vector<std::string>> points = {{"--latest"}, {"--snapshot", id}};
  for (mode_t mode : {0664, 0600, 0660}) {
    for (const auto& point : points) {
      ASSERT_EQ(::chmod(target.c_str(), mode), 0);
      std::vector<std::string> args = {"restore",    "--from", dir_ / "backups", "--to", target,
                                       "--key-file", Key(),    "--force"};
      args.insert(args.end(), point.begin(), point.end());
      ProcessResult r = Agent(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      struct stat st = StatOf(target);
      EXPECT_EQ(st.st_mode & 07777, mode) << point[0];
      EXPECT_EQ(st.st_uid, uid) << point[0];
      EXPECT_EQ(st.st_gid, gid) << point[0];
    }
  }
  // From a plain .db file (the old backup script's output) as well.
  ASSERT_EQ(::chmod(target.c_str(), 0664), 0);
  ProcessResult plain = Agent({"restore", "--from", dir_ / "aura.db", "--to", target, "--force"});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(StatOf(target).st_mode & 07777, 0664u);
  EXPECT_EQ(StatOf(target).st_uid, uid);
  if (!root) GTEST_SKIP() << "the owner part needs root (chown to another uid)";
}

// Regression (issue 14): an unknown command word said only "A subcommand is required", without
// the "aura-agent: error:" prefix, without naming the word and without JSON under --json.
TEST_F(HostileInputTest, AnUnknownCommandWordIsNamedUnderTheErrorContract) {
  ExpectContract(Agent({"chek"}), 2, "unknown command 'chek'", false);
  ExpectContract(Agent({"chek", "--json"}), 2, "unknown command 'chek'", true);
  ExpectContract(Agent({"--log-level", "info", "chek"}), 2, "aura-agent --help", false);
  ExpectContract(Agent({"migrate", "check", "--json"}), 2, "unknown command 'migrate check'", true);
  ExpectContract(Agent({"key", "check"}), 2, "aura-agent key --help", false);
  ExpectContract(Agent({"config", "chek", "--json"}), 2, "unknown command 'config chek'", true);
  ExpectContract(Agent({"key"}), 2, "aura-agent key --help", false);
  ExpectContract(Agent({}), 2, "aura-agent --help", false);
}

// Regression (issue 14): --txid 99999999999999999999999 was clamped to the largest int64 and
// restored "the newest transaction" instead of being refused.
TEST_F(HostileInputTest, AnOutOfRangeTxidIsRefusedNamingTheOptionAndTheRange) {
  ASSERT_EQ(Backup().exit_code, 0);
  for (const char* bad :
       {"99999999999999999999999", "9223372036854775808", "-1", "1e3", "0x10", "12abc", ""}) {
    ProcessResult r = Agent({"restore", "--from", dir_ / "backups", "--txid", bad, "--to",
                             dir_ / "out.db", "--key-file", Key(), "--json"});
    ExpectContract(r, 2, "--txid", true);
    EXPECT_NE(r.err.find("0 to 9223372036854775807"), std::string::npos) << bad << ": " << r.err;
    EXPECT_FALSE(PathExists(dir_ / "out.db")) << bad;
  }
}

// Regression (issue 14): numeric options took any number strtoll would make of them: a negative
// --run-seconds, a hexadecimal "0x10" --busy-timeout, a number too large for its type.
TEST_F(HostileInputTest, EveryNumericOptionRefusesValuesOutOfItsRange) {
  const std::string db = dir_ / "aura.db";
  const std::string to = dir_ / "backups";
  const std::vector<std::vector<std::string>> bad = {
      {"backup", "--db", db, "--to", to, "--busy-timeout", "-5"},
      {"backup", "--db", db, "--to", to, "--busy-timeout", "99999999999999999999"},
      {"backup", "--db", db, "--to", to, "--busy-timeout", "0x10"},
      {"backup", "--db", db, "--to", to, "--threads", "-1"},
      {"backup", "--db", db, "--to", to, "--threads", "65"},
      {"restore", "--from", to, "--latest", "--to", dir_ / "o.db", "--threads", "4x"},
      {"verify", "--from", to, "--threads", "-2"},
      {"replicate", "--db", db, "--to", to, "--poll-ms", "0"},
      {"replicate", "--db", db, "--to", to, "--segment-ms", "-20"},
      {"replicate", "--db", db, "--to", to, "--run-seconds", "-1"},
      {"replicate", "--db", db, "--to", to, "--run-seconds", "nan"},
      {"migrate", "list", "--db", db, "--dir", dir_.path(), "--busy-timeout", "-1"},
      {"service", "stop", "--wait", "0"},
      {"restore", "--follow", "--from", to, "--to", dir_ / "s.db", "--poll-interval", "2h"},
      {"restore", "--follow", "--from", to, "--to", dir_ / "s.db", "--poll-interval",
       "999999999999d"},
  };
  for (std::vector<std::string> args : bad) {
    const std::string option = args[args.size() - 2];
    args.push_back("--json");
    ProcessResult r = Agent(args);
    ExpectContract(r, 2, option + ": ", true);
    EXPECT_NE(r.err.find(" to "), std::string::npos) << "names the range: " << r.err;
  }
  EXPECT_TRUE(FilesUnder(to).empty());
}

TEST_F(HostileInputTest, EveryOtherArgumentErrorKeepsTheErrorContract) {
  const std::vector<std::vector<std::string>> bad = {
      {"backup", "--bogus"},
      {"backup", "stray-word"},
      {"check", "--level", "medium"},
      {"run"},
      {"restore", "--check", "sometimes"},
      {"--log-level", "loud", "list"},
  };
  for (std::vector<std::string> args : bad) {
    ExpectContract(Agent(args), 2, "--help", false);
    args.push_back("--json");
    ExpectContract(Agent(args), 2, "--help", true);
  }
  ExpectContract(Agent({"backup", "--db"}), 2, "--db", false);
  ExpectContract(Agent({"backup", "--json", "--db"}), 2, "--db", true);
  EXPECT_EQ(Agent({"--help"}).exit_code, 0);
  EXPECT_EQ(Agent({"backup", "--help"}).exit_code, 0);
  EXPECT_EQ(Agent({"--version"}).exit_code, 0);
}

// Regression (issue 14): a backup of a database that does not exist created
// aura-repository.json in the target before finding out.
TEST_F(HostileInputTest, ABackupOfAMissingDatabaseLeavesTheTargetAsItWas) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "notes.db", std::string(5000, 'x')).ok());
  const std::string to = dir_ / "backups";
  ExpectContract(Agent({"backup", "--db", dir_ / "nope.db", "--to", to, "--key-file", Key()}), 4,
                 "does not exist", false);
  EXPECT_TRUE(FilesUnder(to).empty());
  ExpectContract(Agent({"backup", "--db", dir_ / "notes.db", "--to", to, "--key-file", Key()}), 10,
                 "not an SQLite database", false);
  EXPECT_TRUE(FilesUnder(to).empty());
  ExpectContract(Agent({"backup", "--db", dir_ / "aura.db", "--to", to, "--key-file", Key(),
                        "--name", "../escape"}),
                 2, "invalid database name", false);
  EXPECT_TRUE(FilesUnder(to).empty());
  ProcessResult absent_target =
      Agent({"backup", "--db", dir_ / "nope.db", "--to", dir_ / "new-target", "--no-encryption"});
  EXPECT_EQ(absent_target.exit_code, 4);
  EXPECT_FALSE(PathExists(dir_ / "new-target"));
}

// Regression (issue 14): a replicate refused because the database is in rollback-journal mode
// left its spool folder and lock file beside the database (and a repository in the target).
TEST_F(HostileInputTest, ARefusedReplicateLeavesTheDatabaseFolderAsItWas) {
  TempDir app;
  ASSERT_TRUE(aura::testing::MakeTestDb(app / "journal.db", false, 50).ok());
  const std::set<std::string> before = FilesUnder(app.path());
  const std::string to = dir_ / "backups";
  ProcessResult r = Agent({"replicate", "--db", app / "journal.db", "--to", to, "--key-file", Key(),
                           "--run-seconds", "1"});
  ExpectContract(r, 11, "journal_mode=WAL", false);
  EXPECT_EQ(FilesUnder(app.path()), before);
  EXPECT_TRUE(FilesUnder(to).empty());
  ProcessResult missing = Agent({"replicate", "--db", app / "nope.db", "--to", to, "--key-file",
                                 Key(), "--run-seconds", "1"});
  EXPECT_EQ(missing.exit_code, 4) << missing.err;
  EXPECT_EQ(FilesUnder(app.path()), before);
  EXPECT_TRUE(FilesUnder(to).empty());
}

TEST_F(HostileInputTest, RefusedRestoreVerifyAndDrillLeaveNothingBehind) {
  const std::set<std::string> before = FilesUnder(dir_.path());
  TempDir tmp;
  const std::vector<std::string> env = {"TMPDIR=" + tmp.path()};
  ExpectContract(Agent({"restore", "--from", dir_ / "absent", "--latest", "--to", dir_ / "out.db",
                        "--key-file", Key()}),
                 4, "not an Aura backup repository", false);
  ExpectContract(Agent({"verify", "--from", dir_ / "absent", "--key-file", Key()}), 4,
                 "not an Aura backup repository", false);
  ProcessResult drill = Agent({"drill", "--from", dir_ / "absent", "--key-file", Key()}, env);
  EXPECT_NE(drill.exit_code, 0);
  EXPECT_EQ(FilesUnder(dir_.path()), before);
  EXPECT_TRUE(FilesUnder(tmp.path()).empty()) << "the drill's scratch folder is gone";
}

// Regression (issue 14): `migrate apply --backup-to` created the repository before it found
// that the migrations folder or the database was not usable.
TEST_F(HostileInputTest, ARefusedMigrateLeavesTheBackupTargetAsItWas) {
  ASSERT_TRUE(CreateDirectories(dir_ / "migrations", 0755).ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ / "notes.db", std::string(5000, 'x')).ok());
  const std::string to = dir_ / "backups";
  const std::vector<std::vector<std::string>> refused = {
      {"--db", dir_ / "aura.db", "--dir", dir_ / "absent"},
      {"--db", dir_ / "notes.db", "--dir", dir_ / "migrations"},
      {"--db", dir_ / "nope.db", "--dir", dir_ / "migrations"},
  };
  const std::set<std::string> before = FilesUnder(dir_.path());
  for (std::vector<std::string> args : refused) {
    args.insert(args.begin(), {"migrate", "apply"});
    args.insert(args.end(), {"--backup-to", to, "--key-file", Key()});
    ProcessResult r = Agent(args);
    EXPECT_NE(r.exit_code, 0) << args[3];
    EXPECT_NE(r.err.find("aura-agent: error: "), std::string::npos) << r.err;
    EXPECT_TRUE(FilesUnder(to).empty()) << args[3] << ": " << r.err;
    EXPECT_EQ(FilesUnder(dir_.path()), before) << args[3];
  }
}

}  // namespace
}  // namespace aura
