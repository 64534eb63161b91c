// `aura-agent migrate` as an operator runs it against an Aura-like database (aura-make-db) and the
// example series in examples/migrations: list/apply/rollback/script/repair, the pre-migration
// snapshot, the data-loss guard, drift, EF Core's lock, a concurrent application writer, and the
// agent killed at random points of an apply (all or nothing, never a mix).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "common/file_io.h"
#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "tests/support/test_env.h"

namespace aura {
namespace {

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

ProcessResult Agent(std::vector<std::string> args) {
  args.insert(args.begin(), AURA_AGENT_BIN);
  return RunProcess(args);
}

json ParseJson(const ProcessResult& r) {
  json j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << "stdout is not JSON:\n" << r.out << "\nstderr:\n" << r.err;
  return j.is_discarded() ? json::object() : j;
}

SqliteDb OpenDb(const std::string& path) {
  auto db = SqliteDb::Open(path, SQLITE_OPEN_READWRITE, 5000);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : SqliteDb();
}

// Every row's first column of `sql`, as text.
std::vector<std::string> Column(const std::string& path, const std::string& sql) {
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

int64_t Int(const std::string& path, const std::string& sql) {
  SqliteDb db = OpenDb(path);
  auto v = db.QueryInt(sql);
  EXPECT_TRUE(v.ok()) << sql << ": " << v.status().ToString();
  return v.ok() ? *v : -1;
}

void Exec(const std::string& path, const std::string& sql) {
  SqliteDb db = OpenDb(path);
  Status s = db.Exec(sql);
  ASSERT_TRUE(s.ok()) << sql << ": " << s.ToString();
}

std::vector<std::string> History(const std::string& db) {
  return Column(db, "SELECT MigrationId FROM __EFMigrationsHistory ORDER BY MigrationId");
}

bool HasColumn(const std::string& db, const std::string& table, const std::string& column) {
  return Int(db, "SELECT count(*) FROM pragma_table_info('" + table + "') WHERE name = '" + column +
                     "'") == 1;
}

bool HasTable(const std::string& db, const std::string& table) {
  return Int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '" + table +
                     "'") == 1;
}

std::string Checksum(const std::string& db) {
  auto c = integrity::LogicalChecksumOfFile(db);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : "error";
}

// Rows of the tables the example migrations rebuild or whose rows a cascade would take.
std::map<std::string, int64_t> RowCounts(const std::string& db) {
  std::map<std::string, int64_t> m;
  for (const char* t : {"ProjectStates", "SceneStates", "AssetStates", "ProjectVersions"}) {
    m[t] = Int(db, std::string("SELECT count(*) FROM ") + t);
  }
  return m;
}

// Files in `dir` whose name starts with `prefix`.
std::vector<std::string> FilesStartingWith(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void CopyExamples(const std::string& to, bool with_refused) {
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

const json* Entry(const json& list, const std::string& id) {
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

TEST_F(MigrateCliTest, TourListApplyToARepositoryRestoreThePreMigrationSnapshot) {
  ProcessResult l = Migrate("list", {"--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  json before = ParseJson(l);
  EXPECT_EQ(before["applied"], 1);
  EXPECT_EQ(before["pending"], kAll.size() - 1);
  ASSERT_EQ(before["migrations"].size(), kAll.size());
  for (size_t i = 0; i < kAll.size(); ++i) {
    EXPECT_EQ(before["migrations"][i]["id"], kAll[i]);
    EXPECT_EQ(before["migrations"][i]["state"], i == 0 ? "applied" : "pending") << kAll[i];
  }
  EXPECT_TRUE(before["drift"].empty());
  ProcessResult human = Migrate("list");
  EXPECT_NE(human.out.find("1 applied, 5 pending"), std::string::npos) << human.out;

  const std::map<std::string, int64_t> rows = RowCounts(db_);
  MakeKey();
  ProcessResult a =
      Migrate("apply", {"--backup-to", dir_ / "backups", "--key-file", key_, "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  json applied = ParseJson(a);
  EXPECT_EQ(applied["outcome"], "applied");
  EXPECT_EQ(applied["applied"], std::vector<std::string>(kAll.begin() + 1, kAll.end()));
  const std::string snapshot = applied["snapshot"].get<std::string>();
  ASSERT_FALSE(snapshot.empty());
  EXPECT_EQ(History(db_), kAll);
  EXPECT_TRUE(HasColumn(db_, "ProjectStates", "Priority"));
  EXPECT_TRUE(HasColumn(db_, "ProjectStates", "Stage"));
  EXPECT_FALSE(HasColumn(db_, "ProjectStates", "CurrentStage"));
  EXPECT_TRUE(HasTable(db_, "RenderQueue"));
  EXPECT_TRUE(HasColumn(db_, "SceneStates", "Notes"));
  EXPECT_EQ(RowCounts(db_), rows) << "the rebuild of the parent table cascaded into children";
  EXPECT_TRUE(Column(db_, "SELECT \"table\" FROM pragma_foreign_key_check").empty());

  ProcessResult listed = Agent({"list", "--from", dir_ / "backups", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  json snaps = ParseJson(listed)["snapshots"];
  ASSERT_EQ(snaps.size(), 1u) << listed.out;
  EXPECT_EQ(snaps[0]["snapshot"], snapshot);
  EXPECT_EQ(snaps[0]["label"].get<std::string>().rfind("pre-migration ", 0), 0u) << snaps[0];

  ProcessResult r = Agent({"restore", "--from", dir_ / "backups", "--snapshot", snapshot, "--to",
                           dir_ / "pre.db", "--key-file", key_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(History(dir_ / "pre.db"), kOld) << "the snapshot is the pre-migration state";
  EXPECT_FALSE(HasColumn(dir_ / "pre.db", "ProjectStates", "Priority"));
  EXPECT_EQ(RowCounts(dir_ / "pre.db"), rows);

  json after = ParseJson(Migrate("list", {"--json"}));
  EXPECT_EQ(after["applied"], kAll.size());
  EXPECT_EQ(after["pending"], 0);
  for (const json& m : after["migrations"]) {
    EXPECT_EQ(m["state"], "applied") << m;
    EXPECT_TRUE(m["sha256"].is_string()) << m;
    if (m["id"] != kInitial) {
      EXPECT_TRUE(m["applied_by"].is_string() && !m["applied_by"].get<std::string>().empty()) << m;
    }
  }
  json again = ParseJson(Migrate("apply", {"--json"}));
  EXPECT_EQ(again["outcome"], "nothing_pending");
}

TEST_F(MigrateCliTest, TheRefusedExampleIsRefusedByTheDataLossGuardAndChangesNothing) {
  CopyExamples(dir_ / "m", true);
  const std::string sum = Checksum(db_);
  ProcessResult a = Migrate("apply", {}, dir_ / "m");
  EXPECT_EQ(a.exit_code, 15) << a.out << a.err;
  EXPECT_NE(a.err.find("data-loss guard"), std::string::npos) << a.err;
  EXPECT_NE(a.err.find("ProjectStates"), std::string::npos) << a.err;
  EXPECT_EQ(Checksum(db_), sum) << "a refused apply left the database changed";
  EXPECT_EQ(History(db_), kOld);
  EXPECT_FALSE(HasTable(db_, "__AuraMigrationsAudit"));
  EXPECT_TRUE(FilesStartingWith(dir_.path(), ".aura.db.rehearsal").empty())
      << "the rehearsal copy was left behind";
  EXPECT_FALSE(fs::exists(db_ + ".aura-migrate.lock"));

  // Accepting the loss by name is not enough: with foreign keys off during the transaction the
  // skipped projects' scenes, assets and versions would be orphans, and foreign_key_check says so.
  ProcessResult allowed =
      Migrate("apply", {"--allow-data-loss", "ProjectStates", "--json"}, dir_ / "m");
  EXPECT_EQ(allowed.exit_code, 15) << allowed.err;
  EXPECT_NE(allowed.err.find("foreign_key_check"), std::string::npos) << allowed.err;
  EXPECT_EQ(ParseJson(allowed)["outcome"], "refused");
  EXPECT_EQ(Checksum(db_), sum);
  EXPECT_EQ(History(db_), kOld);
}

// The agent SIGKILLed at random points of an apply: the database is always entirely the old state
// or entirely the new one, `migrate list` agrees with the schema, and the next apply works.
TEST_F(MigrateCliTest, KilledAtRandomPointsOfAnApplyLeavesAllOrNothing) {
  const std::string tmpl = dir_ / "template.db";
  ProcessResult made = RunProcess({AURA_MAKE_DB_BIN, tmpl, "20", "--seed", "11"});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const std::map<std::string, int64_t> rows = RowCounts(tmpl);

  auto fresh = [&](const std::string& sub) {
    std::string d = dir_ / sub;
    fs::remove_all(d);
    fs::create_directories(d);
    aura::testing::CopyFile(tmpl, d + "/aura.db");
    return d + "/aura.db";
  };
  auto apply_args = [](const std::string& db) {
    return std::vector<std::string>{AURA_AGENT_BIN, "migrate", "apply", "--db", db,
                                    "--dir",        kExamples};
  };

  // How long an undisturbed apply takes, so the kills cover the whole run.
  std::string db = fresh("measure");
  auto t0 = std::chrono::steady_clock::now();
  ProcessResult normal = RunProcess(apply_args(db));
  auto full_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  ASSERT_EQ(normal.exit_code, 0) << normal.err;
  ASSERT_EQ(History(db), kAll);

  std::mt19937 rng(20251201);
  std::uniform_int_distribution<int64_t> delay(0, full_ms + full_ms / 4);
  int killed_old = 0, killed_new = 0, finished = 0, left_rehearsals = 0;
  for (int i = 0; i < 16; ++i) {
    db = fresh("run");
    const int64_t ms = delay(rng);
    SCOPED_TRACE("iteration " + std::to_string(i) + ", killed after " + std::to_string(ms) +
                 " ms of a " + std::to_string(full_ms) + " ms apply");
    ChildProcess p(apply_args(db));
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    p.Signal(SIGKILL);
    ProcessResult r = p.Wait();
    ASSERT_TRUE(r.exit_code == 0 || r.exit_code == 128 + SIGKILL) << r.exit_code << r.err;

    EXPECT_EQ(Column(db, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
    std::vector<std::string> history = History(db);
    const bool is_new = history == kAll;
    EXPECT_TRUE(is_new || history == kOld) << "a mix of applied migrations: " << history.size();
    EXPECT_EQ(HasColumn(db, "ProjectStates", "Priority"), is_new);
    EXPECT_EQ(HasColumn(db, "ProjectStates", "Stage"), is_new);
    EXPECT_EQ(HasColumn(db, "ProjectStates", "CurrentStage"), !is_new);
    EXPECT_EQ(HasTable(db, "RenderQueue"), is_new);
    EXPECT_EQ(HasColumn(db, "SceneStates", "Notes"), is_new);
    EXPECT_EQ(RowCounts(db), rows);
    if (r.exit_code == 0) {
      ++finished;
      EXPECT_TRUE(is_new);
    } else {
      ++(is_new ? killed_new : killed_old);
    }

    ProcessResult l =
        RunProcess({AURA_AGENT_BIN, "migrate", "list", "--db", db, "--dir", kExamples, "--json"});
    ASSERT_EQ(l.exit_code, 0) << l.err;
    json listed = ParseJson(l);
    EXPECT_EQ(listed["applied"], is_new ? kAll.size() : 1u);
    const json* priority = Entry(listed, kPriority);
    ASSERT_NE(priority, nullptr);
    EXPECT_EQ((*priority)["state"], is_new ? "applied" : "pending");
    EXPECT_TRUE(listed["drift"].empty()) << listed["drift"];

    // The kernel released the dead agent's flock: the next apply works (a stale lock file may
    // be there).
    ProcessResult next = RunProcess(apply_args(db));
    ASSERT_EQ(next.exit_code, 0) << next.out << next.err;
    EXPECT_EQ(History(db), kAll);
    EXPECT_TRUE(HasColumn(db, "ProjectStates", "Priority"));
    EXPECT_EQ(RowCounts(db), rows);
  }
  std::cout << "[ killed ] before commit " << killed_old << ", after commit " << killed_new
            << ", finished " << finished << "; rehearsal copies left behind: " << left_rehearsals
            << " (apply takes " << full_ms << " ms)\n";
}

TEST_F(MigrateCliTest, AnApplicationWritingDuringTheApplyLosesNoAcknowledgedWrite) {
  ChildProcess writer({AURA_WRITER_BIN, "--db", db_, "--seed", "3", "--forever", "--interval-ms",
                       "2", "--busy-timeout", "30000", "--max-blocked-ms", "30000"});
  std::vector<uint64_t> acked;
  std::string line;
  while (acked.size() < 20 && writer.ReadLine(line)) acked.push_back(std::stoull(line));
  ASSERT_EQ(acked.size(), 20u) << "the writer did not start";

  // Keep reading the writer's acknowledgements while the apply runs.
  std::thread reader([&] {
    while (writer.ReadLine(line)) acked.push_back(std::stoull(line));
  });
  ProcessResult a = Migrate("apply", {"--json"});
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  writer.Signal(SIGTERM);
  reader.join();
  ProcessResult w = writer.Wait();

  ASSERT_EQ(a.exit_code, 0) << a.out << a.err;
  EXPECT_EQ(ParseJson(a)["outcome"], "applied");
  EXPECT_EQ(w.exit_code, 0) << w.err;
  EXPECT_TRUE(w.err.empty()) << w.err;
  EXPECT_EQ(History(db_), kAll);
  std::set<uint64_t> stored;
  for (const std::string& s : Column(db_, "SELECT Step FROM WorkloadTicks")) {
    stored.insert(std::stoull(s));
  }
  for (uint64_t step : acked)
    EXPECT_TRUE(stored.count(step)) << "acknowledged step " << step << " lost";
  EXPECT_GT(acked.size(), 20u);
  EXPECT_EQ(Column(db_, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(MigrateCliTest, DriftIsRefusedUntilRepaired) {
  const std::string m = dir_ / "m";
  CopyExamples(m, false);
  ASSERT_EQ(Migrate("apply", {"--to", kRename}, m).exit_code, 0);
  ASSERT_EQ(History(db_), (std::vector<std::string>{kInitial, kPriority, kRename}));

  // An applied file edited after the fact.
  const std::string edited = m + "/" + kPriority + ".sql";
  auto text = ReadFileToString(edited, 1 << 20);
  ASSERT_TRUE(text.ok());
  std::string changed = *text;
  changed.replace(changed.find("DEFAULT 0"), 9, "DEFAULT 1");
  ASSERT_TRUE(WriteFileAtomic(edited, changed).ok());
  const std::string sum = Checksum(db_);
  ProcessResult a = Migrate("apply", {}, m);
  EXPECT_EQ(a.exit_code, 15) << a.err;
  EXPECT_NE(a.err.find(kPriority + ".sql"), std::string::npos) << a.err;
  EXPECT_EQ(Checksum(db_), sum);
  json listed = ParseJson(Migrate("list", {"--json"}, m));
  ASSERT_EQ(listed["drift"].size(), 1u) << listed;
  EXPECT_EQ(listed["drift"][0]["kind"], "changed");

  ProcessResult repair = Migrate("repair", {"--json"}, m);
  ASSERT_EQ(repair.exit_code, 0) << repair.err;
  ASSERT_EQ(ParseJson(repair)["accepted"].size(), 1u) << repair.out;
  EXPECT_TRUE(ParseJson(Migrate("list", {"--json"}, m))["drift"].empty());
  ProcessResult proceed = Migrate("apply", {"--json"}, m);
  ASSERT_EQ(proceed.exit_code, 0) << proceed.err;
  EXPECT_EQ(History(db_), kAll);

  // An id only the database knows (a newer application migrated it).
  const std::string newer = "20251230000000_FromANewerApp";
  Exec(db_, "INSERT INTO __EFMigrationsHistory VALUES('" + newer + "', '8.0.11')");
  const std::string n = m;  // the repaired series, and one migration more
  ASSERT_TRUE(WriteFileAtomic(n + "/20251231000000_AddThing.sql",
                              "CREATE TABLE Things (Id INTEGER PRIMARY KEY);\n")
                  .ok());
  json unknown = ParseJson(Migrate("list", {"--json"}, n));
  const json* e = Entry(unknown, newer);
  ASSERT_NE(e, nullptr) << unknown;
  EXPECT_EQ((*e)["state"], "unknown");
  ASSERT_EQ(unknown["drift"].size(), 1u) << unknown;
  EXPECT_EQ(unknown["drift"][0]["kind"], "unknown");
  EXPECT_EQ(unknown["drift"][0]["id"], newer);
  ProcessResult refused = Migrate("apply", {}, n);
  EXPECT_EQ(refused.exit_code, 15) << refused.err;
  EXPECT_NE(refused.err.find(newer), std::string::npos) << refused.err;
  EXPECT_FALSE(HasTable(db_, "Things"));
}

// EF Core's ISO 8601 form, `hours` ago.
std::string EfTimestamp(int hours) {
  auto t = std::chrono::system_clock::now() - std::chrono::hours(hours);
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm;
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S.0000000+00:00", &tm);
  return buf;
}

TEST_F(MigrateCliTest, AStaleEfLockIsTakenOverOnlyWhenAsked) {
  Exec(db_,
       "CREATE TABLE \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
       "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL);"
       "INSERT INTO \"__EFMigrationsLock\" VALUES(1, '" +
           EfTimestamp(48) + "')");
  const std::string sum = Checksum(db_);
  ProcessResult a = Migrate("apply");
  EXPECT_EQ(a.exit_code, 7) << a.err;
  EXPECT_NE(a.err.find("--break-stale-lock"), std::string::npos) << a.err;
  EXPECT_EQ(Checksum(db_), sum);
  EXPECT_EQ(History(db_), kOld);

  ProcessResult b = Migrate("apply", {"--break-stale-lock"});
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(History(db_), kAll);
  EXPECT_EQ(Int(db_, "SELECT count(*) FROM __EFMigrationsLock"), 0);

  // A fresh row (an application migrating right now) is not broken even when asked.
  Exec(db_, "INSERT INTO \"__EFMigrationsLock\" VALUES(1, '" + EfTimestamp(0) + "')");
  ProcessResult d = Migrate("rollback", {kBackfill, "--yes", "--break-stale-lock"});
  EXPECT_EQ(d.exit_code, 7) << d.err;
  EXPECT_EQ(History(db_), kAll);
}

// Regression: an agent killed while it held EF Core's lock (after COMMIT, during a slow
// post-check) left its own __EFMigrationsLock row, and the next apply was refused as busy for an
// hour (stale_lock_after). The killed run noted the row in the lock file it left, so the next run
// recognizes it as its own and takes it over; a row another process wrote still blocks.
TEST_F(MigrateCliTest, AKilledAgentsOwnEfLockRowIsTakenOverByTheNextRun) {
  Exec(db_,
       "CREATE TABLE \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
       "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL)");
  ChildProcess p({AURA_AGENT_BIN, "migrate", "apply", "--db", db_, "--dir", kExamples,
                  "--post-check",
                  "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < "
                  "200000000) SELECT count(*) > 0 FROM c"});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (Int(db_, "SELECT count(*) FROM __EFMigrationsHistory") != int64_t(kAll.size()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  p.Signal(SIGKILL);
  ASSERT_EQ(p.Wait().exit_code, 128 + SIGKILL) << "the post-check ended before the kill";
  EXPECT_EQ(History(db_), kAll);
  EXPECT_EQ(Column(db_, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
  ASSERT_EQ(Int(db_, "SELECT count(*) FROM __EFMigrationsLock"), 1);

  ProcessResult next = Migrate("apply", {"--json"});
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(ParseJson(next)["outcome"], "nothing_pending");
  EXPECT_EQ(Int(db_, "SELECT count(*) FROM __EFMigrationsLock"), 0);

  // A fresh row nobody noted is the application's: still busy.
  Exec(db_, "INSERT INTO \"__EFMigrationsLock\" VALUES(1, '" + EfTimestamp(0) + "')");
  ProcessResult busy = Migrate("apply", {"--break-stale-lock"});
  EXPECT_EQ(busy.exit_code, 7) << busy.err;
  EXPECT_NE(busy.err.find("__EFMigrationsLock"), std::string::npos) << busy.err;
}

TEST_F(MigrateCliTest, AFailedPostCheckRestoresThePreMigrationSnapshot) {
  const std::string sum = Checksum(db_);
  ProcessResult a =
      Migrate("apply", {"--post-check", "SELECT count(*) = 0 FROM ProjectStates", "--json"});
  EXPECT_EQ(a.exit_code, 15) << a.err;
  EXPECT_NE(a.err.find("was restored"), std::string::npos) << a.err;
  json j = ParseJson(a);
  EXPECT_EQ(j["outcome"], "restored");
  EXPECT_EQ(j["error"]["exit_code"], 15);
  EXPECT_EQ(History(db_), kOld);
  EXPECT_FALSE(HasColumn(db_, "ProjectStates", "Priority"));
  EXPECT_EQ(Checksum(db_), sum) << "the restored database is not the pre-migration one";
  EXPECT_EQ(Column(db_, "PRAGMA integrity_check"), std::vector<std::string>{"ok"});
}

TEST_F(MigrateCliTest, TheScriptAppliesLikeApplyAndTwiceChangesNothing) {
  aura::testing::CopyFile(db_, dir_ / "by-script.db");
  aura::testing::CopyFile(db_, dir_ / "by-apply.db");
  ProcessResult s = Migrate("script", {"--out", dir_ / "f.sql"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(Checksum(db_), Checksum(dir_ / "by-apply.db")) << "script changed the database";

  auto sqlite3 = [&](const std::string& db) {
    return RunProcess({"/bin/sh", "-c", "sqlite3 '" + db + "' < '" + dir_ / "f.sql" + "'"});
  };
  ProcessResult first = sqlite3(dir_ / "by-script.db");
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  ASSERT_EQ(Agent({"migrate", "apply", "--db", dir_ / "by-apply.db", "--dir", kExamples}).exit_code,
            0);
  const std::string history =
      "SELECT MigrationId || ' ' || ProductVersion FROM __EFMigrationsHistory ORDER BY 1";
  EXPECT_EQ(Column(dir_ / "by-script.db", history), Column(dir_ / "by-apply.db", history));
  EXPECT_EQ(History(dir_ / "by-script.db"), kAll);
  const std::string schema =
      "SELECT type || ' ' || name || ' ' || ifnull(sql, '') FROM sqlite_schema WHERE name NOT "
      "LIKE '__Aura%' ORDER BY name";
  EXPECT_EQ(Column(dir_ / "by-script.db", schema), Column(dir_ / "by-apply.db", schema));
  EXPECT_EQ(RowCounts(dir_ / "by-script.db"), RowCounts(db_));
  EXPECT_EQ(Column(dir_ / "by-script.db", "PRAGMA integrity_check"),
            std::vector<std::string>{"ok"});

  const std::string sum = Checksum(dir_ / "by-script.db");
  ProcessResult second = sqlite3(dir_ / "by-script.db");
  EXPECT_NE(second.err.find("already applied"), std::string::npos) << second.err;
  EXPECT_EQ(Checksum(dir_ / "by-script.db"), sum)
      << "running the script twice changed the database";

  // migrate list on the scripted database: everything applied, no drift.
  json listed = ParseJson(
      Agent({"migrate", "list", "--db", dir_ / "by-script.db", "--dir", kExamples, "--json"}));
  EXPECT_EQ(listed["pending"], 0);
  EXPECT_TRUE(listed["drift"].empty());
}

TEST_F(MigrateCliTest, RollbackBySnapshotNeedsYes) {
  const std::string projects_before =
      RunProcess({"/usr/bin/sqlite3", db_, ".dump ProjectStates"}).out;
  ASSERT_FALSE(projects_before.empty());
  ProcessResult a = Migrate("apply", {"--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  const std::string snapshot = ParseJson(a)["snapshot"];
  ASSERT_FALSE(snapshot.empty());
  EXPECT_TRUE(fs::exists(dir_ / snapshot)) << "the plain pre-migration copy is beside the database";
  EXPECT_EQ(snapshot.rfind("aura.db.pre-migration-", 0), 0u) << snapshot;

  const std::string sum = Checksum(db_);
  ProcessResult no = Migrate("rollback", {kInitial});
  EXPECT_EQ(no.exit_code, 2) << no.err;
  EXPECT_NE(no.err.find("--yes"), std::string::npos) << no.err;
  EXPECT_EQ(Checksum(db_), sum);
  ProcessResult dry = Migrate("rollback", {"InitialCreate", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(ParseJson(dry)["method"], "snapshot");
  EXPECT_EQ(Checksum(db_), sum);

  ProcessResult yes = Migrate("rollback", {"InitialCreate", "--yes", "--json"});
  ASSERT_EQ(yes.exit_code, 0) << yes.err;
  json j = ParseJson(yes);
  EXPECT_EQ(j["outcome"], "rolled_back");
  EXPECT_EQ(j["method"], "snapshot");
  EXPECT_EQ(j["snapshot"], snapshot);
  EXPECT_EQ(History(db_), kOld);
  EXPECT_FALSE(HasColumn(db_, "ProjectStates", "Priority"));
  EXPECT_FALSE(HasTable(db_, "RenderQueue"));
  EXPECT_EQ(RunProcess({"/usr/bin/sqlite3", db_, ".dump ProjectStates"}).out, projects_before);
  json listed = ParseJson(Migrate("list", {"--json"}));
  EXPECT_EQ(listed["applied"], 1);
  EXPECT_TRUE(listed["drift"].empty());
  // And it can be applied again.
  ASSERT_EQ(Migrate("apply").exit_code, 0);
  EXPECT_EQ(History(db_), kAll);
}

// Regression: a rollback by the snapshot taken before the agent's first apply restored a
// database without __AuraMigrationsAudit, and its rollback rows were silently not written.
TEST_F(MigrateCliTest, RollbackBySnapshotRecordsItselfWhenTheSnapshotPredatesTheAuditTable) {
  ASSERT_EQ(Migrate("apply").exit_code, 0);
  ProcessResult r = Migrate("rollback", {"InitialCreate", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(HasTable(db_, "__AuraMigrationsAudit"));
  std::vector<std::string> want(kAll.rbegin(), kAll.rend() - 1);
  EXPECT_EQ(Column(db_,
                   "SELECT MigrationId FROM __AuraMigrationsAudit WHERE Action = 'rollback' AND "
                   "Outcome = 'rolled_back' ORDER BY Seq"),
            want);
  json listed = ParseJson(Migrate("list", {"--json"}));
  EXPECT_EQ(listed["applied"], 1);
  EXPECT_TRUE(listed["drift"].empty()) << listed["drift"];
}

TEST_F(MigrateCliTest, RollbackByDownFiles) {
  const std::map<std::string, int64_t> rows = RowCounts(db_);
  const std::string stages =
      "SELECT Id || '=' || ifnull(CurrentStage, 'NULL') FROM ProjectStates ORDER BY Id";
  const std::vector<std::string> stages_before = Column(db_, stages);
  ASSERT_EQ(Migrate("apply", {"--to", "BackfillPriority"}).exit_code, 0);
  ASSERT_EQ(History(db_), (std::vector<std::string>{kInitial, kPriority, kRename, kBackfill}));

  ProcessResult dry = Migrate("rollback", {"InitialCreate", "--dry-run", "--json"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(ParseJson(dry)["method"], "down_files");
  ProcessResult r = Migrate("rollback", {"InitialCreate", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = ParseJson(r);
  EXPECT_EQ(j["method"], "down_files");
  EXPECT_EQ(j["rolled_back"], (std::vector<std::string>{kBackfill, kRename, kPriority}));
  EXPECT_EQ(History(db_), kOld);
  EXPECT_FALSE(HasColumn(db_, "ProjectStates", "Priority"));
  EXPECT_TRUE(HasColumn(db_, "ProjectStates", "CurrentStage"));
  EXPECT_EQ(RowCounts(db_), rows);
  EXPECT_EQ(Column(db_, stages), stages_before);
  json listed = ParseJson(Migrate("list", {"--json"}));
  EXPECT_EQ(listed["applied"], 1);
  EXPECT_TRUE(listed["drift"].empty());
  ASSERT_EQ(Migrate("apply").exit_code, 0);
  EXPECT_EQ(History(db_), kAll);
}

TEST_F(MigrateCliTest, JsonOnEverySubcommandIncludingFailures) {
  const std::string m = dir_ / "m";
  CopyExamples(m, false);
  auto expect_ok = [&](const ProcessResult& r, const char* what) {
    EXPECT_EQ(r.exit_code, 0) << what << ": " << r.err;
    json j = ParseJson(r);
    EXPECT_TRUE(j.is_object() && !j.contains("error")) << what << ": " << r.out;
    return j;
  };
  auto expect_error = [&](const ProcessResult& r, int code, const char* what) {
    EXPECT_EQ(r.exit_code, code) << what << ": " << r.err;
    json j = ParseJson(r);
    ASSERT_TRUE(j.contains("error")) << what << ": " << r.out;
    EXPECT_EQ(j["error"]["exit_code"], code) << what;
    EXPECT_TRUE(j["error"]["message"].is_string()) << what;
    EXPECT_TRUE(j["error"]["code"].is_string()) << what;
  };
  expect_ok(Migrate("list", {"--json"}, m), "list");
  EXPECT_TRUE(expect_ok(Migrate("script", {"--json"}, m), "script")["sql"].is_string());
  expect_ok(Migrate("script", {"--json", "--out", dir_ / "s.sql"}, m), "script --out");
  EXPECT_EQ(expect_ok(Migrate("apply", {"--dry-run", "--json"}, m), "dry run")["outcome"],
            "dry_run");
  EXPECT_EQ(History(db_), kOld);
  expect_ok(Migrate("repair", {"--json"}, m), "repair without drift");
  expect_ok(Migrate("apply", {"--to", kBackfill, "--json"}, m), "apply");
  expect_ok(Migrate("rollback", {kRename, "--dry-run", "--json"}, m), "rollback --dry-run");
  expect_ok(Migrate("rollback", {kRename, "--json"}, m), "rollback");

  expect_error(Agent({"migrate", "list", "--db", dir_ / "missing.db", "--dir", m, "--json"}), 4,
               "list of a missing database");
  expect_error(Migrate("rollback", {"NoSuchMigration", "--json"}, m), 2, "rollback of no name");
  expect_error(Migrate("apply", {"--to", "NoSuchMigration", "--json"}, m), 2, "apply --to nothing");
  CopyExamples(dir_ / "r", true);
  ProcessResult refused = Migrate("apply", {"--json"}, dir_ / "r");
  expect_error(refused, 15, "refused apply");
  EXPECT_EQ(ParseJson(refused)["outcome"], "refused") << "the report is kept on failure";
  std::string changed = *ReadFileToString(m + "/" + kPriority + ".sql", 1 << 20) + "\nSELECT 1;\n";
  ASSERT_TRUE(WriteFileAtomic(m + "/" + kPriority + ".sql", changed).ok());
  expect_error(Migrate("apply", {"--json"}, m), 15, "apply with drift");
  EXPECT_EQ(ParseJson(Migrate("repair", {"--json"}, m))["accepted"].size(), 1u);
}

TEST_F(MigrateCliTest, BadInputChangesNothing) {
  ProcessResult missing = Agent({"migrate", "apply", "--db", dir_ / "nope.db", "--dir", kExamples});
  EXPECT_EQ(missing.exit_code, 4) << missing.err;
  EXPECT_NE(missing.err.find("nope.db"), std::string::npos) << missing.err;
  EXPECT_TRUE(FilesStartingWith(dir_.path(), "nope.db").empty()) << "migrate created files";

  const std::string m = dir_ / "m";
  CopyExamples(m, false);
  ASSERT_TRUE(
      WriteFileAtomic(m + "/20251222000000_Compact.sql",
                      "-- reclaim space\nUPDATE ProjectStates SET Title = Title;\n\nVACUUM;\n")
          .ok());
  const std::string sum = Checksum(db_);
  const std::string bytes = aura::testing::FileSha256(db_);
  for (const char* sub : {"apply", "list", "script"}) {
    ProcessResult r = Migrate(sub, {}, m);
    EXPECT_EQ(r.exit_code, 15) << sub << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("20251222000000_Compact.sql:4"), std::string::npos)
        << sub << ": " << r.err;
    EXPECT_NE(r.err.find("VACUUM"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Checksum(db_), sum);
  EXPECT_EQ(aura::testing::FileSha256(db_), bytes);
  EXPECT_TRUE(FilesStartingWith(dir_.path(), "aura.db.pre-migration-").empty());
  EXPECT_FALSE(fs::exists(db_ + ".aura-migrate.lock"));

  // A key flag without --backup-to is a mistake, not a plain copy.
  MakeKey();
  ProcessResult key = Migrate("apply", {"--key-file", key_});
  EXPECT_EQ(key.exit_code, 2) << key.err;
  EXPECT_EQ(History(db_), kOld);
  EXPECT_TRUE(FilesStartingWith(dir_.path(), "aura.db.pre-migration-").empty());
}

TEST_F(MigrateCliTest, ConfigFileFormAppliesWithTheConfiguredChecks) {
  MakeKey();
  std::string text = "[agent]\nstate_dir = \"" + std::string(dir_ / "state") +
                     "\"\n[keys]\nkey_file = \"" + key_ +
                     "\"\n[[target]]\nname = \"main\"\nurl = \"" + std::string(dir_ / "repo") +
                     "\"\n[[database]]\nname = \"aura\"\npath = \"" + db_ +
                     "\"\ntargets = [\"main\"]\nmigrations = { dir = \"" + kExamples +
                     "\", auto_apply = false, assert = [\"SELECT count(*) > 0 FROM "
                     "ProjectStates\"] }\n";
  ASSERT_TRUE(WriteFileAtomic(dir_ / "agent.toml", text).ok());
  ProcessResult l = Agent({"migrate", "list", "--config", dir_ / "agent.toml", "--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(ParseJson(l)["pending"], kAll.size() - 1);
  ProcessResult a = Agent({"migrate", "apply", "--config", dir_ / "agent.toml", "--json"});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  json j = ParseJson(a);
  EXPECT_EQ(j["outcome"], "applied");
  bool asserted = false;
  for (const json& c : j["checks"])
    asserted = asserted || c.get<std::string>().find("assertion") == 0;
  EXPECT_TRUE(asserted) << j["checks"];
  ProcessResult listed = Agent({"list", "--from", dir_ / "repo", "--json"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  ASSERT_EQ(ParseJson(listed)["snapshots"].size(), 1u);
  EXPECT_EQ(History(db_), kAll);
  ProcessResult both =
      Agent({"migrate", "list", "--config", dir_ / "agent.toml", "--db", db_, "--json"});
  EXPECT_EQ(both.exit_code, 2) << both.err;
}

}  // namespace
}  // namespace aura
