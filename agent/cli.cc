#include "agent/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/cli_errors.h"
#include "agent/commands.h"
#include "agent/log_format.h"
#include "agent/service_command.h"
#include "common/progress.h"
#include "common/sqlite_version.h"
#include "common/version.h"

namespace aura::agent {

namespace {

void AddKeyFlags(CLI::App* cmd, RepoArgs& r, bool with_no_encryption) {
  cmd->add_option("--key-file", r.key_file, "Key file (from 'aura-agent key generate')");
  cmd->add_option("--passphrase-env", r.passphrase_env,
                  "Environment variable holding a passphrase instead of a key file");
  cmd->add_option("--passphrase-file", r.passphrase_file, "File holding a passphrase");
  if (with_no_encryption) {
    cmd->add_flag("--no-encryption", r.no_encryption,
                  "Store backups unencrypted (must be chosen explicitly)");
  }
}

void AddConfigFlags(CLI::App* cmd, RepoArgs& r) {
  cmd->add_option("--config", r.config, "Agent config file (instead of --to/--from)");
  cmd->add_option("--database", r.database, "Configured database to use (with --config)");
  cmd->add_option("--target", r.target, "Configured target to use (with --config)");
}

void SetupLogging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("aura");
  SetEscapedLogPattern(*logger, "%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// The parsed command line: every command's options, and which command was given. One Add*
// method per command (or pair of small ones) builds its part of the parser.
class Cli {
 public:
  explicit Cli(DaemonEntry run_daemon);
  // Parses argv and runs the chosen command; the process exit code.
  int Main(int argc, char** argv);

 private:
  void AddGlobal();
  void AddBackup();
  void AddRunStatusPrune();
  void AddRestore();
  void AddReplicate();
  void AddListVerify();
  void AddCheck();
  void AddDrill();
  void AddKeyConfig();
  void AddKeyRetire(CLI::App* k);
  void AddMigrate();
  void AddService() {
    service_.Add(app_, [this](CLI::App* c) { AddJson(c); });
  }
  CLI::App* AddMigrateCommand(CLI::App* m, const std::string& name, const std::string& what);
  void AddJson(CLI::App* cmd) {
    cmd->add_flag("--json", json_, "Print one JSON document instead of text");
  }
  int Dispatch();

  DaemonEntry run_daemon_;
  CLI::App app_{"aura-agent: backups, restores, integrity and migrations for SQLite databases"};
  bool json_ = false;
  bool no_progress_ = false;
  std::string log_level_ = "warn";
  BackupArgs backup_;
  std::string run_config_;
  StatusArgs status_;
  PruneArgs prune_;
  RestoreArgs restore_;
  ReplicateArgs repl_;
  ListArgs list_;
  VerifyArgs verify_;
  RetireArgs retire_;
  CheckArgs check_;
  DrillArgs drill_;
  MigrateArgs migrate_;
  ServiceCommand service_;
  std::string key_path_;
  std::string config_path_;
  CLI::App *backup_cmd_, *run_cmd_, *status_cmd_, *prune_cmd_, *restore_cmd_, *repl_cmd_,
      *list_cmd_, *verify_cmd_, *check_cmd_, *drill_cmd_, *key_generate_cmd_, *key_add_cmd_,
      *key_retire_cmd_, *config_check_cmd_, *migrate_list_cmd_, *migrate_apply_cmd_,
      *migrate_rollback_cmd_, *migrate_script_cmd_, *migrate_repair_cmd_;
};

Cli::Cli(DaemonEntry run_daemon) : run_daemon_(run_daemon) {
  AddGlobal();
  AddBackup();
  AddRunStatusPrune();
  AddRestore();
  AddReplicate();
  AddListVerify();
  AddCheck();
  AddDrill();
  AddKeyConfig();
  AddMigrate();
  AddService();
}

void Cli::AddGlobal() {
  app_.set_version_flag("--version", VersionLine(kAgentVersion));
  app_.require_subcommand(1);
  app_.add_option("--log-level", log_level_, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app_.add_flag("--no-progress", no_progress_,
                "No progress line on stderr during backup, restore, verify and drill");
}

void Cli::AddBackup() {
  CLI::App* b = backup_cmd_ = app_.add_subcommand("backup", "Take a snapshot of a database now");
  b->add_option("--db", backup_.db, "Database file to back up");
  b->add_option("--to", backup_.repo.url, "Backup folder or s3://bucket/prefix");
  b->add_option("--name", backup_.repo.database,
                "Name of the database in the repository (default: file name without extension)");
  b->add_option("--label", backup_.label, "Free text stored with the snapshot");
  b->add_option("--busy-timeout", backup_.busy_timeout_ms,
                "Milliseconds to wait for a lock held by another process")
      ->check(WholeNumber(0, 3600000));
  b->add_option("--threads", backup_.threads, "Worker threads (default: one per core)")
      ->check(WholeNumber(0, 64));
  b->add_option("--policy", backup_.policy,
                "With --config: take this policy's snapshot on its incremental chain, as the "
                "daemon does (hourly, daily, weekly, monthly)")
      ->check(CLI::IsMember({"hourly", "daily", "weekly", "monthly"}));
  AddKeyFlags(b, backup_.repo, true);
  AddConfigFlags(b, backup_.repo);
  AddJson(b);
}

void Cli::AddRunStatusPrune() {
  run_cmd_ = app_.add_subcommand(
      "run",
      "Run the agent: WAL shipping, scheduled snapshots, checks, drills, retention and the "
      "status socket, until SIGTERM (SIGHUP reloads the config)");
  run_cmd_->add_option("--config", run_config_, "Agent config file")->required();

  CLI::App* st = status_cmd_ =
      app_.add_subcommand("status", "Ask the running agent how every database is doing");
  st->add_option("--config", status_.config, "Agent config file (for its status_socket)");
  st->add_option("--socket", status_.socket, "Status socket path (instead of --config)");
  AddJson(st);

  CLI::App* pr = prune_cmd_ = app_.add_subcommand(
      "prune", "Apply retention: delete snapshots and WAL outside the keep rules (see --dry-run)");
  pr->add_option("--config", prune_.config, "Agent config file")->required();
  pr->add_option("--database", prune_.database, "Only this configured database");
  pr->add_option("--target", prune_.target, "Only this configured target");
  pr->add_flag("--dry-run", prune_.dry_run, "Show what would be deleted and why; delete nothing");
  AddJson(pr);
}

void Cli::AddRestore() {
  CLI::App* r = restore_cmd_ =
      app_.add_subcommand("restore", "Restore a snapshot (or a plain .db file)");
  r->add_option("--from", restore_.repo.url, "Backup folder, s3:// URL, or a plain .db file");
  r->add_option("--to", restore_.to, "Database file to create");
  r->add_flag("--latest", restore_.latest, "Restore the newest snapshot");
  r->add_option("--snapshot", restore_.snapshot, "Restore this snapshot id");
  r->add_option("--at", restore_.at,
                "Restore the database as of this time (RFC 3339, e.g. 2026-11-24T20:14:05Z)");
  r->add_option("--txid", restore_.txid, "Restore the database as of this replicated transaction")
      ->check(WholeNumber(0, INT64_MAX));
  r->add_option("--name", restore_.repo.database, "Database name in the repository");
  r->add_flag("--force", restore_.force, "Replace an existing --to (stop the application first)");
  r->add_flag("--dry-run", restore_.dry_run,
              "Print the plan (objects, bytes to fetch, resulting txid and time); write nothing");
  r->add_option("--check", restore_.check, "Integrity check before renaming: full, quick, none")
      ->check(CLI::IsMember({"full", "quick", "none"}));
  r->add_option("--threads", restore_.threads, "Worker threads")->check(WholeNumber(0, 64));
  r->add_flag("--follow", restore_.follow,
              "Keep --to as a warm standby: seed it, then apply new WAL segments as they arrive "
              "until Ctrl-C or SIGTERM (resumes where it stopped)");
  r->add_flag("--once", restore_.once, "With --follow: stop once the standby has caught up");
  r->add_option("--poll-interval", restore_.poll_interval,
                "With --follow: how often to look for new segments (default 1s)");
  r->add_flag("--promote", restore_.promote,
              "Promote the standby --to: stop its follower, verify every page, leave an ordinary "
              "database");
  AddKeyFlags(r, restore_.repo, false);
  AddConfigFlags(r, restore_.repo);
  AddJson(r);
}

void Cli::AddReplicate() {
  CLI::App* rp = repl_cmd_ = app_.add_subcommand(
      "replicate", "Ship every committed transaction continuously (foreground, until SIGTERM)");
  rp->add_option("--db", repl_.db, "WAL-mode database file to replicate");
  rp->add_option("--to", repl_.repo.url, "Backup folder or s3://bucket/prefix");
  rp->add_option("--name", repl_.repo.database, "Name of the database in the repository");
  rp->add_option("--spool", repl_.spool, "Local spool directory (default: beside the database)");
  rp->add_option("--status-file", repl_.status_file, "Write JSON status here every second");
  rp->add_option("--busy-timeout", repl_.busy_timeout_ms, "Milliseconds to wait for locks")
      ->check(WholeNumber(0, 3600000));
  rp->add_option("--poll-ms", repl_.poll_ms, "How often to look for new commits")
      ->check(WholeNumber(1, 10000));
  rp->add_option("--segment-ms", repl_.segment_ms,
                 "Longest a commit waits to be cut into a segment")
      ->check(WholeNumber(1, 600000));
  rp->add_option("--upload-interval", repl_.upload_interval,
                 "How often segments leave for the target, the RPO (\"1s\", \"10s\", \"500ms\"); "
                 "replaces --segment-ms");
  rp->add_option("--run-seconds", repl_.run_seconds, "Stop after this many seconds (tests)")
      ->check(SecondsBetween(0, 31536000));
  AddKeyFlags(rp, repl_.repo, true);
  AddConfigFlags(rp, repl_.repo);
  AddJson(rp);
}

void Cli::AddListVerify() {
  CLI::App* l = list_cmd_ = app_.add_subcommand("list", "List snapshots (no key needed)");
  l->add_option("--from", list_.repo.url, "Backup folder or s3:// URL");
  l->add_option("--name", list_.repo.database, "Only this database");
  AddKeyFlags(l, list_.repo, false);
  AddConfigFlags(l, list_.repo);
  AddJson(l);

  CLI::App* v = verify_cmd_ =
      app_.add_subcommand("verify", "Re-read, decrypt and check every backup object");
  v->add_option("--from", verify_.repo.url, "Backup folder or s3:// URL");
  v->add_option("--name", verify_.repo.database, "Only this database");
  v->add_option("--snapshot", verify_.snapshot, "Only this snapshot");
  v->add_option("--threads", verify_.threads, "Worker threads")->check(WholeNumber(0, 64));
  AddKeyFlags(v, verify_.repo, false);
  AddConfigFlags(v, verify_.repo);
  AddJson(v);
}

void Cli::AddCheck() {
  CLI::App* c = check_cmd_ = app_.add_subcommand(
      "check", "Check a live database now: quick_check, or integrity_check and foreign_key_check");
  c->add_option("--db", check_.db, "Database file to check");
  c->add_option("--config", check_.config, "Agent config file (its databases, instead of --db)");
  c->add_option("--database", check_.database, "Only this configured database (with --config)");
  c->add_option("--level", check_.level,
                "quick (quick_check) or full (integrity_check and foreign_key_check); default: "
                "the database's configured check level, quick for --db")
      ->check(CLI::IsMember({"quick", "full"}));
  AddJson(c);
}

void Cli::AddDrill() {
  CLI::App* d = drill_cmd_ = app_.add_subcommand(
      "drill", "Restore drill now: restore to a scratch copy, verify, check, assert, measure");
  d->add_option("--from", drill_.repo.url, "Backup folder or s3:// URL");
  d->add_option("--name", drill_.repo.database, "Database in the repository (with --from)");
  d->add_option("--point", drill_.point, "latest (default) or random")
      ->check(CLI::IsMember({"latest", "random"}));
  d->add_option("--assert", drill_.assertions,
                "SQL that must return true on the restored copy (repeatable; adds to the "
                "config's drill.assert)");
  d->add_flag("--history", drill_.history, "Show the recorded drills (with --config)");
  d->add_flag("--no-verify", drill_.no_verify,
              "Only restore and check the chosen point; do not also verify every other object");
  AddKeyFlags(d, drill_.repo, false);
  AddConfigFlags(d, drill_.repo);
  AddJson(d);
}

void Cli::AddKeyRetire(CLI::App* k) {
  CLI::App* r = key_retire_cmd_ = k->add_subcommand(
      "retire", "Re-seal every object a key sealed under the newest key, so it can be dropped");
  r->add_option("key_id", retire_.key_id, "Id of the key to retire (16 hex digits)")->required();
  r->add_option("--from", retire_.repo.url, "Backup folder or s3:// URL");
  r->add_option("--name", retire_.repo.database, "Only this database");
  r->add_flag("--drop-from-key-file", retire_.drop_from_key_file,
              "Afterwards rewrite the key file without the retired key (atomically, mode 0600)");
  AddKeyFlags(r, retire_.repo, false);
  AddConfigFlags(r, retire_.repo);
  AddJson(r);
}

void Cli::AddKeyConfig() {
  CLI::App* k = app_.add_subcommand("key", "Manage backup keys");
  k->require_subcommand(1);
  key_generate_cmd_ = k->add_subcommand("generate", "Create a new key file (mode 0600)");
  key_generate_cmd_->add_option("--out", key_path_, "Key file to create")->required();
  AddJson(key_generate_cmd_);
  key_add_cmd_ = k->add_subcommand("add", "Rotate: append a new key that seals new backups");
  key_add_cmd_->add_option("--file", key_path_, "Existing key file")->required();
  AddJson(key_add_cmd_);
  AddKeyRetire(k);

  CLI::App* c = app_.add_subcommand("config", "Configuration tools");
  c->require_subcommand(1);
  config_check_cmd_ = c->add_subcommand("check", "Validate a config file");
  config_check_cmd_->add_option("--config,config", config_path_, "Config file")->required();
  AddJson(config_check_cmd_);
}

// The flags every migrate command shares: the database and its migrations, where the
// pre-migration snapshot goes, and the lock and history settings.
CLI::App* Cli::AddMigrateCommand(CLI::App* m, const std::string& name, const std::string& what) {
  CLI::App* c = m->add_subcommand(name, what);
  MigrateArgs& a = migrate_;
  c->add_option("--db", a.db, "Database file to migrate");
  c->add_option("--dir", a.dir, "Folder of migration .sql files (EF Core ids, or an EF script)");
  c->add_option("--backup-to", a.repo.url,
                "Backup folder or s3:// URL for the pre-migration snapshot (default: a plain "
                "copy beside the database)");
  AddKeyFlags(c, a.repo, true);
  AddConfigFlags(c, a.repo);
  c->add_option("--product-version", a.product_version,
                "ProductVersion written to __EFMigrationsHistory (default 8.0.11)");
  c->add_option("--busy-timeout", a.busy_timeout_ms, "Milliseconds to wait for the write lock")
      ->check(WholeNumber(0, 3600000));
  c->add_flag("--break-stale-lock", a.break_stale_lock,
              "Take over an EF Core __EFMigrationsLock row older than --stale-lock-after");
  c->add_option("--stale-lock-after", a.stale_lock_after,
                "Age after which an EF lock row counts as stale (default 1h)");
  AddJson(c);
  return c;
}

void Cli::AddMigrate() {
  CLI::App* m = app_.add_subcommand(
      "migrate", "Schema migrations: pre-migration snapshot, rehearsal, one transaction, checks");
  m->require_subcommand(1);
  MigrateArgs& a = migrate_;
  migrate_list_cmd_ = AddMigrateCommand(m, "list", "Applied and pending migrations, and drift");
  migrate_apply_cmd_ = AddMigrateCommand(m, "apply", "Apply every pending migration safely");
  migrate_apply_cmd_->add_option("--to", a.to, "Apply up to and including this id or name");
  migrate_apply_cmd_->add_flag("--dry-run", a.dry_run,
                               "Plan, lint and rehearse on a scratch copy; change nothing");
  migrate_apply_cmd_->add_option("--allow-data-loss", a.allow_data_loss,
                                 "Accept a reviewed loss of rows in this table (repeatable)");
  migrate_apply_cmd_->add_option("--assert", a.assertions,
                                 "SQL that must be true before COMMIT (repeatable)");
  migrate_apply_cmd_->add_option("--post-check", a.post_checks,
                                 "SQL that must be true after COMMIT, else the pre-migration "
                                 "snapshot is restored (repeatable)");
  migrate_rollback_cmd_ = AddMigrateCommand(
      m, "rollback", "Undo the migrations after <Name|Id> (0: all), by down files or snapshot");
  migrate_rollback_cmd_->add_option("target", a.rollback_target, "Name, id, or 0")->required();
  migrate_rollback_cmd_->add_flag("--yes", a.yes,
                                  "Allow a rollback by restoring the pre-migration snapshot");
  migrate_rollback_cmd_->add_flag("--dry-run", a.dry_run,
                                  "Say how it would roll back; change nothing");
  migrate_script_cmd_ = AddMigrateCommand(
      m, "script", "The SQL apply would run, guarded so running it twice is harmless");
  migrate_script_cmd_->add_option("--out", a.out, "Write the script to this file");
  migrate_repair_cmd_ = AddMigrateCommand(
      m, "repair", "Accept reviewed drift (changed files, unknown ids, out-of-order migrations)");
}

// Whether --json is anywhere on the command line: a command line the parser refused still
// gets its error as JSON when the caller asked for JSON.
bool JsonAnywhere(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") return true;
  }
  return false;
}

int Cli::Main(int argc, char** argv) {
  try {
    app_.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app_.exit(e);  // --help, --version
  } catch (const CLI::ParseError& e) {
    return Output(JsonAnywhere(argc, argv)).Fail(UsageError(e, app_));
  }
  // `backup --db --json` parses with "--json" as the --db value; its error is still JSON.
  json_ = json_ || JsonAnywhere(argc, argv);
  if (run_cmd_->parsed()) return run_daemon_(run_config_, nullptr);
  if (service_.parsed() && service_.run_parsed()) return service_.Run(run_daemon_);
  SetupLogging(log_level_);
  return Dispatch();
}

int Cli::Dispatch() {
  Output out(json_, ProgressWanted(CurrentProgressContext(json_, no_progress_)));
  if (status_cmd_->parsed()) return RunStatus(status_, out);
  if (backup_cmd_->parsed()) {
    return backup_.policy.empty() ? RunBackup(backup_, out) : RunBackupPolicy(backup_, out);
  }
  if (prune_cmd_->parsed()) return RunPruneCommand(prune_, out);
  if (restore_cmd_->parsed()) {
    restore_.check_given = restore_cmd_->get_option("--check")->count() > 0;
    return RunRestore(restore_, out);
  }
  if (list_cmd_->parsed()) return RunList(list_, out);
  if (repl_cmd_->parsed()) return RunReplicate(repl_, out);
  if (verify_cmd_->parsed()) return RunVerify(verify_, out);
  if (check_cmd_->parsed()) return RunCheckCommand(check_, out);
  if (drill_cmd_->parsed()) return RunDrillCommand(drill_, out);
  if (key_generate_cmd_->parsed()) return RunKeyGenerate(key_path_, out);
  if (key_add_cmd_->parsed()) return RunKeyAdd(key_path_, out);
  if (key_retire_cmd_->parsed()) return RunKeyRetire(retire_, out);
  if (config_check_cmd_->parsed()) return RunConfigCheck(config_path_, out);
  if (migrate_list_cmd_->parsed()) return RunMigrateList(migrate_, out);
  if (migrate_apply_cmd_->parsed()) return RunMigrateApply(migrate_, out);
  if (migrate_rollback_cmd_->parsed()) return RunMigrateRollback(migrate_, out);
  if (migrate_script_cmd_->parsed()) return RunMigrateScript(migrate_, out);
  if (migrate_repair_cmd_->parsed()) return RunMigrateRepair(migrate_, out);
  if (service_.parsed()) return service_.Manage(out);
  return 2;
}

}  // namespace

int RunCli(int argc, char** argv, DaemonEntry run_daemon) {
  return Cli(run_daemon).Main(argc, argv);
}

}  // namespace aura::agent
