// Where `migrate` keeps its pre-migration snapshots (migrations::SnapshotSeam):
//   - a backup repository: the database's configured target (--config), --backup-to DIR|URL
//     with a key, or the daemon's target (through the replicator when it ships the database, so
//     the snapshot is also a point-in-time restore point);
//   - without any of those, a plain SQLite copy beside the database,
//     "<db>.pre-migration-<UTC time>.db", with the database's mode; `restore --from` that file
//     brings it back.
#pragma once

#include <memory>
#include <string>

#include "agent/config.h"
#include "agent/jobs.h"
#include "backup/repository.h"
#include "migrations/safe_apply.h"

namespace aura::agent {

class RepositorySnapshots : public migrations::SnapshotSeam {
 public:
  RepositorySnapshots(DatabaseConfig db, std::shared_ptr<backup::Repository> repo,
                      std::string where, SnapshotTaker take = {})
      : db_(std::move(db)),
        repo_(std::move(repo)),
        where_(std::move(where)),
        take_(std::move(take)) {}
  Result<std::string> Take(const std::string& label) override;
  Status RestoreToFile(const std::string& id, const std::string& path) override;
  std::string Describe() const override { return where_; }

 private:
  DatabaseConfig db_;
  std::shared_ptr<backup::Repository> repo_;
  std::string where_;
  SnapshotTaker take_;
};

class PlainCopySnapshots : public migrations::SnapshotSeam {
 public:
  explicit PlainCopySnapshots(std::string db_path) : db_path_(std::move(db_path)) {}
  Result<std::string> Take(const std::string& label) override;
  Status RestoreToFile(const std::string& id, const std::string& path) override;
  std::string Describe() const override;

 private:
  std::string db_path_;
};

}  // namespace aura::agent
