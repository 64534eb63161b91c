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
#include "common/status.h"

namespace aura::agent {

struct PolicyConfig {
  bool enabled = false;
  int keep = 0;
  int minute = 0;       // hourly: minute of the hour
  std::string at;       // daily/weekly/monthly: "HH:MM"
  std::string day;      // weekly: "mon".."sun"; monthly: "1".."28" or "last"
  std::string timezone = "local";
  std::vector<std::string> targets;  // empty: the database's targets
};

struct MigrationsConfig {
  bool enabled = false;
  std::string dir;
  bool auto_apply = false;
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
};

struct DatabaseConfig {
  std::string name;
  std::string path;
  std::vector<std::string> targets;
  bool continuous = false;
  PolicyConfig hourly, daily, weekly, monthly;
  MigrationsConfig migrations;
  int busy_timeout_ms = 5000;
  int line = 0;
};

struct KeysConfig {
  std::string key_file;
  std::string passphrase_env;
  std::string passphrase_file;
  bool any() const {
    return !key_file.empty() || !passphrase_env.empty() || !passphrase_file.empty();
  }
};

struct AgentSettings {
  std::string state_dir = "/var/lib/aura-agent";
  std::string status_socket = "/run/aura-agent/agent.sock";
  std::string log_level = "info";
};

struct Config {
  std::string path;
  AgentSettings agent;
  KeysConfig keys;
  std::vector<TargetConfig> targets;
  std::vector<DatabaseConfig> databases;

  const TargetConfig* FindTarget(const std::string& name) const;
  const DatabaseConfig* FindDatabase(const std::string& name) const;
};

// Parses and validates. kConfig with every problem found, one per line, each "file:line: ...".
Result<Config> ParseConfig(std::string_view text, const std::string& path);
// Reads the file, then ParseConfig. kNotFound if it does not exist.
Result<Config> LoadConfig(const std::string& path);

// The key source the config gives for `target`: kNone for an unencrypted target, else the key
// file or passphrase (read now from its environment variable or file).
Result<backup::KeySource> KeySourceFor(const Config& config, const TargetConfig& target);

// Reads a passphrase from an environment variable or a file (trailing newline removed).
Result<backup::KeySource> PassphraseFromEnv(const std::string& variable);
Result<backup::KeySource> PassphraseFromFile(const std::string& path);

}  // namespace aura::agent
