// Shared fixture for the safe-apply, rollback and script suites: a WAL database in a temp dir, a
// directory of migration files, a plain-copy SnapshotSeam, and helpers that read what a user sees
// (logical checksum, history rows, audit rows, the sqlite3 shell's exit status).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "integrity/logical_checksum.h"
#include "migrations/database_copy.h"
#include "migrations/history.h"
#include "migrations/migration_source.h"
#include "migrations/safe_apply.h"

namespace aura::migrations::testing {

// Snapshots as plain file copies in `dir`, ids "snap-1", "snap-2", ...
class PlainCopySeam final : public SnapshotSeam {
 public:
  PlainCopySeam(std::string database, std::string dir)
      : database_(std::move(database)), dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
  }
  Result<std::string> Take(const std::string& label) override {
    labels.push_back(label);
    std::string id = "snap-" + std::to_string(labels.size());
    AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(database_, SQLITE_OPEN_READONLY, 5000));
    AURA_RETURN_IF_ERROR(CopyDatabaseToFile(db, dir_ + "/" + id + ".db"));
    return id;
  }
  Status RestoreToFile(const std::string& id, const std::string& path) override {
    restores.push_back(id);
    std::error_code ec;
    std::filesystem::copy_file(dir_ + "/" + id + ".db", path,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return IOError("copy snapshot " + id + ": " + ec.message());
    return Status::Ok();
  }
  std::string Describe() const override { return dir_; }

  std::vector<std::string> labels;    // one per Take
  std::vector<std::string> restores;  // ids passed to RestoreToFile

 private:
  std::string database_;
  std::string dir_;
};

struct ShellResult {
  int exit_code = -1;
  std::string err;
};

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "aura-apply-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    db_ = dir_ + "/app.db";
    mig_dir_ = dir_ + "/migrations";
    std::filesystem::create_directories(mig_dir_);
    seam_ = std::make_unique<PlainCopySeam>(db_, dir_ + "/snapshots");
    auto db = SqliteDb::OpenOrCreate(db_, 5000);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE(db->Exec("PRAGMA journal_mode=WAL").ok());
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Runs `sql` on the live database (its own connection).
  void Exec(const std::string& sql, const std::string& path = "") {
    auto db = SqliteDb::Open(path.empty() ? db_ : path, SQLITE_OPEN_READWRITE, 5000);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Status s = db->Exec(sql);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n" << sql;
  }
  int64_t QueryInt(const std::string& sql) {
    auto db = SqliteDb::Open(db_, SQLITE_OPEN_READONLY, 5000);
    if (!db.ok()) return -1;
    auto v = db->QueryInt(sql);
    EXPECT_TRUE(v.ok()) << v.status().ToString() << "\n" << sql;
    return v.ok() ? *v : -1;
  }
  std::string Checksum(const std::string& path = "") {
    auto c = aura::integrity::LogicalChecksumOfFile(path.empty() ? db_ : path);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : "error";
  }
  std::vector<std::string> History() {
    auto db = SqliteDb::Open(db_, SQLITE_OPEN_READONLY, 5000);
    std::vector<std::string> ids;
    if (!db.ok()) return ids;
    auto h = ReadHistory(*db);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    if (h.ok()) {
      for (const AppliedMigration& m : *h) ids.push_back(m.id);
    }
    return ids;
  }
  std::vector<AuditRecord> Audit() {
    auto db = SqliteDb::Open(db_, SQLITE_OPEN_READONLY, 5000);
    if (!db.ok()) return {};
    auto a = ReadAudit(*db);
    EXPECT_TRUE(a.ok()) << a.status().ToString();
    return a.ok() ? *a : std::vector<AuditRecord>{};
  }
  // The schema's SQL of table `name`, as sqlite_schema has it ("" when there is none).
  std::string TableSql(const std::string& name) {
    auto db = SqliteDb::Open(db_, SQLITE_OPEN_READONLY, 5000);
    if (!db.ok()) return "";
    auto st = db->Prepare("SELECT sql FROM sqlite_schema WHERE type='table' AND name=?1");
    if (!st.ok() || !st->BindAll(name).ok()) return "";
    auto row = st->Step();
    return row.ok() && *row ? st->ColumnText(0) : "";
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = mig_dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  std::vector<Migration> Load() {
    auto ms = LoadMigrations(mig_dir_);
    EXPECT_TRUE(ms.ok()) << ms.status().ToString();
    return ms.ok() ? *ms : std::vector<Migration>{};
  }
  // One migration parsed from `text` as if it were the file <id>.sql (nothing written).
  Migration Parse(const std::string& id, const std::string& text) {
    auto m = ParseMigrationFile(text, mig_dir_ + "/" + id + ".sql");
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : Migration{};
  }

  ApplyOptions Options() {
    ApplyOptions o;
    o.database = db_;
    o.snapshots = seam_.get();
    o.scratch_dir = dir_;
    return o;
  }
  ApplyReport Apply(const std::vector<Migration>& ms) { return ApplyMigrations(ms, Options()); }

  // `sqlite3 DB < script`: the shell's exit status and stderr.
  ShellResult RunShell(const std::string& db, const std::string& script) {
    std::string file = dir_ + "/shell-" + std::to_string(++shell_runs_) + ".sql";
    std::string err = file + ".err";
    std::ofstream(file, std::ios::binary) << script;
    std::string cmd = "sqlite3 '" + db + "' < '" + file + "' > /dev/null 2> '" + err + "'";
    int rc = std::system(cmd.c_str());
    ShellResult r;
    r.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    std::ifstream in(err);
    std::stringstream ss;
    ss << in.rdbuf();
    r.err = ss.str();
    return r;
  }

  // Files in the temp dir other than the database, its WAL/SHM, the migrations and snapshots.
  std::vector<std::string> StrayFiles() {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      std::string name = e.path().filename().string();
      if (name == "app.db" || name == "app.db-wal" || name == "app.db-shm" ||
          name == "migrations" || name == "snapshots" || name.rfind("shell-", 0) == 0) {
        continue;
      }
      out.push_back(name);
    }
    return out;
  }

  std::string dir_, db_, mig_dir_;
  std::unique_ptr<PlainCopySeam> seam_;
  int shell_runs_ = 0;
};

}  // namespace aura::migrations::testing
