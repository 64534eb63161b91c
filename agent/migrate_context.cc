#include "agent/migrate_context.h"

#include <optional>

#include "agent/migrate_snapshots.h"
#include "agent/repo_resolver.h"
#include "backup/database_image.h"
#include "common/file_io.h"

namespace aura::agent {

namespace {

// Where the snapshot of a config's database goes, kept from locating it until the database and
// its migrations are known to be usable.
struct ConfigTarget {
  Config config;
  DatabaseConfig db;
};

// --config: the configured database's path, migrations settings and snapshot target.
Result<ConfigTarget> FromConfig(const MigrateArgs& args, MigrateContext& c) {
  if (!args.db.empty() || !args.dir.empty() || !args.repo.url.empty()) {
    return InvalidArgument("give either --config or --db/--dir/--backup-to, not both");
  }
  AURA_ASSIGN_OR_RETURN(Config cfg, LoadConfigAndWarn(args.repo.config));
  AURA_ASSIGN_OR_RETURN(std::vector<const DatabaseConfig*> dbs,
                        SelectDatabases(cfg, args.repo.database));
  if (dbs.size() != 1) {
    return InvalidArgument(cfg.path + " configures " + std::to_string(dbs.size()) +
                           " databases; pick one with --database");
  }
  const DatabaseConfig& db = *dbs.front();
  if (!db.migrations.enabled) {
    return InvalidArgument("database '" + db.name + "' in " + cfg.path +
                           " has no migrations = { dir = \"...\" }; add it, or use --db and --dir");
  }
  c.db_path = db.path;
  c.name = db.name;
  c.dir = db.migrations.dir;
  c.settings = db.migrations;
  c.state_dir = cfg.agent.state_dir;
  DatabaseConfig copy = db;
  return ConfigTarget{std::move(cfg), std::move(copy)};
}

// The config's first target (or --target) for the pre-migration snapshot.
Status SnapshotsFromConfig(const MigrateArgs& args, const ConfigTarget& where, MigrateContext& c) {
  RepoArgs ra = args.repo;
  ra.database = where.db.name;
  AURA_ASSIGN_OR_RETURN(std::vector<ResolvedRepo> targets, ResolveForBackup(ra, ""));
  ResolvedRepo& t = targets.front();
  AURA_ASSIGN_OR_RETURN(
      auto repo, backup::Repository::OpenForWrite(t.storage, t.keys, SystemClock::Instance()));
  c.snapshots = std::make_unique<RepositorySnapshots>(
      where.db, std::shared_ptr<backup::Repository>(std::move(repo)), t.storage->Describe());
  return Status::Ok();
}

// --db/--dir.
Status FromFlags(const MigrateArgs& args, MigrateContext& c) {
  if (args.db.empty())
    return InvalidArgument("--db is required (the database to migrate), or --config");
  if (args.dir.empty())
    return InvalidArgument("--dir is required (the folder of migration .sql files)");
  if (!PathExists(args.db)) {
    return NotFound("database " + args.db +
                    " does not exist; check --db (migrate never creates one)");
  }
  c.db_path = args.db;
  c.name = backup::DefaultDatabaseName(args.db);
  c.dir = args.dir;
  return Status::Ok();
}

// --backup-to URL and a key: a repository; else a plain copy beside the database.
Status SnapshotsFromFlags(const MigrateArgs& args, MigrateContext& c) {
  if (args.repo.url.empty()) {
    if (!args.repo.key_file.empty() || !args.repo.passphrase_env.empty() ||
        !args.repo.passphrase_file.empty()) {
      return InvalidArgument("a key flag was given without --backup-to DIR|URL");
    }
    c.snapshots = std::make_unique<PlainCopySnapshots>(args.db);
    return Status::Ok();
  }
  AURA_ASSIGN_OR_RETURN(std::vector<ResolvedRepo> targets, ResolveForBackup(args.repo, args.db));
  ResolvedRepo& t = targets.front();
  AURA_ASSIGN_OR_RETURN(
      auto repo, backup::Repository::OpenForWrite(t.storage, t.keys, SystemClock::Instance()));
  DatabaseConfig db;
  db.name = t.database;
  db.path = args.db;
  db.continuous = false;
  c.snapshots = std::make_unique<RepositorySnapshots>(
      db, std::shared_ptr<backup::Repository>(std::move(repo)), t.storage->Describe());
  return Status::Ok();
}

Status ApplyFlagOverrides(const MigrateArgs& args, MigrationsConfig& s) {
  if (!args.product_version.empty()) s.product_version = args.product_version;
  if (args.busy_timeout_ms >= 0) s.busy_timeout_ms = args.busy_timeout_ms;
  if (!args.stale_lock_after.empty()) {
    auto secs = ParseDurationSeconds(args.stale_lock_after);
    if (!secs.ok() || *secs <= 0) {
      return InvalidArgument("--stale-lock-after '" + args.stale_lock_after +
                             "' is not a duration (e.g. 30m, 2h, 1d)");
    }
    s.stale_lock_after_s = *secs;
  }
  s.assertions.insert(s.assertions.end(), args.assertions.begin(), args.assertions.end());
  s.post_checks.insert(s.post_checks.end(), args.post_checks.begin(), args.post_checks.end());
  s.allow_data_loss.insert(s.allow_data_loss.end(), args.allow_data_loss.begin(),
                           args.allow_data_loss.end());
  return Status::Ok();
}

}  // namespace

Result<MigrateContext> ResolveMigrate(const MigrateArgs& args, bool with_snapshots) {
  MigrateContext c;
  std::optional<ConfigTarget> where;
  if (args.repo.config.empty()) {
    AURA_RETURN_IF_ERROR(FromFlags(args, c));
  } else {
    AURA_ASSIGN_OR_RETURN(where, FromConfig(args, c));
  }
  AURA_RETURN_IF_ERROR(ApplyFlagOverrides(args, c.settings));
  AURA_ASSIGN_OR_RETURN(c.sources, migrations::LoadMigrations(c.dir));
  if (!with_snapshots) return c;
  // Only now may the snapshot target be created: a refused migrate (no migrations folder, a file
  // that is not a database) used to leave a new repository behind.
  AURA_RETURN_IF_ERROR(backup::CheckDatabaseFile(c.db_path).status());
  AURA_RETURN_IF_ERROR(where ? SnapshotsFromConfig(args, *where, c) : SnapshotsFromFlags(args, c));
  return c;
}

migrations::ApplyOptions ApplyOptionsFrom(const MigrationsConfig& m, const std::string& db_path,
                                          const std::string& scratch_dir) {
  migrations::ApplyOptions o;
  o.database = db_path;
  o.allow_data_loss.insert(m.allow_data_loss.begin(), m.allow_data_loss.end());
  o.stale_lock_after = std::chrono::seconds(m.stale_lock_after_s);
  o.product_version = m.product_version;
  o.assertions = m.assertions;
  o.post_checks = m.post_checks;
  o.busy_timeout_ms = m.busy_timeout_ms;
  o.full_check_max_bytes = static_cast<uint64_t>(m.full_check_max_mb) << 20;
  if (!scratch_dir.empty() && PathExists(scratch_dir)) o.scratch_dir = scratch_dir;
  return o;
}

migrations::ApplyOptions ApplyOptionsFor(const MigrateContext& c, const MigrateArgs& args) {
  migrations::ApplyOptions o = ApplyOptionsFrom(c.settings, c.db_path, c.state_dir);
  o.to = args.to;
  o.dry_run = args.dry_run;
  o.break_stale_lock = args.break_stale_lock;
  o.snapshots = c.snapshots.get();
  return o;
}

}  // namespace aura::agent
