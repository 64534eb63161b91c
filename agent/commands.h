// The CLI's commands, each a function from parsed options to an exit code. cli.cc builds the
// CLI11 parser and fills these structs; the functions never see argv.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "agent/output.h"
#include "backup/pitr_restore.h"

namespace aura::agent {

// Where a command reads or writes backups, and with which key: either from flags
// (--to/--from URL and --key-file/--passphrase-env/--passphrase-file/--no-encryption) or from a
// config file (--config, --database, --target).
struct RepoArgs {
  std::string url;
  std::string key_file;
  std::string passphrase_env;
  std::string passphrase_file;
  bool no_encryption = false;
  std::string config;
  std::string database;  // config: [[database]] name; flags: the name in the repository
  std::string target;    // config: which target of the database (default: its first)
};

struct BackupArgs {
  RepoArgs repo;
  std::string db;
  std::string label;
  int busy_timeout_ms = 5000;
  int threads = 0;
  std::string policy;  // with --config: run this scheduled policy's snapshot (incremental chain)
};

struct StatusArgs {
  std::string config;
  std::string socket;
};

struct PruneArgs {
  std::string config;
  std::string database;
  std::string target;
  bool dry_run = false;
};

struct RestoreArgs {
  RepoArgs repo;
  std::string to;
  bool latest = false;
  std::string snapshot;
  std::string at;     // RFC 3339 time
  int64_t txid = -1;  // -1: not given
  bool force = false;
  bool dry_run = false;  // print the plan, write nothing
  std::string check = "full";
  bool check_given = false;  // --check was on the command line
  int threads = 0;
  bool follow = false;   // keep --to as a warm standby (backup/standby.h)
  bool once = false;     // with --follow: stop once caught up
  bool promote = false;  // promote the standby --to
  std::string poll_interval = "1s";
};

struct ReplicateArgs {
  RepoArgs repo;
  std::string db;
  std::string spool;        // default: beside the database
  std::string status_file;  // JSON status, rewritten every second
  int busy_timeout_ms = 5000;
  int poll_ms = 5;
  int segment_ms = 20;
  std::string upload_interval;  // "1s", "500ms": replaces segment_ms when set
  double run_seconds = 0;       // stop after this long (0: until SIGINT/SIGTERM)
};

struct ListArgs {
  RepoArgs repo;
};

struct CheckArgs {
  std::string db;      // a database file, or
  std::string config;  // the configured databases (all, or --database)
  std::string database;
  std::string level;  // "quick" or "full"; empty: the database's check level (quick for --db)
};

struct DrillArgs {
  RepoArgs repo;
  std::string point;  // "latest" or "random"; empty: the config's drill.point (latest)
  std::vector<std::string> assertions;
  bool history = false;
  bool no_verify = false;  // skip verifying the database's other objects alongside the restore
};

struct VerifyArgs {
  RepoArgs repo;
  std::string snapshot;
  int threads = 0;
};

// key retire KEY_ID (backup/key_retirement.h).
struct RetireArgs {
  RepoArgs repo;
  std::string key_id;
  bool drop_from_key_file = false;
};

// migrate list|apply|rollback|script|repair (docs/MIGRATIONS.md).
struct MigrateArgs {
  RepoArgs repo;  // --backup-to (url) and the key flags; or --config/--database/--target
  std::string db;
  std::string dir;
  std::string to;               // apply --to
  bool dry_run = false;         // apply, rollback
  std::string rollback_target;  // rollback <Name|Id|0>
  bool yes = false;             // rollback by snapshot
  std::string out;              // script --out
  std::vector<std::string> allow_data_loss;
  std::vector<std::string> assertions;
  std::vector<std::string> post_checks;
  bool break_stale_lock = false;
  std::string stale_lock_after;  // duration; empty: the config's, else 1h
  std::string product_version;   // empty: the config's, else 8.0.11
  int busy_timeout_ms = -1;      // -1: the config's, else 60000
};

int RunMigrateList(const MigrateArgs& args, const Output& out);
int RunMigrateApply(const MigrateArgs& args, const Output& out);
int RunMigrateRollback(const MigrateArgs& args, const Output& out);
int RunMigrateScript(const MigrateArgs& args, const Output& out);
int RunMigrateRepair(const MigrateArgs& args, const Output& out);

int RunBackup(const BackupArgs& args, const Output& out);
int RunStatus(const StatusArgs& args, const Output& out);
int RunBackupPolicy(const BackupArgs& args, const Output& out);
int RunPruneCommand(const PruneArgs& args, const Output& out);
int RunRestore(const RestoreArgs& args, const Output& out);
int RunList(const ListArgs& args, const Output& out);
int RunReplicate(const ReplicateArgs& args, const Output& out);
int RunVerify(const VerifyArgs& args, const Output& out);
int RunCheckCommand(const CheckArgs& args, const Output& out);
int RunDrillCommand(const DrillArgs& args, const Output& out);
int RunRestoreDryRun(const RestoreArgs& args, const Output& out);
// restore --follow / --promote.
int RunStandby(const RestoreArgs& args, const Output& out);
// The point the restore flags name: exactly one of --latest, --snapshot, --at, --txid (nullopt
// for --snapshot).
Result<std::optional<backup::PointInTime>> RestorePointFromArgs(const RestoreArgs& args);
int RunKeyGenerate(const std::string& path, const Output& out);
int RunKeyAdd(const std::string& path, const Output& out);
int RunKeyRetire(const RetireArgs& args, const Output& out);
int RunConfigCheck(const std::string& path, const Output& out);

}  // namespace aura::agent
