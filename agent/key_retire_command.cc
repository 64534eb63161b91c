// key retire: re-seal everything a key sealed under the newest key (backup/key_retirement.h).
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>

#include "agent/commands.h"
#include "agent/config.h"
#include "agent/repo_resolver.h"
#include "agent/state_store.h"
#include "backup/key_retirement.h"
#include "backup/retire_workspace.h"
#include "common/clock.h"

namespace aura::agent {

using nlohmann::json;

namespace {

// Test-only: AURA_TEST_RETIRE_STEP_DELAY_MS pauses after each replaced object, so a test can
// SIGKILL a run between steps on a small repository.
std::chrono::milliseconds StepDelayFromEnv() {
  const char* v = std::getenv("AURA_TEST_RETIRE_STEP_DELAY_MS");
  return std::chrono::milliseconds(v == nullptr ? 0 : std::atoi(v));
}

// With --config, the daemon (or a prune, or backup --policy) holds the state directory's lock
// while it writes; a retirement racing its compaction or prune could bring back an object it
// deleted, or meet objects still sealed with the old key. kBusy while it is held.
Result<std::optional<StateDirLock>> LockWriters(const RetireArgs& args) {
  if (args.repo.config.empty()) return std::optional<StateDirLock>();
  AURA_ASSIGN_OR_RETURN(Config cfg, LoadConfigAndWarn(args.repo.config));
  auto lock = StateDirLock::Acquire(cfg.agent.state_dir);
  if (!lock.ok()) {
    return Busy(lock.status().message() +
                "; the agent writes to its targets while it runs: stop it, give it the key file "
                "whose last key is the new one, then retire the key and start it again");
  }
  return std::optional<StateDirLock>(std::move(lock).value());
}

std::string KeyOrigin(const backup::KeySource& k) {
  if (k.kind == backup::KeySource::Kind::kKeyFile) return k.key_file;
  if (k.kind == backup::KeySource::Kind::kPassphrase) return k.passphrase_origin;
  return "the key file";
}

Status CheckKeys(const ResolvedRepo& r, const backup::Repository& repo, backup::KeyId id) {
  if (r.keys.kind != backup::KeySource::Kind::kKeyFile) {
    return KeyError(
        "key retire needs --key-file: the file holding the key to retire and a newer one "
        "(a passphrase is a single key)");
  }
  return backup::CheckRetirable(repo.keyring(), id, KeyOrigin(r.keys));
}

// The run's workspace under $TMPDIR (or /tmp): its lock keeps a second retirement of this
// repository on this host out (kBusy, exit 7), and opening it removes what a killed run left.
Result<backup::RetireWorkspace> OpenWorkspace(const RetireArgs& args, backup::Repository& repo) {
  std::error_code ec;
  std::filesystem::path base = std::filesystem::temp_directory_path(ec);
  if (ec) base = "/tmp";
  const std::string note = "pid " + std::to_string(::getpid()) + ", key retire " + args.key_id +
                           " of " + repo.storage().Describe() + " since " +
                           FormatRfc3339(SystemClock::Instance().Now(), 0) + "\n";
  return backup::RetireWorkspace::Open(base.string(), repo.info().id, note);
}

Result<backup::RetireReport> Retire(const ResolvedRepo& resolved, backup::Repository& repo,
                                    backup::KeyId id, const std::string& scratch_dir) {
  backup::RetireOptions o;
  o.retire = id;
  o.database = resolved.database;
  o.step_delay = StepDelayFromEnv();
  o.scratch_dir = scratch_dir;
  return backup::RetireKey(repo, o);
}

void Print(const RetireArgs& args, const std::string& key_file, const backup::RetireReport& r,
           const std::string& new_key, bool dropped, const Output& out) {
  out.Line("retired key " + args.key_id + ": " + std::to_string(r.resealed) +
           " object(s) re-sealed under key " + new_key + ", " +
           std::to_string(r.manifests_rewritten) + " reference(s) (manifests) rewritten, " +
           std::to_string(r.old_removed) + " old object(s) replaced and gone (" +
           std::to_string(r.examined) + " object(s) examined)");
  if (dropped) {
    out.Line("removed key " + args.key_id + " from " + key_file);
  } else {
    out.Line("no object needs key " + args.key_id + " any more: remove its line from " + key_file +
             " (or run again with --drop-from-key-file)");
  }
  out.Json({{"retired_key", args.key_id},
            {"new_key", new_key},
            {"examined", r.examined},
            {"resealed", r.resealed},
            {"references_rewritten", r.manifests_rewritten},
            {"old_objects_deleted", r.old_removed},
            {"bytes", r.bytes},
            {"key_file", key_file},
            {"dropped_from_key_file", dropped}});
}

}  // namespace

int RunKeyRetire(const RetireArgs& args, const Output& out) {
  auto id = backup::ParseKeyId(args.key_id);
  if (!id.ok()) return out.Fail(id.status());
  auto resolved = ResolveForRead(args.repo);
  if (!resolved.ok()) return out.Fail(resolved.status());
  auto repo = backup::Repository::Open(resolved->storage, resolved->keys);
  if (!repo.ok()) return out.Fail(repo.status());
  Status keys = CheckKeys(*resolved, **repo, *id);
  if (!keys.ok()) return out.Fail(keys);
  auto lock = LockWriters(args);
  if (!lock.ok()) return out.Fail(lock.status());
  auto workspace = OpenWorkspace(args, **repo);
  if (!workspace.ok()) return out.Fail(workspace.status());
  auto report = Retire(*resolved, **repo, *id, workspace->scratch_dir());
  if (!report.ok()) {
    return out.Fail(report.status().WithContext(
        "key retire stopped (run it again to finish; every object still restores with the key "
        "file as it is)"));
  }
  const std::string& key_file = resolved->keys.key_file;
  if (args.drop_from_key_file) {
    Status s = backup::RemoveKeyFromFile(key_file, *id);
    if (!s.ok()) return out.Fail(s.WithContext("the repository no longer needs the key, but"));
  }
  Print(args, key_file, *report, (*repo)->write_key()->IdHex(), args.drop_from_key_file, out);
  return 0;
}

}  // namespace aura::agent
