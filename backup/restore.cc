#include "backup/restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "backup/database_image.h"
#include "backup/file_checksum.h"
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

// The integrity check of the temp copy, on a connection of its own.
Status CheckIntegrity(const std::string& uri, IntegrityLevel check, RestoreResult& result) {
  if (check == IntegrityLevel::kNone) {
    result.integrity = "skipped";
    return Status::Ok();
  }
  AURA_ASSIGN_OR_RETURN(SqliteDb db,
                        SqliteDb::Open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, 0));
  AURA_RETURN_IF_ERROR(UseMappedReads(db));  // the copy is ours and immutable until renamed
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> problems, RunIntegrityCheck(db, check, 20));
  if (!problems.empty()) {
    return Corruption("the restored database fails " + std::string(IntegrityLevelName(check)) +
                      " integrity check (" + problems[0] +
                      "); the target was not touched; try an older snapshot");
  }
  result.integrity = "ok";
  return Status::Ok();
}

// The integrity check and the caller's copy_check, concurrently: SQLite's integrity_check is
// single-threaded, so on two cores the other checks cost no wall-clock time.
Status CheckTempCopy(const std::string& path, const RestoreOptions& o, RestoreResult& result) {
  // immutable=1: no locks, no -wal/-shm beside the temp file, nothing written to it.
  const std::string uri = "file:" + path + "?immutable=1";
  Status copy_status;
  std::thread copy_thread;
  if (o.copy_check) copy_thread = std::thread([&] { copy_status = o.copy_check(uri); });
  Status integrity = CheckIntegrity(uri, o.check, result);
  if (copy_thread.joinable()) copy_thread.join();
  AURA_RETURN_IF_ERROR(integrity);
  return copy_status;
}

}  // namespace

Status FinishRestore(TempFile& temp, const std::string& target, const RestoreOptions& o,
                     RestoreResult& result) {
  AURA_RETURN_IF_ERROR(temp.file().Sync());
  AURA_RETURN_IF_ERROR(CheckTempCopy(temp.temp_path(), o, result));
  // A replaced database keeps its owner, group and mode: `restore --force` as root over
  // nobody:nogroup 0664 left root:root 0640, and the application could no longer open it.
  AURA_RETURN_IF_ERROR(temp.KeepAttributesOf(target, TempFile::Keep::kOwnerAndMode));
  for (const char* suffix : kSidecars) {
    if (::unlink((target + suffix).c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove stale", target + suffix);
    }
  }
  return temp.Commit(/*no_replace=*/false);
}

Status CheckRestoreTarget(const std::string& target, bool force) {
  // The first file in the way: the database itself, else a leftover -wal, -shm or -journal
  // (which SQLite would otherwise apply to the restored file).
  std::string in_the_way = PathExists(target) ? target : "";
  for (const char* suffix : kSidecars) {
    if (in_the_way.empty() && PathExists(target + suffix)) in_the_way = target + suffix;
  }
  if (in_the_way.empty()) return Status::Ok();
  if (!force) {
    const std::string what = in_the_way == target
                                 ? "restore target " + target + " already exists"
                                 : "restore target " + target + " does not exist, but " +
                                       in_the_way + " does (left by an earlier database there)";
    return AlreadyExists(what +
                         "; choose another --to, or pass --force to replace it "
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

namespace {

Result<std::unique_ptr<ObjectDecoder>> OpenData(Repository& repo, const ManifestObject& data,
                                                int threads) {
  AURA_ASSIGN_OR_RETURN(auto reader, repo.storage().Open(data.name));
  return ObjectDecoder::Open(std::move(reader), repo.keyring(), data.name,
                             threads > 0 ? threads : DefaultCodecThreads());
}

Result<TempFile> RestoreFullToTemp(Repository& repo, const SnapshotRef& ref, const Manifest& m,
                                   const std::string& target, int threads, RestoreResult* result,
                                   Progress& progress) {
  AURA_ASSIGN_OR_RETURN(auto decoder, OpenData(repo, m.objects.front(), threads));
  AURA_ASSIGN_OR_RETURN(TempFile temp, TempFile::Create(target, 0640));
  // Write back as we go, so the final fsync does not wait for the whole database at once.
  constexpr uint64_t kWritebackChunk = 16u << 20;
  uint64_t written = 0, flushed = 0;
  AURA_ASSIGN_OR_RETURN(ObjectSummary got, decoder->ReadAll([&](std::span<const uint8_t> d) {
    AURA_RETURN_IF_ERROR(temp.file().WriteAll(d));
    progress.Add(d.size());
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
  result->bytes = got.plaintext_size;
  result->sha256 = sha;
  return temp;
}

// Applies one incremental snapshot's page records to `f`, checking the database checksum before
// and after.
Status ApplyIncrement(Repository& repo, const SnapshotRef& ref, const Manifest& m, File& f,
                      FileChecksum& sum, int threads, Progress& progress) {
  const uint32_t ps = m.summary.page_size;
  if (m.base_db_checksum != sum.value()) {
    return Corruption("snapshot " + ref.id +
                      " does not apply to the image its base restored "
                      "(database checksum before mismatch)");
  }
  AURA_ASSIGN_OR_RETURN(auto decoder, OpenData(repo, m.objects.front(), threads));
  std::vector<uint8_t> record;
  record.reserve(4 + ps);
  auto apply = [&](std::span<const uint8_t> rec) -> Status {
    const uint32_t pgno =
        uint32_t{rec[0]} | uint32_t{rec[1]} << 8 | uint32_t{rec[2]} << 16 | uint32_t{rec[3]} << 24;
    if (pgno == 0 || pgno > m.summary.page_count) {
      return Corruption("snapshot " + ref.id + ": page record " + std::to_string(pgno) +
                        " is outside the database");
    }
    std::span<const uint8_t> page = rec.subspan(4);
    AURA_RETURN_IF_ERROR(sum.SetPage(pgno, page));  // reads the old page first
    if (::pwrite(f.fd(), page.data(), ps, off_t{pgno - 1} * ps) != static_cast<ssize_t>(ps)) {
      return ErrnoStatus(errno, "write", f.path());
    }
    return Status::Ok();
  };
  AURA_ASSIGN_OR_RETURN(ObjectSummary got, decoder->ReadAll([&](std::span<const uint8_t> d) {
    progress.Add(d.size());
    while (!d.empty()) {
      size_t take = std::min(d.size(), 4 + ps - record.size());
      record.insert(record.end(), d.begin(), d.begin() + take);
      d = d.subspan(take);
      if (record.size() == 4 + ps) {
        AURA_RETURN_IF_ERROR(apply(record));
        record.clear();
      }
    }
    return Status::Ok();
  }));
  if (!record.empty() || HexEncode(got.sha256) != m.objects.front().sha256) {
    return Corruption("snapshot " + ref.id + ": its data does not match the manifest");
  }
  const auto pages = static_cast<uint32_t>(m.summary.page_count);
  AURA_RETURN_IF_ERROR(sum.Resize(pages));  // hashes dropped pages before truncating
  if (::ftruncate(f.fd(), off_t{pages} * ps) != 0) return ErrnoStatus(errno, "truncate", f.path());
  if (sum.value() != *m.db_checksum) {
    return Corruption("snapshot " + ref.id +
                      ": the restored image differs from the source's "
                      "(database checksum after mismatch)");
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<SnapshotRef>> SnapshotChain(Repository& repo, const SnapshotRef& ref,
                                               std::vector<Manifest>* manifests) {
  std::vector<SnapshotRef> chain{ref};
  std::vector<Manifest> ms;
  for (;;) {
    AURA_ASSIGN_OR_RETURN(Manifest m, repo.ReadManifest(chain.back()));
    std::string base = m.summary.kind == "incremental" ? m.summary.base : "";
    ms.push_back(std::move(m));
    if (base.empty()) break;
    if (chain.size() > 100000) return Corruption("snapshot " + ref.id + ": its chain loops");
    auto b = repo.FindSnapshot(ref.database, base);
    if (!b.ok()) {
      if (b.status().code() != Code::kNotFound) return b.status();
      return NotFound("snapshot " + chain.back().id + " is incremental and its base " + base +
                      " is missing from the repository; restore an older full snapshot (see "
                      "'aura-agent list')");
    }
    chain.push_back(*b);
  }
  std::reverse(chain.begin(), chain.end());
  std::reverse(ms.begin(), ms.end());
  if (manifests != nullptr) *manifests = std::move(ms);
  return chain;
}

Result<TempFile> RestoreSnapshotToTemp(Repository& repo, const SnapshotRef& ref,
                                       const std::string& target, int threads,
                                       Manifest* manifest_out, RestoreResult* result,
                                       Progress* progress_or_null) {
  Progress& progress = ProgressOr(progress_or_null);
  std::vector<Manifest> ms;
  AURA_ASSIGN_OR_RETURN(std::vector<SnapshotRef> chain, SnapshotChain(repo, ref, &ms));
  uint64_t total = ms.front().summary.size;  // the full snapshot, then the increments' records
  for (size_t i = 1; i < ms.size(); ++i) total += ms[i].objects.front().plaintext_size;
  progress.AddTotal(total);
  AURA_ASSIGN_OR_RETURN(TempFile temp, RestoreFullToTemp(repo, chain.front(), ms.front(), target,
                                                         threads, result, progress));
  if (chain.size() > 1) {
    const Manifest& root = ms.front();
    if (!root.db_checksum) {
      return Corruption("snapshot " + chain.front().id +
                        " starts a chain but does not record its database checksum");
    }
    FileChecksum sum(temp.file(), root.summary.page_size,
                     static_cast<uint32_t>(root.summary.page_count), *root.db_checksum);
    for (size_t i = 1; i < chain.size(); ++i) {
      AURA_RETURN_IF_ERROR(
          ApplyIncrement(repo, chain[i], ms[i], temp.file(), sum, threads, progress));
    }
    result->bytes = ms.back().summary.size;
    result->sha256.clear();  // the chain is verified by database checksums instead
  }
  result->target = target;
  result->source = ref.database + "/" + ref.id;
  result->snapshot = ref.id;
  if (chain.size() > 1) {
    result->source +=
        " (full " + chain.front().id + " + " + std::to_string(chain.size() - 1) + " incremental)";
  }
  if (manifest_out != nullptr) *manifest_out = std::move(ms.back());
  return temp;
}

Result<RestoreResult> RestoreSnapshot(Repository& repo, const SnapshotRef& ref,
                                      const std::string& target, const RestoreOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  AURA_RETURN_IF_ERROR(CheckRestoreTarget(target, o.force));
  RestoreResult result;
  ProgressOr(o.progress).Start("restore", 0);  // the total is known once the chain is read
  AURA_ASSIGN_OR_RETURN(TempFile temp, RestoreSnapshotToTemp(repo, ref, target, o.threads, nullptr,
                                                             &result, o.progress));
  AURA_RETURN_IF_ERROR(FinishRestore(temp, target, o, result));
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
  Progress& progress = ProgressOr(o.progress);
  progress.Start("restore", image->size_bytes());
  AURA_RETURN_IF_ERROR(
      image->ForEachBlock(1u << 20, [&](uint32_t, std::vector<uint8_t>&& block) -> Status {
        sha.Update(block);
        progress.Add(block.size());
        return temp.file().WriteAll(block);
      }));
  RestoreResult result;
  result.target = target;
  result.source = source;
  result.bytes = image->size_bytes();
  result.sha256 = HexEncode(sha.Finish());
  image->Release();
  AURA_RETURN_IF_ERROR(FinishRestore(temp, target, o, result));
  result.duration_ms = MillisSince(t0);
  return result;
}

}  // namespace aura::backup
