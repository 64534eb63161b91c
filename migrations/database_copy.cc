#include "migrations/database_copy.h"

#include <filesystem>

#include "common/file_io.h"

namespace aura::migrations {

namespace {

// Runs a backup from `src` to `dst` to completion; `what` names it in errors.
Status RunBackup(sqlite3* dst, sqlite3* src, const std::string& what) {
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (b == nullptr) return SqliteStatus(dst, sqlite3_errcode(dst), what);
  int rc = sqlite3_backup_step(b, -1);
  int fin = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return SqliteStatus(dst, rc, what);
  if (fin != SQLITE_OK) return SqliteStatus(dst, fin, what);
  return Status::Ok();
}

// Through File::Sync, so the file-I/O seam (and a power-cut test) sees this step.
Status FsyncFile(const std::string& path) {
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path));
  AURA_RETURN_IF_ERROR(f.Sync());
  return SyncDirectory(DirName(path));
}

}  // namespace

void RemoveDatabaseFiles(const std::string& path) {
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::remove(path + suffix, ec);
  }
}

void RemoveLeftovers(const std::string& dir, const std::string& prefix) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) std::filesystem::remove(e.path(), ec);
  }
}

Status CopyDatabaseToFile(SqliteDb& from, const std::string& path, bool durable) {
  RemoveDatabaseFiles(path);
  AURA_ASSIGN_OR_RETURN(SqliteDb to, SqliteDb::OpenOrCreatePrivate(path, 5000));
  if (!durable) AURA_RETURN_IF_ERROR(to.Exec("PRAGMA synchronous=OFF"));
  AURA_RETURN_IF_ERROR(RunBackup(to.get(), from.get(), "copy database to " + path));
  // A copy of a WAL database is in WAL mode too; fold its WAL in so the file stands alone.
  AURA_RETURN_IF_ERROR(to.Exec("PRAGMA journal_mode=DELETE"));
  AURA_RETURN_IF_ERROR(to.Close());
  return durable ? FsyncFile(path) : Status::Ok();
}

Status CopyFileIntoDatabase(const std::string& path, SqliteDb& live) {
  AURA_ASSIGN_OR_RETURN(SqliteDb from, SqliteDb::Open(path, SQLITE_OPEN_READONLY, 5000));
  return RunBackup(live.get(), from.get(), "restore " + path + " into " + live.path());
}

}  // namespace aura::migrations
