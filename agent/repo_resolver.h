// Resolves RepoArgs (flags or config file) into storage + keys + database, with the messages an
// operator needs when the combination is wrong.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "agent/commands.h"
#include "backup/repository.h"
#include "backup/storage/storage.h"

namespace aura::agent {

struct ResolvedRepo {
  std::shared_ptr<backup::Storage> storage;
  backup::KeySource keys;
  std::string database;  // name in the repository; may be empty for reads (all databases)
  std::string db_path;   // config form: the database file
  int busy_timeout_ms = 5000;
  int64_t generation_interval_s = 86400;  // replicate: the database's generation_interval
  // backup: the database may be shipped continuously to this target (the config says so, or no
  // config says otherwise), so a snapshot looks for where shipping ended (TakeJobSnapshot).
  bool continuous = true;
};

// The key source the flags name (kUnset when none). kInvalidArgument if several are given.
Result<backup::KeySource> KeySourceFromFlags(const RepoArgs& args);

// For list, verify and restore.
Result<ResolvedRepo> ResolveForRead(const RepoArgs& args);

// For backup: one entry per (database, target) to snapshot. `db_path` is the --db flag.
Result<std::vector<ResolvedRepo>> ResolveForBackup(const RepoArgs& args,
                                                   const std::string& db_path);

}  // namespace aura::agent
