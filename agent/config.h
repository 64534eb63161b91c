// The agent's configuration: one TOML file (examples/agent.toml documents every key).
//
// Strictness is the point: an unknown key (a typo such as `hourley`) or a value of the wrong type
// is an error naming file:line, never silently ignored, because a silently ignored backup policy
// is discovered only when a restore is needed. Secrets are never inline: keys come from
// `key_file`, passphrases from `passphrase_env` or `passphrase_file`.
//
// Thread-safety: plain values; LoadConfig is reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backup/repository.h"
#include "common/platform.h"
#include "common/status.h"

namespace aura::agent {

struct PolicyConfig {
  bool enabled = false;
  int keep = 0;
  int full_every = 1;  // snapshots per chain: a full one, then full_every-1 incremental ones
  int minute = 0;      // hourly: minute of the hour
  std::string at;      // daily/weekly/monthly: "HH:MM"
  std::string day;     // weekly: "mon".."sun"; monthly: "1".."28" or "last"
  std::string timezone = "local";
  std::vector<std::string> targets;  // empty: the database's targets
};

// A scheduled integrity check of the live database, or a restore drill: daily at `at`, or
// weekly when `day` is set.
struct CheckConfig {
  bool enabled = false;
  std::string at = "03:30";
  std::string day;  // "mon".."sun": weekly; empty: daily
  std::string timezone = "local";
  std::string level = "quick";  // check: "quick" or "full"
  std::string quick = "off";    // check: "hourly" adds an hourly quick_check to the scheduled one
  // drill: SQL that must return true on the restored copy, and which point ("latest", "random").
  std::vector<std::string> assertions;
  std::string point = "latest";
};

// Rolling verification of the database's objects in each target (integrity/rolling_verify.h).
struct VerifyConfig {
  bool enabled = true;
  int64_t every_s = 7 * 86400;  // every object is verified once per cycle of this length
};

// Schema migrations of the database (migrations/safe_apply.h, docs/MIGRATIONS.md).
struct MigrationsConfig {
  bool enabled = false;
  std::string dir;
  bool auto_apply = false;  // the daemon applies new files when they appear
  // auto_apply only inside this daily window, "HH:MM-HH:MM" in `timezone` (may wrap midnight);
  // empty: at any time.
  std::string window;
  std::string timezone = "local";
  std::string product_version = "8.0.11";    // written to __EFMigrationsHistory
  int64_t stale_lock_after_s = 3600;         // an EF lock row older than this is stale
  std::vector<std::string> assertions;       // `assert`: true before COMMIT
  std::vector<std::string> post_checks;      // `post_check`: true after COMMIT
  std::vector<std::string> allow_data_loss;  // tables whose loss of rows is reviewed
  int64_t full_check_max_mb = 256;           // integrity_check up to this size, quick_check above
  int busy_timeout_ms = 60000;
};

// S3 settings of a target; unset fields keep what the environment gives (see s3_config.h).
struct S3TargetOptions {
  std::optional<std::string> endpoint, region, profile, credentials_file, ca_bundle, storage_class,
      object_lock_mode;
  std::optional<bool> path_style, verify_tls, list_top_prefix_only;
  std::optional<int64_t> connect_timeout_ms, stall_timeout_s, part_size_mb, upload_concurrency,
      bandwidth_limit_kib, object_lock_days, max_attempts;
};

struct TargetConfig {
  std::string name;
  std::string url;
  std::string encryption = "aes-256-gcm";  // or "none"
  S3TargetOptions s3;
  int line = 0;
  std::string source;  // the [[target]] table as parsed
};

struct DatabaseConfig {
  std::string name;
  std::string path;
  std::vector<std::string> targets;
  bool continuous = false;
  PolicyConfig hourly, daily, weekly, monthly;
  // The live database's checks: by default an hourly quick_check, and integrity_check with
  // foreign_key_check daily at 03:30 (config.cc). Drills only when configured.
  CheckConfig check{.enabled = true, .level = "full", .quick = "hourly"};
  CheckConfig drill;
  VerifyConfig verify;
  MigrationsConfig migrations;
  int keep_last = 1;                      // retention: also keep the newest N snapshots
  int64_t pitr_window_s = 7 * 86400;      // retention: WAL kept for point-in-time restore
  int64_t generation_interval_s = 86400;  // continuous: a fresh generation snapshot this often
  int64_t rpo_s = 0;                      // healthz: 0 = derived (see docs/DAEMON.md)
  int busy_timeout_ms = 5000;
  int line = 0;
  std::string source;  // the [[database]] table as parsed (config reloads compare it)
};

// A warm standby the daemon keeps current from a target (docs/STANDBY.md): the daemon's form of
// `restore --follow`.
struct StandbyConfig {
  std::string name;      // in status, metrics and logs
  std::string path;      // the standby database file
  std::string from;      // a [[target]] name
  std::string database;  // the database in that target; "": the only one
  int64_t poll_ms = 1000;
  std::string check = "quick";  // the seed's integrity check: none, quick or full
  int64_t max_lag_s = 300;      // lag above this is a health problem
  int line = 0;
  std::string source;  // the [[standby]] table as parsed
};

struct KeysConfig {
  std::string key_file;
  std::string passphrase_env;
  std::string passphrase_file;
  std::string source;
  bool any() const {
    return !key_file.empty() || !passphrase_env.empty() || !passphrase_file.empty();
  }
};

struct AgentSettings {
  // Defaults by platform (common/platform.h): /var/lib/aura-agent and /run/aura-agent/agent.sock
  // on Linux; %ProgramData%\Aura Agent\state and loopback TCP 127.0.0.1:7465 with the token
  // file %ProgramData%\Aura Agent\status.token on Windows.
  std::string state_dir = platform::Defaults().state_dir;
  std::string status_socket = platform::Defaults().status_socket;
  std::string log_level = "info";
  std::string log_file;              // empty: <state_dir>/logs/agent.log (off under systemd)
  int workers = 2;                   // threads for SQLite and file work
  int max_concurrent_snapshots = 2;  // heavy jobs (snapshot, check, drill) at once
  int max_concurrent_uploads = 4;    // WAL segment uploads at once
  int64_t jitter_s = 300;            // scheduled jobs start up to this late (per database)
  int64_t poll_ms = 100;             // continuous: how often to look for commits
  int64_t segment_ms = 500;          // continuous: longest a commit waits in the spool
  int64_t shutdown_timeout_s = 30;   // SIGTERM: wait this long for jobs in flight
  int64_t prune_interval_s = 3600;   // retention runs this often (and after snapshots)
  std::string status_tcp = platform::Defaults().status_tcp;  // "127.0.0.1:PORT", needs a token
  std::string status_token_file = platform::Defaults().status_token_file;
  std::string status_tcp_host;  // status_tcp parsed: an IP literal ("::1" unbracketed)
  uint16_t status_tcp_port = 0;
};

struct Config {
  std::string path;
  AgentSettings agent;
  KeysConfig keys;
  std::vector<TargetConfig> targets;
  std::vector<DatabaseConfig> databases;
  std::vector<StandbyConfig> standbys;

  const TargetConfig* FindTarget(const std::string& name) const;
  const DatabaseConfig* FindDatabase(const std::string& name) const;
  // Everything a database's work depends on (its table, its targets' and the keys), so a
  // reload restarts exactly the databases whose settings changed.
  std::string Fingerprint(const DatabaseConfig& db) const;
  std::string Fingerprint(const StandbyConfig& sb) const;
};

// Parses and validates. kConfig with every problem found, one per line, each "file:line: ...".
Result<Config> ParseConfig(std::string_view text, const std::string& path);
// "" when the config protects something; else the warning `config check` and `run` print (a
// packaged default config has no database yet: valid, but never silently).
std::string NothingConfiguredWarning(const Config& cfg);
// One warning per target with `verify_tls = false` (TLS certificates not checked): printed by
// `config check`, logged at every start and reload of `run` and by every command that loads the
// config, so verification is never off silently.
std::vector<std::string> InsecureTlsWarnings(const Config& cfg);
// Every warning above, in that order.
std::vector<std::string> ConfigWarnings(const Config& cfg);
// LoadConfig, then each of InsecureTlsWarnings logged as a warning (stderr for a command): what
// the commands that act on a config's targets use.
Result<Config> LoadConfigAndWarn(const std::string& path);

// Reads the file, then ParseConfig. kNotFound if it does not exist.
Result<Config> LoadConfig(const std::string& path);

// The bearer token of the loopback TCP status endpoint: the first line of `file`, at least 16
// characters (kConfig otherwise). kKeyError, naming the mode and the fix, when the file's group or
// other users may use it (ReadSecretFile); the file's read error as is.
Result<std::string> ReadStatusToken(const std::string& file);

// The key source the config gives for `target`: kNone for an unencrypted target, else the key
// file or passphrase (read now from its environment variable or file).
Result<backup::KeySource> KeySourceFor(const Config& config, const TargetConfig& target);

// "90s", "15m", "12h", "7d" (or a plain number of seconds) -> seconds. kConfig otherwise.
Result<int64_t> ParseDurationSeconds(const std::string& text);
// The same, in milliseconds, also taking "500ms".
Result<int64_t> ParseDurationMillis(const std::string& text);

// The configured databases a command applies to: the one named `name`, or all when it is empty.
// kNotFound naming the config when there is none.
Result<std::vector<const DatabaseConfig*>> SelectDatabases(const Config& cfg,
                                                           const std::string& name);

// Reads a passphrase from an environment variable or a file (trailing newline removed).
Result<backup::KeySource> PassphraseFromEnv(const std::string& variable);
Result<backup::KeySource> PassphraseFromFile(const std::string& path);

}  // namespace aura::agent
