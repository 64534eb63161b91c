#include "agent/repo_resolver.h"

#include "agent/config.h"
#include "agent/storage_url.h"
#include "backup/snapshot.h"

namespace aura::agent {

using backup::KeySource;

Result<KeySource> KeySourceFromFlags(const RepoArgs& a) {
  int given = !a.key_file.empty() + !a.passphrase_env.empty() + !a.passphrase_file.empty() +
              (a.no_encryption ? 1 : 0);
  if (given > 1) {
    return InvalidArgument(
        "give only one of --key-file, --passphrase-env, --passphrase-file, --no-encryption");
  }
  KeySource k;
  if (!a.key_file.empty()) {
    k.kind = KeySource::Kind::kKeyFile;
    k.key_file = a.key_file;
  } else if (!a.passphrase_env.empty()) {
    return PassphraseFromEnv(a.passphrase_env);
  } else if (!a.passphrase_file.empty()) {
    return PassphraseFromFile(a.passphrase_file);
  } else if (a.no_encryption) {
    k.kind = KeySource::Kind::kNone;
  }
  return k;
}

namespace {

Result<const DatabaseConfig*> PickDatabase(const Config& cfg, const std::string& name) {
  if (!name.empty()) {
    const DatabaseConfig* d = cfg.FindDatabase(name);
    if (d == nullptr) {
      return InvalidArgument("database '" + name + "' is not in " + cfg.path);
    }
    return d;
  }
  if (cfg.databases.size() != 1) {
    return InvalidArgument(cfg.path + " configures " + std::to_string(cfg.databases.size()) +
                           " databases; pick one with --database");
  }
  return &cfg.databases.front();
}

Result<ResolvedRepo> ResolveConfigTarget(const Config& cfg, const DatabaseConfig& db,
                                         const std::string& target_name, const RepoArgs& args) {
  std::string name = target_name.empty() ? db.targets.front() : target_name;
  const TargetConfig* t = cfg.FindTarget(name);
  if (t == nullptr) return InvalidArgument("target '" + name + "' is not in " + cfg.path);
  ResolvedRepo r;
  AURA_ASSIGN_OR_RETURN(r.storage, OpenTarget(*t));
  AURA_ASSIGN_OR_RETURN(r.keys, KeySourceFromFlags(args));
  if (r.keys.kind == KeySource::Kind::kUnset) {
    AURA_ASSIGN_OR_RETURN(r.keys, KeySourceFor(cfg, *t));
  }
  r.database = db.name;
  r.db_path = db.path;
  r.busy_timeout_ms = db.busy_timeout_ms;
  r.generation_interval_s = db.generation_interval_s;
  r.continuous = db.continuous;
  return r;
}

}  // namespace

Result<ResolvedRepo> ResolveForRead(const RepoArgs& args) {
  if (!args.config.empty()) {
    if (!args.url.empty()) return InvalidArgument("give either --config or --from, not both");
    AURA_ASSIGN_OR_RETURN(Config cfg, LoadConfigAndWarn(args.config));
    AURA_ASSIGN_OR_RETURN(const DatabaseConfig* db, PickDatabase(cfg, args.database));
    return ResolveConfigTarget(cfg, *db, args.target, args);
  }
  if (args.url.empty()) return InvalidArgument("--from is required (a folder or s3:// URL)");
  ResolvedRepo r;
  AURA_ASSIGN_OR_RETURN(r.storage, OpenStorageUrl(args.url));
  AURA_ASSIGN_OR_RETURN(r.keys, KeySourceFromFlags(args));
  r.database = args.database;
  return r;
}

Result<std::vector<ResolvedRepo>> ResolveForBackup(const RepoArgs& args,
                                                   const std::string& db_path) {
  std::vector<ResolvedRepo> out;
  if (!args.config.empty()) {
    if (!args.url.empty() || !db_path.empty()) {
      return InvalidArgument("give either --config or --db/--to, not both");
    }
    AURA_ASSIGN_OR_RETURN(Config cfg, LoadConfigAndWarn(args.config));
    std::vector<const DatabaseConfig*> dbs;
    if (!args.database.empty()) {
      AURA_ASSIGN_OR_RETURN(const DatabaseConfig* d, PickDatabase(cfg, args.database));
      dbs.push_back(d);
    } else {
      for (const DatabaseConfig& d : cfg.databases) dbs.push_back(&d);
    }
    for (const DatabaseConfig* d : dbs) {
      std::vector<std::string> targets =
          args.target.empty() ? d->targets : std::vector<std::string>{args.target};
      for (const std::string& t : targets) {
        AURA_ASSIGN_OR_RETURN(ResolvedRepo r, ResolveConfigTarget(cfg, *d, t, args));
        out.push_back(std::move(r));
      }
    }
    return out;
  }
  if (db_path.empty()) return InvalidArgument("--db is required (the database file to back up)");
  if (args.url.empty()) return InvalidArgument("--to is required (a folder or s3:// URL)");
  ResolvedRepo r;
  AURA_ASSIGN_OR_RETURN(r.storage, OpenStorageUrl(args.url));
  AURA_ASSIGN_OR_RETURN(r.keys, KeySourceFromFlags(args));
  r.database = args.database.empty() ? backup::DefaultDatabaseName(db_path) : args.database;
  r.db_path = db_path;
  out.push_back(std::move(r));
  return out;
}

}  // namespace aura::agent
