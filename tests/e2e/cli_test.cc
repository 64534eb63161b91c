// The aura-agent binary as operators and scripts use it: the seed's script habits, and every bad
// input with its documented exit code, a one-line error, nothing partial left behind and the
// source database untouched.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::FileSha256;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura.db", true, 1500).ok());
    ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "backup.key"}).exit_code, 0);
  }

  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args);
  }

  ProcessResult Backup() {
    return Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups", "--key-file",
                  dir_ / "backup.key"});
  }

  // Snapshot manifests and data objects in the repository.
  std::vector<std::string> SnapshotFiles() {
    std::vector<std::string> out;
    std::string root = dir_ / "backups/aura/snapshots";
    if (!std::filesystem::exists(root)) return out;
    for (const auto& e : std::filesystem::directory_iterator(root)) {
      out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string DataObjectPath() {
    for (const std::string& f : SnapshotFiles()) {
      if (f.size() > 5 && f.substr(f.size() - 5) == ".data")
        return dir_ / ("backups/aura/snapshots/" + f);
    }
    return "";
  }

  void ExpectOneLineError(const ProcessResult& r, int code, const std::string& fragment) {
    EXPECT_EQ(r.exit_code, code) << r.out << r.err;
    EXPECT_NE(r.err.find("aura-agent: error: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }

  TempDir dir_;
};

TEST_F(CliTest, TheSeedScriptHabitsWorkWithoutAConfigFile) {
  ProcessResult b = Backup();
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("snapshot "), std::string::npos);

  ProcessResult l = Agent({"list", "--from", dir_ / "backups", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  json listed = json::parse(l.out);
  ASSERT_EQ(listed["snapshots"].size(), 1u);
  std::string id = listed["snapshots"][0]["snapshot"];
  EXPECT_EQ(listed["snapshots"][0]["database"], "aura");
  EXPECT_TRUE(listed["snapshots"][0]["encrypted"].get<bool>());

  ProcessResult human = Agent({"list", "--from", dir_ / "backups"});
  EXPECT_NE(human.out.find(id), std::string::npos);

  ProcessResult v =
      Agent({"verify", "--from", dir_ / "backups", "--key-file", dir_ / "backup.key"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("all good"), std::string::npos);

  ProcessResult r = Agent({"restore", "--from", dir_ / "backups", "--latest", "--to",
                           dir_ / "restored.db", "--key-file", dir_ / "backup.key"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ProcessResult r2 = Agent({"restore", "--from", dir_ / "backups", "--snapshot", id, "--to",
                            dir_ / "restored2.db", "--key-file", dir_ / "backup.key", "--json"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(json::parse(r2.out)["integrity_check"], "ok");

  std::string source = *integrity::LogicalChecksumOfFile(dir_ / "aura.db");
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "restored.db"), source);
  EXPECT_EQ(FileSha256(dir_ / "restored.db"), FileSha256(dir_ / "restored2.db"));
}

TEST_F(CliTest, UnencryptedBackupMustBeAskedFor) {
  ProcessResult r = Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups"});
  ExpectOneLineError(r, 6, "--no-encryption");
  EXPECT_TRUE(SnapshotFiles().empty());
  ProcessResult ok = Agent(
      {"backup", "--db", dir_ / "aura.db", "--to", dir_ / "plain", "--no-encryption", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_FALSE(json::parse(ok.out)["encrypted"].get<bool>());
}

TEST_F(CliTest, MissingDatabaseExitsNotFound) {
  ExpectOneLineError(Agent({"backup", "--db", dir_ / "nope.db", "--to", dir_ / "backups",
                            "--key-file", dir_ / "backup.key"}),
                     4, "does not exist");
  EXPECT_TRUE(SnapshotFiles().empty());
}

TEST_F(CliTest, NonSqliteFileExitsNotADatabase) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "notes.db", std::string(5000, 'x')).ok());
  std::string before = FileSha256(dir_ / "notes.db");
  ExpectOneLineError(Agent({"backup", "--db", dir_ / "notes.db", "--to", dir_ / "backups",
                            "--key-file", dir_ / "backup.key"}),
                     10, "not an SQLite database");
  EXPECT_EQ(FileSha256(dir_ / "notes.db"), before);
}

TEST_F(CliTest, LockedDatabaseWaitsBoundedThenExitsBusy) {
  ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "journal.db", false, 200).ok());
  // Hash first: closing any descriptor of the file would drop this process's POSIX locks.
  std::string before = FileSha256(dir_ / "journal.db");
  auto holder = SqliteDb::Open(dir_ / "journal.db", SQLITE_OPEN_READWRITE, 0);
  ASSERT_TRUE(holder->Exec("BEGIN EXCLUSIVE").ok());
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult r = Agent({"backup", "--db", dir_ / "journal.db", "--to", dir_ / "backups",
                           "--key-file", dir_ / "backup.key", "--busy-timeout", "400"});
  auto took = std::chrono::steady_clock::now() - t0;
  ExpectOneLineError(r, 7, "locked by another process");
  EXPECT_GE(took, std::chrono::milliseconds(350));
  EXPECT_EQ(FileSha256(dir_ / "journal.db"), before);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "backups/journal/snapshots"));
}

TEST_F(CliTest, MissingKeyFileSaysHowToMakeOne) {
  ExpectOneLineError(Agent({"backup", "--db", dir_ / "aura.db", "--to", dir_ / "backups",
                            "--key-file", dir_ / "absent.key"}),
                     4, "aura-agent key generate");
  EXPECT_TRUE(SnapshotFiles().empty());
}

TEST_F(CliTest, WrongOrMissingKeyOnRestoreIsAKeyError) {
  ASSERT_EQ(Backup().exit_code, 0);
  ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "other.key"}).exit_code, 0);
  ExpectOneLineError(Agent({"restore", "--from", dir_ / "backups", "--latest", "--to",
                            dir_ / "out.db", "--key-file", dir_ / "other.key"}),
                     6, "key");
  ExpectOneLineError(
      Agent({"restore", "--from", dir_ / "backups", "--latest", "--to", dir_ / "out.db"}), 6,
      "--key-file");
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
}

TEST_F(CliTest, TruncatedObjectIsCorruptionNamedByVerify) {
  ASSERT_EQ(Backup().exit_code, 0);
  std::string data = DataObjectPath();
  std::filesystem::resize_file(data, std::filesystem::file_size(data) / 2);
  ProcessResult r = Agent({"restore", "--from", dir_ / "backups", "--latest", "--to",
                           dir_ / "out.db", "--key-file", dir_ / "backup.key"});
  ExpectOneLineError(r, 5, "truncated");
  EXPECT_FALSE(PathExists(dir_ / "out.db"));
  ProcessResult v =
      Agent({"verify", "--from", dir_ / "backups", "--key-file", dir_ / "backup.key", "--json"});
  EXPECT_EQ(v.exit_code, 5);
  json report = json::parse(v.out);
  ASSERT_EQ(report["bad"].size(), 1u);
  EXPECT_EQ("backups/" + report["bad"][0]["object"].get<std::string>(),
            data.substr(data.find("backups/")));
}

TEST_F(CliTest, FlippedByteInTheManifestIsReportedByName) {
  ASSERT_EQ(Backup().exit_code, 0);
  std::string manifest = DataObjectPath();
  manifest.replace(manifest.size() - 5, 5, ".manifest");
  std::string bytes = *ReadFileToString(manifest);
  bytes[bytes.size() - 20] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(manifest, bytes).ok());
  ProcessResult v =
      Agent({"verify", "--from", dir_ / "backups", "--key-file", dir_ / "backup.key"});
  EXPECT_EQ(v.exit_code, 5);
  EXPECT_NE(v.out.find("BAD aura/snapshots/"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find(".manifest"), std::string::npos) << v.out;
}

TEST_F(CliTest, UnknownFormatVersionAsksForAnUpgrade) {
  ASSERT_EQ(Backup().exit_code, 0);
  std::string data = DataObjectPath();
  std::string bytes = *ReadFileToString(data);
  bytes[8] = 9;
  ASSERT_TRUE(WriteFileAtomic(data, bytes).ok());
  ExpectOneLineError(Agent({"restore", "--from", dir_ / "backups", "--latest", "--to",
                            dir_ / "out.db", "--key-file", dir_ / "backup.key"}),
                     11, "upgrade aura-agent");
}

TEST_F(CliTest, ExistingRestoreTargetIsRefusedAndKept) {
  ASSERT_EQ(Backup().exit_code, 0);
  ASSERT_TRUE(WriteFileAtomic(dir_ / "out.db", "keep me").ok());
  ProcessResult r = Agent({"restore", "--from", dir_ / "backups", "--latest", "--to",
                           dir_ / "out.db", "--key-file", dir_ / "backup.key", "--json"});
  ExpectOneLineError(r, 9, "--force");
  json err = json::parse(r.out);
  EXPECT_EQ(err["error"]["code"], "already_exists");
  EXPECT_EQ(err["error"]["exit_code"], 9);
  EXPECT_EQ(*ReadFileToString(dir_ / "out.db"), "keep me");
  ProcessResult forced = Agent({"restore", "--from", dir_ / "backups", "--latest", "--to",
                                dir_ / "out.db", "--key-file", dir_ / "backup.key", "--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
}

TEST_F(CliTest, RestoresFromAPlainBackupFile) {
  // backup-database.sh's output: a plain copy of the database.
  ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura_backup_20251110_120000.db", false, 300).ok());
  ProcessResult r = Agent(
      {"restore", "--from", dir_ / "aura_backup_20251110_120000.db", "--to", dir_ / "out.db"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(FileSha256(dir_ / "out.db"), FileSha256(dir_ / "aura_backup_20251110_120000.db"));
}

TEST_F(CliTest, BadConfigExitsWithFileAndLine) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", "[agent]\nlog_levle = \"info\"\n").ok());
  ProcessResult r = Agent({"config", "check", "--config", dir_ / "agent.toml"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("agent.toml:2: unknown key 'log_levle'"), std::string::npos) << r.err;
}

TEST_F(CliTest, ConfigFormBacksUpEveryTarget) {
  std::string cfg = "[keys]\nkey_file = \"" + (dir_ / "backup.key") +
                    "\"\n[[target]]\nname = \"a\"\nurl = \"" + (dir_ / "t1") +
                    "\"\n[[target]]\nname = \"b\"\nurl = \"" + (dir_ / "t2") +
                    "\"\nencryption = \"none\"\n[[database]]\nname = \"aura\"\npath = \"" +
                    (dir_ / "aura.db") + "\"\ntargets = [\"a\", \"b\"]\n";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", cfg).ok());
  ASSERT_EQ(Agent({"config", "check", "--config", dir_ / "agent.toml"}).exit_code, 0);
  ProcessResult b = Agent({"backup", "--config", dir_ / "agent.toml", "--json"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  json j = json::parse(b.out);
  ASSERT_EQ(j["snapshots"].size(), 2u);
  EXPECT_TRUE(j["snapshots"][0]["encrypted"].get<bool>());
  EXPECT_FALSE(j["snapshots"][1]["encrypted"].get<bool>());
  ProcessResult r = Agent({"restore", "--config", dir_ / "agent.toml", "--target", "b", "--latest",
                           "--to", dir_ / "out.db"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Agent({"backup", "--bogus"}).exit_code, 2);
  EXPECT_EQ(Agent({}).exit_code, 2);
  EXPECT_EQ(Agent({"restore", "--from", dir_ / "backups", "--to", dir_ / "x.db"}).exit_code, 2);
  EXPECT_EQ(Agent({"--version"}).exit_code, 0);
}

}  // namespace
}  // namespace aura

namespace aura {
namespace {

class CheckCliTest : public ::testing::Test {
 protected:
  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return aura::testing::RunProcess(args);
  }
  aura::testing::TempDir dir_;
};

TEST_F(CheckCliTest, ASoundDatabasePassesAndADamagedPageFailsWithExit5) {
  ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura.db", false, 3000).ok());
  ProcessResult ok = Agent({"check", "--db", dir_ / "aura.db", "--level", "full"});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("full check ok"), std::string::npos) << ok.out;
  // Overwrite most of one page in the middle of the file, as failing storage would.
  const std::string path = dir_ / "aura.db";
  std::string bytes = *ReadFileToString(path);
  ASSERT_GT(bytes.size(), 40000u);
  const size_t page = 4096 * (bytes.size() / 4096 / 2);
  for (size_t i = 16; i < 4000; ++i) bytes[page + i] = static_cast<char>(i * 7);
  ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
  ProcessResult bad = Agent({"check", "--db", path, "--level", "full", "--json"});
  EXPECT_EQ(bad.exit_code, 5) << bad.out << bad.err;
  auto j = nlohmann::json::parse(bad.out);
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_FALSE(j["databases"][0]["problems"].empty()) << bad.out;
}

TEST_F(CheckCliTest, AForeignKeyViolationFailsTheFullCheckOnly) {
  {
    auto db = SqliteDb::Open(dir_ / "fk.db", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 1000);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->Exec("CREATE TABLE Projects(Id INTEGER PRIMARY KEY);"
                         "CREATE TABLE Scenes(Id INTEGER PRIMARY KEY, ProjectId INTEGER "
                         "REFERENCES Projects(Id));"
                         "INSERT INTO Projects VALUES(1);"
                         "INSERT INTO Scenes VALUES(1, 1), (2, 99);")
                    .ok());
  }
  ProcessResult quick = Agent({"check", "--db", dir_ / "fk.db"});
  EXPECT_EQ(quick.exit_code, 0) << quick.out << quick.err;
  ProcessResult full = Agent({"check", "--db", dir_ / "fk.db", "--level", "full"});
  EXPECT_EQ(full.exit_code, 5) << full.out;
  EXPECT_NE(full.out.find("foreign key: table Scenes row 2 has no parent in Projects"),
            std::string::npos)
      << full.out;
}

TEST_F(CheckCliTest, BadArgumentsAreRefusedWithExit2) {
  EXPECT_EQ(Agent({"check"}).exit_code, 2);
  EXPECT_EQ(Agent({"check", "--db", dir_ / "none.db"}).exit_code, 4);
  EXPECT_EQ(Agent({"check", "--db", "x", "--level", "medium"}).exit_code, 2);
}

}  // namespace
}  // namespace aura

namespace aura {
namespace {

class DrillCliTest : public CheckCliTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura.db", true, 2000).ok());
    ASSERT_EQ(Agent({"key", "generate", "--out", dir_ / "k"}).exit_code, 0);
    ProcessResult b = Agent(
        {"backup", "--db", dir_ / "aura.db", "--to", dir_ / "repo", "--key-file", dir_ / "k"});
    ASSERT_EQ(b.exit_code, 0) << b.err;
  }
};

TEST_F(DrillCliTest, APassingDrillReportsRtoAndAFalseAssertionFailsWithExit5) {
  ProcessResult ok = Agent({"drill", "--from", dir_ / "repo", "--key-file", dir_ / "k", "--assert",
                            "SELECT count(*) > 0 FROM sqlite_master", "--json"});
  ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  auto j = nlohmann::json::parse(ok.out);
  EXPECT_EQ(j["drills"][0]["outcome"], "pass") << ok.out;
  EXPECT_GT(j["drills"][0]["rto_seconds"].get<double>(), 0) << ok.out;
  ProcessResult bad = Agent(
      {"drill", "--from", dir_ / "repo", "--key-file", dir_ / "k", "--assert", "SELECT 1 = 2"});
  EXPECT_EQ(bad.exit_code, 5) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("SELECT 1 = 2"), std::string::npos) << bad.out;
  ProcessResult nokey = Agent({"drill", "--from", dir_ / "repo"});
  EXPECT_NE(nokey.exit_code, 0) << "no key: never a pass";
}

TEST_F(DrillCliTest, RestoreDryRunPrintsThePlanAndWritesNothing) {
  ProcessResult plan = Agent({"restore", "--from", dir_ / "repo", "--latest", "--key-file",
                              dir_ / "k", "--dry-run", "--to", dir_ / "out.db", "--json"});
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  auto j = nlohmann::json::parse(plan.out);
  EXPECT_TRUE(j["dry_run"].get<bool>());
  EXPECT_GE(j["objects"].size(), 2u) << "the manifest and the data object";
  EXPECT_GT(j["bytes_to_fetch"].get<uint64_t>(), 0u);
  EXPECT_FALSE(j["snapshot"].get<std::string>().empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out.db")) << "a dry run writes nothing";
  ProcessResult text = Agent(
      {"restore", "--from", dir_ / "repo", "--latest", "--key-file", dir_ / "k", "--dry-run"});
  EXPECT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("to fetch; result: snapshot"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace aura
