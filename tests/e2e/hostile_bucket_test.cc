// Issue 14, object names read back from a hostile target: objects planted beside a real
// repository, in a local folder and in a bucket (moto_server), under names that try to escape a
// folder ("../../etc/x", a leading '/', ".." in the database or generation position), that hold
// escape sequences or NUL, that reuse reserved words in the database position, or that are longer
// than an object name may be. Each command that reads a listing runs over them (list, verify,
// restore, key retire, prune) and must: ignore them with a warning naming them escaped, create
// nothing outside its own folders, leave them where they are, and still restore the real database
// equal to its source.
//
// What can exist where: a local folder cannot hold NUL or '/' in a file name, and ".." is never
// listed (names starting with '.' are skipped), but escape sequences, backslashes and paths over
// 1024 bytes can; a bucket holds any key (moto accepted each one here, NUL and "../" included),
// and S3 returns control characters raw in its XML unless asked for encoded keys.
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/file_io.h"
#include "integrity/logical_checksum.h"
#include "tests/e2e/hostile_support.h"
#include "tests/support/moto_server.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

using aura::testing::FilesUnder;
using aura::testing::HasRawControl;
using aura::testing::MotoServer;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr char kEsc[] = "ev\x1b[31mil";  // a database name that would colour the terminal
constexpr char kEscShown[] = "ev\\e[31mil";

class HostileBucketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(aura::testing::MakeTestDb(dir_ / "aura.db", true, 400).ok());
    json a = json::parse(Agent({"key", "generate", "--out", Key(), "--json"}).out);
    key_a_ = a["key_id"];
    fs::create_directories(dir_ / "tmp");
    fs::create_directories(dir_ / "outside/snapshots");
    ASSERT_TRUE(WriteFileAtomic(dir_ / "outside/keep.txt", "what a hostile name points at").ok());
    outside_ = FilesUnder(dir_ / "outside");
  }

  virtual std::vector<std::string> Env() { return {"TMPDIR=" + (dir_ / "tmp")}; }

  ProcessResult Agent(std::vector<std::string> args) {
    args.insert(args.begin(), AURA_AGENT_BIN);
    return RunProcess(args, Env());
  }

  std::string Key() { return dir_ / "k"; }

  // Two snapshots of "aura": one sealed with key A, one (after `key add`) with key B.
  void BackUpTo(const std::string& url) {
    for (int i = 0; i < 2; ++i) {
      ProcessResult b = Agent(
          {"backup", "--db", dir_ / "aura.db", "--to", url, "--key-file", Key(), "--name", "aura"});
      ASSERT_EQ(b.exit_code, 0) << b.err;
      if (i == 0) {
        ASSERT_EQ(Agent({"key", "add", "--file", Key()}).exit_code, 0);
      }
    }
    ProcessResult l = Agent({"list", "--from", url, "--json"});
    ASSERT_EQ(l.exit_code, 0) << l.err;
    const json listed = json::parse(l.out);
    for (const json& s : listed["snapshots"]) ids_.push_back(s["snapshot"]);
    ASSERT_EQ(ids_.size(), 2u) << l.out << l.err;
  }

  // The output says nothing raw, and warns about `shown` (an escaped hostile name).
  void ExpectWarned(const ProcessResult& r, const std::string& shown) {
    EXPECT_FALSE(HasRawControl(r.out)) << r.out;
    EXPECT_FALSE(HasRawControl(r.err)) << r.err;
    std::istringstream lines(r.err);
    bool found = false;
    for (std::string line; std::getline(lines, line);) {
      const auto at = line.find("ignoring the object '");
      found = found || (at != std::string::npos && line.find(shown, at) != std::string::npos);
    }
    EXPECT_TRUE(found) << "no warning naming " << shown << ":\n" << r.err;
  }

  // list, verify, restore, key retire and a restore with the new key only, over `url`.
  void RunEveryReader(const std::string& url, const std::vector<std::string>& warned) {
    ProcessResult l = Agent({"list", "--from", url, "--json"});
    ASSERT_EQ(l.exit_code, 0) << l.out << l.err;
    for (const std::string& w : warned) ExpectWarned(l, w);
    std::set<std::string> dbs;
    const json listed = json::parse(l.out);
    for (const json& s : listed["snapshots"]) dbs.insert(s["database"]);
    EXPECT_EQ(dbs, std::set<std::string>{"aura"}) << l.out;
    ProcessResult v = Agent({"verify", "--from", url, "--key-file", Key()});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_FALSE(HasRawControl(v.out + v.err)) << v.out << v.err;
    ExpectRestores(url, Key(), "before.db");
    aura::testing::CopyFile(Key(), dir_ / "k-b");
    ProcessResult retire = Agent({"key", "retire", key_a_, "--from", url, "--key-file",
                                  dir_ / "k-b", "--drop-from-key-file", "--json"});
    ASSERT_EQ(retire.exit_code, 0) << retire.out << retire.err;
    EXPECT_GT(json::parse(retire.out)["resealed"].get<int>(), 0) << retire.out;
    EXPECT_FALSE(HasRawControl(retire.err)) << retire.err;
    ExpectRestores(url, dir_ / "k-b", "after.db");
    EXPECT_TRUE(FilesUnder(dir_ / "tmp").empty()) << "scratch left in TMPDIR";
    EXPECT_EQ(FilesUnder(dir_ / "outside"), outside_);
  }

  // Each snapshot (with `every`, else the latest only) restores equal to the source.
  void ExpectRestores(const std::string& url, const std::string& key, const std::string& name,
                      bool every = true) {
    for (const std::string& id : every ? ids_ : std::vector<std::string>{}) {
      ProcessResult r = Agent({"restore", "--from", url, "--snapshot", id, "--to", dir_ / name,
                               "--key-file", key, "--force"});
      ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
      EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / name),
                *integrity::LogicalChecksumOfFile(dir_ / "aura.db"));
    }
    ProcessResult latest = Agent(
        {"restore", "--from", url, "--latest", "--to", dir_ / name, "--key-file", key, "--force"});
    EXPECT_EQ(latest.exit_code, 0) << "no --name: the hostile names are no databases\n"
                                   << latest.err;
  }

  TempDir dir_;
  std::string key_a_;
  std::vector<std::string> ids_;
  std::set<std::string> outside_;
};

// --- A local target --------------------------------------------------------------------------

class HostileFolderTest : public HostileBucketTest {
 protected:
  std::string Repo() { return dir_ / "repo"; }

  void Plant() {
    const std::string manifest = "aura/snapshots/" + ids_[0] + ".manifest";
    fs::copy(Repo() + "/aura", Repo() + "/" + kEsc, fs::copy_options::recursive);
    auto put = [&](const std::string& name) {
      fs::create_directories(fs::path(Repo() + "/" + name).parent_path());
      fs::copy_file(Repo() + "/" + manifest, Repo() + "/" + name);
      planted_.push_back(Repo() + "/" + name);
    };
    put("aura/snapshots/" + ids_[0] + "\x1b]0;owned\x07.manifest");  // the id position
    put("x/wal/y/snapshots/" + ids_[0] + ".manifest");               // reserved, database position
    put("aura/snapshots\\..\\..\\x.manifest");                       // backslashes
    std::string deep = "aura";
    for (int i = 0; i < 5; ++i) deep += "/" + std::string(240, 'a');
    put(deep + "/snapshots/" + ids_[0] + ".manifest");  // over 1024 bytes
    // A symlink to a folder outside: never listed, never followed.
    fs::copy_file(Repo() + "/" + manifest, dir_ / ("outside/snapshots/" + ids_[0] + ".manifest"));
    outside_ = FilesUnder(dir_ / "outside");
    fs::create_directory_symlink(dir_ / "outside", Repo() + "/link");
  }

  std::vector<std::string> planted_;
};

// Regression (issue 14): a folder in the target whose name holds an escape sequence made
// `key retire` stop with exit 2 ("invalid object name"), telling the operator to run it again,
// which failed the same way; list reported it (and a reserved word in the database position) as
// unreadable snapshots, exit 5.
TEST_F(HostileFolderTest, AnEscapeSequenceInAFolderNameStoppedKeyRetirement) {
  ASSERT_NO_FATAL_FAILURE(BackUpTo(Repo()));
  Plant();
  RunEveryReader(Repo(), {kEscShown, "aura/snapshots/" + ids_[0] + "\\e]0;owned\\x07.manifest",
                          "x/wal/y/snapshots/", "aura/snapshots\\..", "aura/aaaa"});
  for (const std::string& p : planted_)
    EXPECT_TRUE(fs::exists(p)) << "a foreign object was removed";
  EXPECT_TRUE(fs::exists(Repo() + "/" + kEsc + "/snapshots/" + ids_[0] + ".manifest"));
}

// Regression (issue 14): a file in the target's snapshots folder whose name held an escape
// sequence stopped prune (exit 2, "invalid object name"), so retention stopped for good. Prune
// must also leave the planted names, and what a symlink in the target points at, alone.
TEST_F(HostileFolderTest, AnEscapeSequenceInASnapshotIdStoppedPrune) {
  ASSERT_NO_FATAL_FAILURE(BackUpTo(Repo()));
  Plant();
  const std::string cfg = "[agent]\nstate_dir = \"" + (dir_ / "state") +
                          "\"\n[keys]\nkey_file = \"" + Key() +
                          "\"\n[[target]]\nname = \"main\"\nurl = \"" + Repo() +
                          "\"\n[[database]]\nname = \"aura\"\npath = \"" + (dir_ / "aura.db") +
                          "\"\ntargets = [\"main\"]\nkeep_last = 1\n";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", cfg).ok());
  ProcessResult p = Agent({"prune", "--config", dir_ / "agent.toml"});
  ASSERT_EQ(p.exit_code, 0) << p.out << p.err;
  EXPECT_FALSE(HasRawControl(p.out + p.err)) << p.out << p.err;
  for (const std::string& f : planted_) EXPECT_TRUE(fs::exists(f)) << f;
  EXPECT_EQ(FilesUnder(dir_ / "outside"), outside_);
  ExpectRestores(Repo(), Key(), "pruned.db", /*every=*/false);
  EXPECT_EQ(*integrity::LogicalChecksumOfFile(dir_ / "pruned.db"),
            *integrity::LogicalChecksumOfFile(dir_ / "aura.db"));
}

// The repository id names the retirement's folder in TMPDIR, and it is read from the target.
TEST_F(HostileFolderTest, ARepositoryIdReadFromTheTargetNeverNamesAFolderOutsideTmpdir) {
  ASSERT_NO_FATAL_FAILURE(BackUpTo(Repo()));
  const std::string marker = Repo() + "/aura-repository.json";
  json info = json::parse(*ReadFileToString(marker));
  info["id"] = "../../escaped";
  ASSERT_TRUE(WriteFileAtomic(marker, info.dump()).ok());
  ProcessResult r = Agent({"key", "retire", key_a_, "--from", Repo(), "--key-file", Key()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir_ / "escaped"));
  EXPECT_TRUE(FilesUnder(dir_ / "tmp").empty());
  ExpectRestores(Repo(), Key(), "out.db");
}

// --- A bucket --------------------------------------------------------------------------------

class HostileS3Test : public HostileBucketTest {
 protected:
  void SetUp() override {
    std::string missing = MotoServer::Missing();
    ASSERT_TRUE(missing.empty()) << missing;
    // Without signature checks: moto's own check mishandles some of these keys (TESTING.md).
    moto_ = std::make_unique<MotoServer>(false, "hostile");
    ASSERT_TRUE(moto_->ready());
    HostileBucketTest::SetUp();
  }

  std::vector<std::string> Env() override {
    std::vector<std::string> env = moto_->Env();
    env.push_back("TMPDIR=" + (dir_ / "tmp"));
    return env;
  }

  // PUTs `key` as it is (percent-encoded on the wire, no dot-segment removal); the HTTP status.
  long PutRaw(const std::string& key, const std::string& body) {
    std::string path;
    for (unsigned char c : key) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '~' || c == '/') {
        path += static_cast<char>(c);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", c);
        path += buf;
      }
    }
    const std::string url = moto_->endpoint() + "/hostile/" + path;
    CURL* h = curl_easy_init();
    curl_slist* headers = curl_slist_append(
        nullptr,
        "Authorization: AWS4-HMAC-SHA256 Credential=x/20261124/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=x");
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    curl_easy_setopt(
        h, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t n, void*) { return s * n; });
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return status;
  }

  // A key that would land on dir_/escaped if any part of the agent joined it to a folder under
  // the test's directory (a scratch folder, a cache, the restore folder).
  std::string Escaping(const std::string& rest) {
    std::string up;
    for (int i = 0; i < 12; ++i) up += "../";
    return up + (dir_ / "escaped").substr(1) + "/" + rest;
  }

  std::unique_ptr<MotoServer> moto_;
};

constexpr char kUrl[] = "s3://hostile/h";

// Regression (issue 14): a key holding NUL cut S3's listing XML short, so every command on the
// repository failed ("S3 returned unreadable XML for ListObjectsV2", exit 8), restore included.
TEST_F(HostileS3Test, AKeyHoldingNulInTheBucketMadeEveryListingFail) {
  ASSERT_NO_FATAL_FAILURE(BackUpTo(kUrl));
  const std::string id = ids_[0];
  ASSERT_EQ(PutRaw(std::string("h/a\0b/snapshots/", 16) + id + ".manifest", "junk"), 200);
  RunEveryReader(kUrl, {"a\\x00b/snapshots/"});
}

TEST_F(HostileS3Test, TraversalAbsoluteEscapeAndReservedKeysAreIgnoredWithAWarning) {
  ASSERT_NO_FATAL_FAILURE(BackUpTo(kUrl));
  const std::string id = ids_[0];
  const std::vector<std::pair<std::string, std::string>> planted = {
      {"h/../../etc/x", "../../etc/x"},
      {"h/" + Escaping("snapshots/" + id + ".manifest"), "../../"},
      {"h//abs/snapshots/" + id + ".manifest", "/abs/snapshots/"},
      {"h/aura/snapshots/../../../x.manifest", "aura/snapshots/../"},
      {"h/aura/wal/../../0/0000000000000001-0000000000000002.seg", "aura/wal/../"},
      {"h/" + std::string(kEsc) + "/snapshots/" + id + ".manifest", kEscShown},
      {"h/aura/snapshots/" + id + "\x1b]0;owned\x07.manifest", "\\e]0;owned\\x07"},
      {"h/x/wal/y/snapshots/" + id + ".manifest", "x/wal/y/snapshots/"},
      {"h/aura/" + std::string(1100, 'a') + ".manifest", "aura/aaaa"},
  };
  std::vector<std::string> warned;
  for (const auto& [key, shown] : planted) {
    const long status = PutRaw(key, "junk");
    ASSERT_TRUE(status == 200 || status == 400) << key << ": " << status;
    if (status == 200) warned.push_back(shown);
  }
  RunEveryReader(kUrl, warned);
  EXPECT_FALSE(fs::exists(dir_ / "escaped"));
  EXPECT_FALSE(fs::exists("/etc/x"));
}

}  // namespace
}  // namespace aura
