// The fixture and helpers of the `aura-agent migrate` end-to-end tests (migrate_cli_test.cc,
// migrate_kill_test.cc): an Aura-like database from aura-make-db, the example series in
// examples/migrations, and ways to look at the result (history, schema, logical checksum).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"

namespace aura::migrate_e2e {

namespace fs = std::filesystem;
using aura::testing::ChildProcess;
using aura::testing::ProcessResult;
using aura::testing::RunProcess;
using aura::testing::TempDir;
using nlohmann::json;

const std::string kExamples = std::string(AURA_SOURCE_DIR) + "/examples/migrations";
const std::string kInitial = "20251110000000_InitialCreate";
const std::string kPriority = "20251201090000_AddProjectPriority";
const std::string kRename = "20251205100000_RenameCurrentStage";
const std::string kBackfill = "20251210120000_BackfillPriority";
const std::string kRenderQueue = "20251215080000_AddRenderQueue";
const std::string kSceneNotes = "20251215080100_AddSceneNotes";
const std::vector<std::string> kOld = {kInitial};
const std::vector<std::string> kAll = {kInitial,  kPriority,    kRename,
                                       kBackfill, kRenderQueue, kSceneNotes};

inline ProcessResult Agent(std::vector<std::string> args) {
  args.insert(args.begin(), AURA_AGENT_BIN);
  return RunProcess(args);
}

inline json ParseJson(const ProcessResult& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON:\n" << r.out << "\nstderr:\n" << r.err;
  return j.is_discarded() ? json::object() : j;
}

inline SqliteDb OpenDb(const std::string& path) {
  auto db = SqliteDb::Open(path, SQLITE_OPEN_READWRITE, 5000);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : SqliteDb();
}

// Every row's first column of `sql`, as text.
inline std::vector<std::string> Column(const std::string& path, const std::string& sql) {
  SqliteDb db = OpenDb(path);
  std::vector<std::string> out;
  auto st = db.Prepare(sql);
  EXPECT_TRUE(st.ok()) << sql << ": " << st.status().ToString();
  if (!st.ok()) return out;
  for (;;) {
    auto row = st->Step();
    EXPECT_TRUE(row.ok()) << row.status().ToString();
    if (!row.ok() || !*row) break;
    out.push_back(st->ColumnText(0));
  }
  return out;
}

inline int64_t Int(const std::string& path, const std::string& sql) {
  SqliteDb db = OpenDb(path);
  auto v = db.QueryInt(sql);
  EXPECT_TRUE(v.ok()) << sql << ": " << v.status().ToString();
  return v.ok() ? *v : -1;
}

inline void Exec(const std::string& path, const std::string& sql) {
  SqliteDb db = OpenDb(path);
  Status s = db.Exec(sql);
  ASSERT_TRUE(s.ok()) << sql << ": " << s.ToString();
}

inline std::vector<std::string> History(const std::string& db) {
  return Column(db, "SELECT MigrationId FROM __EFMigrationsHistory ORDER BY MigrationId");
}

inline bool HasColumn(const std::string& db, const std::string& table, const std::string& column) {
  return Int(db, "SELECT count(*) FROM pragma_table_info('" + table + "') WHERE name = '" + column +
                     "'") == 1;
}

inline bool HasTable(const std::string& db, const std::string& table) {
  return Int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '" + table +
                     "'") == 1;
}

inline std::string Checksum(const std::string& db) {
  auto c = integrity::LogicalChecksumOfFile(db);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : "error";
}

// Rows of the tables the example migrations rebuild or whose rows a cascade would take.
inline std::map<std::string, int64_t> RowCounts(const std::string& db) {
  std::map<std::string, int64_t> m;
  for (const char* t : {"ProjectStates", "SceneStates", "AssetStates", "ProjectVersions"}) {
    m[t] = Int(db, std::string("SELECT count(*) FROM ") + t);
  }
  return m;
}

// Files in `dir` whose name starts with `prefix`.
inline std::vector<std::string> FilesStartingWith(const std::string& dir,
                                                  const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

inline void CopyExamples(const std::string& to, bool with_refused) {
  fs::create_directories(to);
  for (const auto& e : fs::directory_iterator(kExamples)) {
    if (e.path().extension() == ".sql")
      fs::copy_file(e.path(), to + "/" + e.path().filename().string());
  }
  if (with_refused) {
    for (const auto& e : fs::directory_iterator(kExamples + "/refused")) {
      fs::copy_file(e.path(), to + "/" + e.path().filename().string());
    }
  }
}

inline const json* Entry(const json& list, const std::string& id) {
  for (const json& m : list["migrations"]) {
    if (m["id"] == id) return &m;
  }
  return nullptr;
}

class MigrateCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, db_, "3", "--seed", "7"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    ASSERT_EQ(History(db_), kOld);
  }

  // `aura-agent migrate SUB --db DB --dir DIR ARGS...`
  ProcessResult Migrate(const std::string& sub, std::vector<std::string> args = {},
                        const std::string& dir = kExamples) {
    std::vector<std::string> full = {"migrate", sub, "--db", db_, "--dir", dir};
    full.insert(full.end(), args.begin(), args.end());
    return Agent(full);
  }

  void MakeKey() { ASSERT_EQ(Agent({"key", "generate", "--out", key_}).exit_code, 0); }

  TempDir dir_;
  std::string db_ = dir_ / "aura.db";
  std::string key_ = dir_ / "backup.key";
};

inline std::string EfTimestamp(int hours) {
  auto t = std::chrono::system_clock::now() - std::chrono::hours(hours);
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm;
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.0000000+00:00", &tm);
  return buf;
}

}  // namespace aura::migrate_e2e
