#include "agent/migrate_snapshots.h"

#include <sys/stat.h>
#include <unistd.h>

#include "backup/restore.h"
#include "common/file_io.h"
#include "migrations/database_copy.h"

namespace aura::agent {

Result<std::string> RepositorySnapshots::Take(const std::string& label) {
  backup::SnapshotOptions o;
  o.database_name = db_.name;
  o.label = label;
  o.busy_timeout_ms = db_.busy_timeout_ms;
  AURA_ASSIGN_OR_RETURN(backup::SnapshotResult r, TakeJobSnapshot(db_, *repo_, o, take_));
  return r.ref.id;
}

Status RepositorySnapshots::RestoreToFile(const std::string& id, const std::string& path) {
  AURA_ASSIGN_OR_RETURN(backup::SnapshotRef ref, repo_->FindSnapshot(db_.name, id));
  backup::RestoreOptions o;
  o.check = IntegrityLevel::kQuick;
  return backup::RestoreSnapshot(*repo_, ref, path, o).status();
}

Result<std::string> PlainCopySnapshots::Take(const std::string& /*label*/) {
  const std::string path =
      db_path_ + ".pre-migration-" + FormatCompactUtc(SystemClock::Instance().Now()) + ".db";
  // Written under a hidden name and renamed, so a killed run never leaves a partial copy under
  // a name that looks like a restore point; leftovers of killed runs are removed first (the
  // caller holds the migration lock).
  const std::string partial_prefix = "." + BaseName(db_path_) + ".pre-migration-partial-";
  migrations::RemoveLeftovers(DirName(db_path_), partial_prefix);
  const std::string partial = DirName(db_path_) + "/" + partial_prefix + std::to_string(::getpid());
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(db_path_, SQLITE_OPEN_READONLY, 5000));
  Status copied = migrations::CopyDatabaseToFile(db, partial);
  struct stat st;
  if (copied.ok() && ::stat(db_path_.c_str(), &st) == 0)
    ::chmod(partial.c_str(), st.st_mode & 07777);
  if (copied.ok()) copied = RenameNoReplace(partial, path);
  if (copied.ok()) copied = SyncDirectory(DirName(path));
  if (!copied.ok()) {
    migrations::RemoveDatabaseFiles(partial);
    return copied;
  }
  return BaseName(path);
}

Status PlainCopySnapshots::RestoreToFile(const std::string& id, const std::string& path) {
  backup::RestoreOptions o;
  o.check = IntegrityLevel::kQuick;
  return backup::RestoreFromDatabaseFile(DirName(db_path_) + "/" + id, path, o).status();
}

std::string PlainCopySnapshots::Describe() const { return "a plain copy beside " + db_path_; }

}  // namespace aura::agent
