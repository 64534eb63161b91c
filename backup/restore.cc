#include "backup/restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <functional>

#include "backup/database_image.h"
#include "backup/object_codec.h"
#include "common/file_io.h"
#include "common/hashing.h"

namespace aura::backup {

namespace {

constexpr const char* kSidecars[] = {"-wal", "-shm", "-journal"};

// True if some process holds SQLite's "dead man switch" read lock on the target's -shm file,
// which every open WAL-mode connection does for its whole life.
bool ShmInUse(const std::string& target) {
  int fd = ::open((target + "-shm").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock fl = {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 128;  // UNIX_SHM_DMS in SQLite's os_unix.c
  fl.l_len = 1;
  bool busy = ::fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
  ::close(fd);
  return busy;
}

int64_t MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0)
      .count();
}

}  // namespace

Status FinishRestore(TempFile& temp, const std::string& target, IntegrityLevel check,
                     RestoreResult& result) {
  AURA_RETURN_IF_ERROR(temp.file().Sync());
  if (check != IntegrityLevel::kNone) {
    // immutable=1: no locks, no -wal/-shm beside the temp file, nothing written to it.
    std::string uri = "file:" + temp.temp_path() + "?immutable=1";
    AURA_ASSIGN_OR_RETURN(SqliteDb db,
                          SqliteDb::Open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 0));
    AURA_ASSIGN_OR_RETURN(std::vector<std::string> problems, RunIntegrityCheck(db, check, 20));
    if (!problems.empty()) {
      return Corruption("the restored database fails " + std::string(IntegrityLevelName(check)) +
                        " integrity check (" + problems[0] +
                        "); the target was not touched; try an older snapshot");
    }
    result.integrity = "ok";
  } else {
    result.integrity = "skipped";
  }
  for (const char* suffix : kSidecars) {
    if (::unlink((target + suffix).c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove stale", target + suffix);
    }
  }
  return temp.Commit(/*no_replace=*/false);
}

Status CheckRestoreTarget(const std::string& target, bool force) {
  bool exists = PathExists(target);
  for (const char* suffix : kSidecars) exists = exists || PathExists(target + suffix);
  if (!exists) return Status::Ok();
  if (!force) {
    return AlreadyExists("restore target " + target +
                         " already exists; choose another --to, or pass --force to replace it "
                         "(stop the application first)");
  }
  if (ShmInUse(target)) {
    return Busy("restore target " + target +
                " is open in another process; stop the application before replacing it");
  }
  if (PathExists(target)) {
    auto db = SqliteDb::Open(target, SQLITE_OPEN_READWRITE, 0);
    if (db.ok()) {
      Status s = db->Exec("BEGIN EXCLUSIVE");
      if (s.code() == Code::kBusy) {
        return Busy("restore target " + target +
                    " is locked by another process; stop the application before replacing it");
      }
      (void)db->Exec("ROLLBACK");
    }
  }
  return Status::Ok();
}

Result<TempFile> RestoreSnapshotToTemp(Repository& repo, const SnapshotRef& ref,
                                       const std::string& target, int threads,
                                       Manifest* manifest_out, RestoreResult* result) {
  AURA_ASSIGN_OR_RETURN(Manifest m, repo.ReadManifest(ref));
  const ManifestObject& data = m.objects.front();
  AURA_ASSIGN_OR_RETURN(auto reader, repo.storage().Open(data.name));
  if (threads <= 0) threads = DefaultCodecThreads();
  AURA_ASSIGN_OR_RETURN(auto decoder,
                        ObjectDecoder::Open(std::move(reader), repo.keyring(), data.name, threads));
  AURA_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(target, 0640));
  // Write back as we go, so the final fsync does not wait for the whole database at once.
  constexpr uint64_t kWritebackChunk = 16u << 20;
  uint64_t written = 0, flushed = 0;
  AURA_ASSIGN_OR_RETURN(ObjectSummary got, decoder->ReadAll([&](std::span<const uint8_t> d) {
                          AURA_RETURN_IF_ERROR(temp.file().WriteAll(d));
                          written += d.size();
                          if (written - flushed >= kWritebackChunk) {
                            temp.file().StartWriteback(flushed, written - flushed);
                            flushed = written;
                          }
                          return Status::Ok();
                        }));
  std::string sha = HexEncode(got.sha256);
  if (sha != m.sha256 || got.plaintext_size != m.summary.size) {
    return Corruption("snapshot " + ref.id + ": restored bytes do not match the manifest (sha256 " +
                      sha + ", expected " + m.sha256 + ")");
  }
  result->target = target;
  result->source = ref.database + "/" + ref.id;
  result->bytes = got.plaintext_size;
  result->sha256 = sha;
  if (manifest_out != nullptr) *manifest_out = std::move(m);
  return temp;
}

Result<RestoreResult> RestoreSnapshot(Repository& repo, const SnapshotRef& ref,
                                      const std::string& target, const RestoreOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  AURA_RETURN_IF_ERROR(CheckRestoreTarget(target, o.force));
  RestoreResult result;
  AURA_ASSIGN_OR_RETURN(TempFile temp,
                        RestoreSnapshotToTemp(repo, ref, target, o.threads, nullptr, &result));
  AURA_RETURN_IF_ERROR(FinishRestore(temp, target, o.check, result));
  result.duration_ms = MillisSince(t0);
  return result;
}

Result<RestoreResult> RestoreFromDatabaseFile(const std::string& source, const std::string& target,
                                              const RestoreOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  AURA_RETURN_IF_ERROR(CheckRestoreTarget(target, o.force));
  AURA_ASSIGN_OR_RETURN(auto image, DatabaseImage::Open(source, o.busy_timeout_ms));
  AURA_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(target, 0640));
  Sha256 sha;
  AURA_RETURN_IF_ERROR(image->ForEachBlock(
      1u << 20, [&](uint32_t, std::vector<uint8_t>&& block) -> Status {
        sha.Update(block);
        return temp.file().WriteAll(block);
      }));
  RestoreResult result;
  result.target = target;
  result.source = source;
  result.bytes = image->size_bytes();
  result.sha256 = HexEncode(sha.Finish());
  image->Release();
  AURA_RETURN_IF_ERROR(FinishRestore(temp, target, o.check, result));
  result.duration_ms = MillisSince(t0);
  return result;
}

}  // namespace aura::backup
