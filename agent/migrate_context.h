// What every `migrate` command resolves first from its flags or the config: the live database,
// the migration sources, the settings (config values overridden by flags) and, for commands
// that change the database, where pre-migration snapshots go (agent/migrate_snapshots.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/commands.h"
#include "agent/config.h"
#include "migrations/migration_source.h"
#include "migrations/safe_apply.h"

namespace aura::agent {

struct MigrateContext {
  std::string db_path;
  std::string name;  // the database's name (config), or the file's
  std::string dir;
  MigrationsConfig settings;
  std::vector<migrations::Migration> sources;
  std::unique_ptr<migrations::SnapshotSeam> snapshots;  // set when `with_snapshots`
  std::string state_dir;  // --config: the agent's state directory (scratch copies go there)
};

Result<MigrateContext> ResolveMigrate(const MigrateArgs& args, bool with_snapshots);

// The apply options a database's migrations settings give (no flags).
migrations::ApplyOptions ApplyOptionsFrom(const MigrationsConfig& m, const std::string& db_path,
                                          const std::string& scratch_dir);

// The apply options the context and flags give.
migrations::ApplyOptions ApplyOptionsFor(const MigrateContext& c, const MigrateArgs& args);

}  // namespace aura::agent
