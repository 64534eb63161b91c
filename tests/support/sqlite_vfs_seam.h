// ScopedSqliteVfsSeam: while it lives, the default SQLite VFS is a shim over the real one that
// reports its files' durable steps to the file-I/O seam (common/file_io_seam.h), so the lost-writes
// double (tests/support/lost_writes.h) models SQLite's files (a migrated database, its WAL and
// rollback journal, a copy made with the backup API) the way it models the agent's own. Like
// SQLite's test_vfs.c, it wraps the default VFS and forwards everything.
//
// What it reports, before forwarding (a non-OK status fails the call with the matching
// SQLITE_IOERR_* and forwards nothing):
//   xOpen with SQLITE_OPEN_CREATE  kCreate
//   xWrite, xTruncate              kWrite
//   xSync                          kSyncFile; then, for a rollback journal, super-journal or WAL
//                                  this connection created, kSyncDirectory of its folder on the
//                                  first sync, as the unix VFS does (UNIXFILE_DIRSYNC)
//   xDelete                        kRemove; then kSyncDirectory when SQLite asks (dirSync)
// Not reported: the -shm file (memory-mapped, never synced, rebuilt by SQLite from the WAL) and
// files without a name (SQLite's temporary files).
//
// Only connections opened while it lives use it; close them before it is destroyed. Tests only.
//
// Thread-safety: install and remove from one thread, with no connection of the shim open; the
// shim itself is as thread-safe as the VFS it wraps.
#pragma once

#include <sqlite3.h>

#include <string>

#include "common/file_io.h"
#include "common/file_io_seam.h"

namespace aura::testing {

namespace sqlite_vfs_seam {

struct SeamFile {
  sqlite3_file base;   // base.pMethods: the shim's methods once open
  sqlite3_file* real;  // the wrapped VFS's file, right after this struct
  std::string* path;   // SQLite hands over raw memory: no constructors run on SeamFile
  bool dir_sync;       // the first xSync also makes the file's name durable
};

inline sqlite3_vfs*& Real() {
  static sqlite3_vfs* real = nullptr;
  return real;
}

inline sqlite3_file* RealOf(sqlite3_file* f) { return reinterpret_cast<SeamFile*>(f)->real; }

inline bool Report(FileOp op, const std::string& path) {
  return path.empty() || BeforeFileOp(op, path).ok();
}

inline int Close(sqlite3_file* f) {
  SeamFile* s = reinterpret_cast<SeamFile*>(f);
  const int rc = s->real->pMethods->xClose(s->real);
  delete s->path;
  s->path = nullptr;
  return rc;
}
inline int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  return RealOf(f)->pMethods->xRead(RealOf(f), buf, n, off);
}
inline int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  if (!Report(FileOp::kWrite, *reinterpret_cast<SeamFile*>(f)->path)) return SQLITE_IOERR_WRITE;
  return RealOf(f)->pMethods->xWrite(RealOf(f), buf, n, off);
}
inline int Truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (!Report(FileOp::kWrite, *reinterpret_cast<SeamFile*>(f)->path)) {
    return SQLITE_IOERR_TRUNCATE;
  }
  return RealOf(f)->pMethods->xTruncate(RealOf(f), size);
}
inline int Sync(sqlite3_file* f, int flags) {
  SeamFile* s = reinterpret_cast<SeamFile*>(f);
  if (!Report(FileOp::kSyncFile, *s->path)) return SQLITE_IOERR_FSYNC;
  if (s->dir_sync && !Report(FileOp::kSyncDirectory, DirName(*s->path))) {
    return SQLITE_IOERR_DIR_FSYNC;
  }
  const int rc = s->real->pMethods->xSync(s->real, flags);
  if (rc == SQLITE_OK) s->dir_sync = false;
  return rc;
}
inline int FileSize(sqlite3_file* f, sqlite3_int64* size) {
  return RealOf(f)->pMethods->xFileSize(RealOf(f), size);
}
inline int Lock(sqlite3_file* f, int level) { return RealOf(f)->pMethods->xLock(RealOf(f), level); }
inline int Unlock(sqlite3_file* f, int level) {
  return RealOf(f)->pMethods->xUnlock(RealOf(f), level);
}
inline int CheckReservedLock(sqlite3_file* f, int* out) {
  return RealOf(f)->pMethods->xCheckReservedLock(RealOf(f), out);
}
inline int FileControl(sqlite3_file* f, int op, void* arg) {
  return RealOf(f)->pMethods->xFileControl(RealOf(f), op, arg);
}
inline int SectorSize(sqlite3_file* f) { return RealOf(f)->pMethods->xSectorSize(RealOf(f)); }
inline int DeviceCharacteristics(sqlite3_file* f) {
  return RealOf(f)->pMethods->xDeviceCharacteristics(RealOf(f));
}
inline int ShmMap(sqlite3_file* f, int page, int size, int extend, void volatile** out) {
  return RealOf(f)->pMethods->xShmMap(RealOf(f), page, size, extend, out);
}
inline int ShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return RealOf(f)->pMethods->xShmLock(RealOf(f), offset, n, flags);
}
inline void ShmBarrier(sqlite3_file* f) { RealOf(f)->pMethods->xShmBarrier(RealOf(f)); }
inline int ShmUnmap(sqlite3_file* f, int remove) {
  return RealOf(f)->pMethods->xShmUnmap(RealOf(f), remove);
}
inline int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  return RealOf(f)->pMethods->xFetch(RealOf(f), off, n, out);
}
inline int Unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  return RealOf(f)->pMethods->xUnfetch(RealOf(f), off, p);
}

inline const sqlite3_io_methods kMethods = {
    .iVersion = 3,
    .xClose = Close,
    .xRead = Read,
    .xWrite = Write,
    .xTruncate = Truncate,
    .xSync = Sync,
    .xFileSize = FileSize,
    .xLock = Lock,
    .xUnlock = Unlock,
    .xCheckReservedLock = CheckReservedLock,
    .xFileControl = FileControl,
    .xSectorSize = SectorSize,
    .xDeviceCharacteristics = DeviceCharacteristics,
    .xShmMap = ShmMap,
    .xShmLock = ShmLock,
    .xShmBarrier = ShmBarrier,
    .xShmUnmap = ShmUnmap,
    .xFetch = Fetch,
    .xUnfetch = Unfetch,
};

inline int Open(sqlite3_vfs*, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  SeamFile* s = reinterpret_cast<SeamFile*>(f);
  s->base.pMethods = nullptr;
  s->real = reinterpret_cast<sqlite3_file*>(s + 1);
  s->real->pMethods = nullptr;
  const std::string path = name != nullptr ? name : "";
  const bool create = (flags & SQLITE_OPEN_CREATE) != 0;
  if (create && !Report(FileOp::kCreate, path)) return SQLITE_CANTOPEN;
  const int rc = Real()->xOpen(Real(), name, s->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    if (s->real->pMethods != nullptr) s->real->pMethods->xClose(s->real);
    return rc;
  }
  s->path = new std::string(path);
  s->dir_sync =
      create &&
      (flags & (SQLITE_OPEN_MAIN_JOURNAL | SQLITE_OPEN_SUPER_JOURNAL | SQLITE_OPEN_WAL)) != 0;
  s->base.pMethods = &kMethods;
  return SQLITE_OK;
}

inline int Delete(sqlite3_vfs*, const char* name, int dir_sync) {
  const std::string path = name != nullptr ? name : "";
  if (!Report(FileOp::kRemove, path)) return SQLITE_IOERR_DELETE;
  if (dir_sync != 0 && !Report(FileOp::kSyncDirectory, DirName(path))) {
    return SQLITE_IOERR_DIR_FSYNC;
  }
  return Real()->xDelete(Real(), name, dir_sync);
}

// The rest goes to the real VFS, called as itself (the unix VFS reads its own pAppData).
inline int Access(sqlite3_vfs*, const char* n, int flags, int* out) {
  return Real()->xAccess(Real(), n, flags, out);
}
inline int FullPathname(sqlite3_vfs*, const char* n, int size, char* out) {
  return Real()->xFullPathname(Real(), n, size, out);
}
inline void* DlOpen(sqlite3_vfs*, const char* n) { return Real()->xDlOpen(Real(), n); }
inline void DlError(sqlite3_vfs*, int n, char* out) { Real()->xDlError(Real(), n, out); }
inline void (*DlSym(sqlite3_vfs*, void* h, const char* s))(void) {
  return Real()->xDlSym(Real(), h, s);
}
inline void DlClose(sqlite3_vfs*, void* h) { Real()->xDlClose(Real(), h); }
inline int Randomness(sqlite3_vfs*, int n, char* out) {
  return Real()->xRandomness(Real(), n, out);
}
inline int Sleep(sqlite3_vfs*, int us) { return Real()->xSleep(Real(), us); }
inline int CurrentTime(sqlite3_vfs*, double* t) { return Real()->xCurrentTime(Real(), t); }
inline int GetLastError(sqlite3_vfs*, int n, char* out) {
  return Real()->xGetLastError(Real(), n, out);
}
inline int CurrentTimeInt64(sqlite3_vfs*, sqlite3_int64* t) {
  return Real()->xCurrentTimeInt64(Real(), t);
}
inline int SetSystemCall(sqlite3_vfs*, const char* n, sqlite3_syscall_ptr p) {
  return Real()->xSetSystemCall(Real(), n, p);
}
inline sqlite3_syscall_ptr GetSystemCall(sqlite3_vfs*, const char* n) {
  return Real()->xGetSystemCall(Real(), n);
}
inline const char* NextSystemCall(sqlite3_vfs*, const char* n) {
  return Real()->xNextSystemCall(Real(), n);
}

inline sqlite3_vfs& Shim() {
  static sqlite3_vfs vfs = {};
  return vfs;
}

}  // namespace sqlite_vfs_seam

class ScopedSqliteVfsSeam {
 public:
  ScopedSqliteVfsSeam() {
    namespace s = sqlite_vfs_seam;
    sqlite3_initialize();
    s::Real() = sqlite3_vfs_find(nullptr);
    sqlite3_vfs& v = s::Shim();
    v = {};
    v.iVersion = 3;
    v.szOsFile = static_cast<int>(sizeof(s::SeamFile)) + s::Real()->szOsFile;
    v.mxPathname = s::Real()->mxPathname;
    v.zName = "aura-file-io-seam";
    v.xOpen = s::Open;
    v.xDelete = s::Delete;
    v.xAccess = s::Access;
    v.xFullPathname = s::FullPathname;
    v.xDlOpen = s::DlOpen;
    v.xDlError = s::DlError;
    v.xDlSym = s::DlSym;
    v.xDlClose = s::DlClose;
    v.xRandomness = s::Randomness;
    v.xSleep = s::Sleep;
    v.xCurrentTime = s::CurrentTime;
    v.xGetLastError = s::GetLastError;
    v.xCurrentTimeInt64 = s::CurrentTimeInt64;
    v.xSetSystemCall = s::SetSystemCall;
    v.xGetSystemCall = s::GetSystemCall;
    v.xNextSystemCall = s::NextSystemCall;
    sqlite3_vfs_register(&v, /*makeDflt=*/1);
  }
  ~ScopedSqliteVfsSeam() {
    sqlite3_vfs_unregister(&sqlite_vfs_seam::Shim());
    sqlite3_vfs_register(sqlite_vfs_seam::Real(), /*makeDflt=*/1);
  }
  ScopedSqliteVfsSeam(const ScopedSqliteVfsSeam&) = delete;
  ScopedSqliteVfsSeam& operator=(const ScopedSqliteVfsSeam&) = delete;
};

}  // namespace aura::testing
