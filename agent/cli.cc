#include "agent/cli.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <string>

#include "agent/commands.h"
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
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace

int RunCli(int argc, char** argv) {
  CLI::App app{"aura-agent: backups, restores, integrity and migrations for SQLite databases"};
  app.set_version_flag("--version", std::string("aura-agent ") + kAgentVersion);
  app.require_subcommand(1);
  bool json = false;
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  auto add_json = [&json](CLI::App* cmd) {
    cmd->add_flag("--json", json, "Print one JSON document instead of text");
  };

  BackupArgs backup;
  CLI::App* b = app.add_subcommand("backup", "Take a snapshot of a database now");
  b->add_option("--db", backup.db, "Database file to back up");
  b->add_option("--to", backup.repo.url, "Backup folder or s3://bucket/prefix");
  b->add_option("--name", backup.repo.database,
                "Name of the database in the repository (default: file name without extension)");
  b->add_option("--label", backup.label, "Free text stored with the snapshot");
  b->add_option("--busy-timeout", backup.busy_timeout_ms,
                "Milliseconds to wait for a lock held by another process")
      ->check(CLI::Range(0, 3600000));
  b->add_option("--threads", backup.threads, "Worker threads (default: one per core)")
      ->check(CLI::Range(0, 64));
  b->add_option("--policy", backup.policy,
                "With --config: take this policy's snapshot on its incremental chain, as the "
                "daemon does (hourly, daily, weekly, monthly)")
      ->check(CLI::IsMember({"hourly", "daily", "weekly", "monthly"}));
  AddKeyFlags(b, backup.repo, true);
  AddConfigFlags(b, backup.repo);
  add_json(b);

  std::string run_config;
  CLI::App* run = app.add_subcommand(
      "run",
      "Run the agent: WAL shipping, scheduled snapshots, checks, drills, retention and the "
      "status socket, until SIGTERM (SIGHUP reloads the config)");
  run->add_option("--config", run_config, "Agent config file")->required();

  StatusArgs status;
  CLI::App* st = app.add_subcommand("status", "Ask the running agent how every database is doing");
  st->add_option("--config", status.config, "Agent config file (for its status_socket)");
  st->add_option("--socket", status.socket, "Status socket path (instead of --config)");
  add_json(st);

  PruneArgs prune;
  CLI::App* pr = app.add_subcommand(
      "prune", "Apply retention: delete snapshots and WAL outside the keep rules (see --dry-run)");
  pr->add_option("--config", prune.config, "Agent config file")->required();
  pr->add_option("--database", prune.database, "Only this configured database");
  pr->add_option("--target", prune.target, "Only this configured target");
  pr->add_flag("--dry-run", prune.dry_run, "Show what would be deleted and why; delete nothing");
  add_json(pr);

  RestoreArgs restore;
  CLI::App* r = app.add_subcommand("restore", "Restore a snapshot (or a plain .db file)");
  r->add_option("--from", restore.repo.url, "Backup folder, s3:// URL, or a plain .db file");
  r->add_option("--to", restore.to, "Database file to create");
  r->add_flag("--latest", restore.latest, "Restore the newest snapshot");
  r->add_option("--snapshot", restore.snapshot, "Restore this snapshot id");
  r->add_option("--at", restore.at,
                "Restore the database as of this time (RFC 3339, e.g. 2026-11-24T20:14:05Z)");
  r->add_option("--txid", restore.txid, "Restore the database as of this replicated transaction")
      ->check(CLI::NonNegativeNumber);
  r->add_option("--name", restore.repo.database, "Database name in the repository");
  r->add_flag("--force", restore.force, "Replace an existing --to (stop the application first)");
  r->add_option("--check", restore.check, "Integrity check before renaming: full, quick, none")
      ->check(CLI::IsMember({"full", "quick", "none"}));
  r->add_option("--threads", restore.threads, "Worker threads")->check(CLI::Range(0, 64));
  AddKeyFlags(r, restore.repo, false);
  AddConfigFlags(r, restore.repo);
  add_json(r);

  ReplicateArgs repl;
  CLI::App* rp = app.add_subcommand(
      "replicate", "Ship every committed transaction continuously (foreground, until SIGTERM)");
  rp->add_option("--db", repl.db, "WAL-mode database file to replicate");
  rp->add_option("--to", repl.repo.url, "Backup folder or s3://bucket/prefix");
  rp->add_option("--name", repl.repo.database, "Name of the database in the repository");
  rp->add_option("--spool", repl.spool, "Local spool directory (default: beside the database)");
  rp->add_option("--status-file", repl.status_file, "Write JSON status here every second");
  rp->add_option("--busy-timeout", repl.busy_timeout_ms, "Milliseconds to wait for locks")
      ->check(CLI::Range(0, 3600000));
  rp->add_option("--poll-ms", repl.poll_ms, "How often to look for new commits")
      ->check(CLI::Range(1, 10000));
  rp->add_option("--segment-ms", repl.segment_ms, "Longest a commit waits to be cut into a segment")
      ->check(CLI::Range(1, 600000));
  rp->add_option("--run-seconds", repl.run_seconds, "Stop after this many seconds (tests)");
  AddKeyFlags(rp, repl.repo, true);
  AddConfigFlags(rp, repl.repo);
  add_json(rp);

  ListArgs list;
  CLI::App* l = app.add_subcommand("list", "List snapshots (no key needed)");
  l->add_option("--from", list.repo.url, "Backup folder or s3:// URL");
  l->add_option("--name", list.repo.database, "Only this database");
  AddKeyFlags(l, list.repo, false);
  AddConfigFlags(l, list.repo);
  add_json(l);

  VerifyArgs verify;
  CLI::App* v = app.add_subcommand("verify", "Re-read, decrypt and check every backup object");
  v->add_option("--from", verify.repo.url, "Backup folder or s3:// URL");
  v->add_option("--name", verify.repo.database, "Only this database");
  v->add_option("--snapshot", verify.snapshot, "Only this snapshot");
  v->add_option("--threads", verify.threads, "Worker threads")->check(CLI::Range(0, 64));
  AddKeyFlags(v, verify.repo, false);
  AddConfigFlags(v, verify.repo);
  add_json(v);

  std::string key_path;
  CLI::App* k = app.add_subcommand("key", "Manage backup keys");
  k->require_subcommand(1);
  CLI::App* kg = k->add_subcommand("generate", "Create a new key file (mode 0600)");
  kg->add_option("--out", key_path, "Key file to create")->required();
  add_json(kg);
  CLI::App* ka = k->add_subcommand("add", "Rotate: append a new key that seals new backups");
  ka->add_option("--file", key_path, "Existing key file")->required();
  add_json(ka);

  std::string config_path;
  CLI::App* c = app.add_subcommand("config", "Configuration tools");
  c->require_subcommand(1);
  CLI::App* cc = c->add_subcommand("check", "Validate a config file");
  cc->add_option("--config,config", config_path, "Config file")->required();
  add_json(cc);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (run->parsed()) return RunDaemonCommand(run_config);
  SetupLogging(log_level);
  Output out(json);
  if (st->parsed()) return RunStatus(status, out);
  if (b->parsed())
    return backup.policy.empty() ? RunBackup(backup, out) : RunBackupPolicy(backup, out);
  if (pr->parsed()) return RunPruneCommand(prune, out);
  if (r->parsed()) return RunRestore(restore, out);
  if (l->parsed()) return RunList(list, out);
  if (rp->parsed()) return RunReplicate(repl, out);
  if (v->parsed()) return RunVerify(verify, out);
  if (kg->parsed()) return RunKeyGenerate(key_path, out);
  if (ka->parsed()) return RunKeyAdd(key_path, out);
  if (cc->parsed()) return RunConfigCheck(config_path, out);
  return 2;
}

}  // namespace aura::agent
