// `aura-agent migrate` as an operator runs it against an Aura-like database (aura-make-db) and the
// example series in examples/migrations: list/apply/rollback/script/repair, the pre-migration
// snapshot, the data-loss guard, drift, EF Core's lock, a concurrent application writer, and the
// agent killed at random points of an apply (all or nothing, never a mix).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "tests/e2e/migrate_cli_fixture.h"

namespace aura::migrate_e2e {
namespace {

TEST_F(MigrateCliTest, TourListApplyToARepositoryRestoreThePreMigrationSnapshot) {
  ProcessResult l = Migrate("list", {"--json"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  json before = ParseJson(l);
  EXPECT_EQ(before["applied_count"], 1);
  EXPECT_EQ(before["pending_count"], kAll.size() - 1);
  EXPECT_EQ(before["pending"], std::vector<std::string>(kAll.begin() + 1, kAll.end()));
  EXPECT_EQ(before["applied"], kOld);
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
  EXPECT_EQ(after["applied_count"], kAll.size());
  EXPECT_EQ(after["pending_count"], 0);
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
  EXPECT_EQ(listed["pending_count"], 0);
  EXPECT_TRUE(listed["drift"].empty());
}

// Regression: a rollback by the snapshot taken before the agent's first apply restored a
// database without __AuraMigrationsAudit, and its rollback rows were silently not written.
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
  EXPECT_EQ(ParseJson(l)["pending_count"], kAll.size() - 1);
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
}  // namespace aura::migrate_e2e
