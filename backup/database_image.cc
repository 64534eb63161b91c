#include "backup/database_image.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace aura::backup {

Status CheckDatabasePath(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      return NotFound("database " + path + " does not exist; check the path (--db)");
    }
    return ErrnoStatus(errno, "stat database", path);
  }
  if (S_ISDIR(st.st_mode)) {
    return InvalidArgument(path + " is a directory, not an SQLite database file");
  }
  if (::access(path.c_str(), R_OK) != 0) return ErrnoStatus(errno, "cannot read database", path);
  return Status::Ok();
}

namespace {

// Checks the first 16 bytes through SQLite's own handle.
Status CheckHeader(sqlite3_file* f, const std::string& path) {
  sqlite3_int64 size = 0;
  if (f->pMethods->xFileSize(f, &size) != SQLITE_OK) return IOError("cannot size " + path);
  uint8_t header[16] = {};
  if (size >= 16) f->pMethods->xRead(f, header, 16, 0);
  if (size < 16 || std::memcmp(header, "SQLite format 3\0", 16) != 0) {
    return NotADatabase(path +
                        " is not an SQLite database (it lacks the 'SQLite format 3' "
                        "header); check the path");
  }
  return Status::Ok();
}

// The file handle SQLite opened `db`'s main database with.
Result<sqlite3_file*> MainFile(SqliteDb& db, const std::string& path) {
  sqlite3_file* f = nullptr;
  if (sqlite3_file_control(db.get(), "main", SQLITE_FCNTL_FILE_POINTER, &f) != SQLITE_OK ||
      f == nullptr || f->pMethods == nullptr) {
    return InternalError("no file handle for " + path);
  }
  return f;
}

}  // namespace

Result<JournalMode> CheckDatabaseFile(const std::string& path) {
  AURA_RETURN_IF_ERROR(CheckDatabasePath(path));
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path, SQLITE_OPEN_READONLY, 0));
  AURA_ASSIGN_OR_RETURN(sqlite3_file * f, MainFile(db, path));
  AURA_RETURN_IF_ERROR(CheckHeader(f, path));
  uint8_t versions[2] = {};  // header offsets 18 and 19: file format write and read versions
  if (f->pMethods->xRead(f, versions, 2, 18) != SQLITE_OK) return IOError("cannot read " + path);
  return versions[0] == 2 && versions[1] == 2 ? JournalMode::kWal : JournalMode::kRollback;
}

Result<std::unique_ptr<DatabaseImage>> DatabaseImage::Open(const std::string& path,
                                                           int busy_timeout_ms) {
  AURA_RETURN_IF_ERROR(CheckDatabasePath(path));
  std::unique_ptr<DatabaseImage> img(new DatabaseImage());
  img->path_ = path;
  Status s = img->Init(busy_timeout_ms, UINT64_MAX);
  if (!s.ok()) return s;
  return img;
}

Result<std::unique_ptr<DatabaseImage>> DatabaseImage::OpenAt(const std::string& path,
                                                             int busy_timeout_ms, uint32_t salt1,
                                                             uint32_t salt2, uint64_t frame) {
  AURA_RETURN_IF_ERROR(CheckDatabasePath(path));
  std::unique_ptr<DatabaseImage> img(new DatabaseImage());
  img->path_ = path;
  AURA_RETURN_IF_ERROR(img->Init(busy_timeout_ms, frame));
  const WalScan& w = img->wal_;
  if (frame > 0 &&
      (w.header.salt1 != salt1 || w.header.salt2 != salt2 || w.last_commit_frame != frame)) {
    return Busy("the WAL of " + path + " moved on while its image was read; retrying");
  }
  return img;
}

Status DatabaseImage::Init(int busy_timeout_ms, uint64_t max_frame) {
  auto db = SqliteDb::Open(path_, SQLITE_OPEN_READWRITE, busy_timeout_ms);
  if (!db.ok() && db.status().code() == Code::kPermissionDenied) {
    db = SqliteDb::Open(path_, SQLITE_OPEN_READONLY, busy_timeout_ms);
  }
  if (!db.ok()) return db.status();
  db_ = std::move(db).value();
  // Closing the last connection would otherwise checkpoint, rewriting the source file.
  sqlite3_db_config(db_.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  AURA_ASSIGN_OR_RETURN(db_file_, MainFile(db_, path_));
  AURA_RETURN_IF_ERROR(CheckHeader(db_file_, path_));

  AURA_RETURN_IF_ERROR(db_.Exec("BEGIN"));
  in_txn_ = true;
  // The first read starts the transaction's snapshot (and waits out a lock holder, bounded by
  // the busy timeout).
  auto pages = db_.QueryInt("PRAGMA page_count");
  if (!pages.ok()) {
    if (pages.status().code() == Code::kBusy) {
      return Busy("database " + path_ + " is locked by another process (waited " +
                  std::to_string(busy_timeout_ms) +
                  " ms); retry when the writer is done, or raise --busy-timeout");
    }
    if (pages.status().code() == Code::kNotADatabase) {
      return NotADatabase(path_ + " is not a valid SQLite database: " + pages.status().message());
    }
    return pages.status();
  }
  AURA_ASSIGN_OR_RETURN(int64_t page_size, db_.QueryInt("PRAGMA page_size"));
  AURA_ASSIGN_OR_RETURN(std::string mode, db_.QueryText("PRAGMA journal_mode"));
  page_size_ = static_cast<uint32_t>(page_size);
  page_count_ = static_cast<uint32_t>(*pages);
  mode_ = mode == "wal" ? JournalMode::kWal : JournalMode::kRollback;

  if (mode_ == JournalMode::kWal) {
    AURA_ASSIGN_OR_RETURN(wal_, ScanWal(path_ + "-wal", max_frame));
    if (wal_.last_commit_frame > 0) {
      if (wal_.header.page_size != page_size_) {
        return Corruption(path_ + "-wal has page size " + std::to_string(wal_.header.page_size) +
                          " but the database has " + std::to_string(page_size_));
      }
      page_count_ = wal_.db_pages;
      AURA_ASSIGN_OR_RETURN(wal_file_, File::OpenForRead(path_ + "-wal"));
    } else if (max_frame != UINT64_MAX) {
      // The image before any WAL frame is the database file alone.
      sqlite3_int64 size = 0;
      if (db_file_->pMethods->xFileSize(db_file_, &size) != SQLITE_OK) {
        return IOError("cannot size " + path_);
      }
      page_count_ = static_cast<uint32_t>(static_cast<uint64_t>(size) / page_size_);
    }
  }
  return Status::Ok();
}

DatabaseImage::~DatabaseImage() { Release(); }

WalPosition DatabaseImage::wal_position() const {
  WalPosition p;
  if (wal_.last_commit_frame == 0) return p;
  p.salt1 = wal_.header.salt1;
  p.salt2 = wal_.header.salt2;
  p.frame = wal_.last_commit_frame;
  p.checksum = wal_.checksum;
  return p;
}

Status DatabaseImage::ReadPages(uint32_t first, uint32_t count, std::span<uint8_t> out) {
  if (first < 1 || uint64_t{first} + count - 1 > page_count_ ||
      out.size() != uint64_t{count} * page_size_) {
    return InternalError("ReadPages out of range");
  }
  uint64_t offset = uint64_t{first - 1} * page_size_;
  // A short read (pages past the end of the file) is zero-filled by the VFS, as the pager sees it.
  int rc = db_file_->pMethods->xRead(db_file_, out.data(), static_cast<int>(out.size()),
                                     static_cast<sqlite3_int64>(offset));
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
    return IOError("read " + path_ + " at offset " + std::to_string(offset) + " failed");
  }
  if (wal_.page_frames.empty()) return Status::Ok();
  std::vector<uint8_t> frame_header(kWalFrameHeaderSize);
  for (uint32_t i = 0; i < count; ++i) {
    auto it = wal_.page_frames.find(first + i);
    if (it == wal_.page_frames.end()) continue;
    uint64_t at = WalFrameOffset(page_size_, it->second);
    // Page first, then its frame header: SQLite writes a frame's header before its page, so a
    // header still carrying our salts proves the page read before it was not overwritten.
    std::span<uint8_t> page = out.subspan(uint64_t{i} * page_size_, page_size_);
    AURA_ASSIGN_OR_RETURN(size_t p, wal_file_.ReadAt(at + kWalFrameHeaderSize, page));
    AURA_ASSIGN_OR_RETURN(size_t h, wal_file_.ReadAt(at, frame_header));
    WalFrameHeader fh = ParseWalFrameHeader(
        std::span<const uint8_t, kWalFrameHeaderSize>(frame_header.data(), kWalFrameHeaderSize));
    if (h != kWalFrameHeaderSize || p != page_size_ || fh.pgno != first + i ||
        fh.salt1 != wal_.header.salt1 || fh.salt2 != wal_.header.salt2) {
      return Busy("the WAL of " + path_ + " was reset during the snapshot; retrying");
    }
  }
  return Status::Ok();
}

Status DatabaseImage::ForEachBlock(
    uint32_t block_bytes,
    const std::function<Status(uint32_t first_pgno, std::vector<uint8_t>&&)>& fn) {
  const uint32_t per = std::max<uint32_t>(1, block_bytes / page_size_);
  for (uint32_t pg = 1; pg <= page_count_; pg += per) {
    uint32_t n = std::min(per, page_count_ - pg + 1);
    std::vector<uint8_t> block(uint64_t{n} * page_size_);
    AURA_RETURN_IF_ERROR(ReadPages(pg, n, block));
    AURA_RETURN_IF_ERROR(fn(pg, std::move(block)));
  }
  return Status::Ok();
}

void DatabaseImage::Release() {
  if (!in_txn_) return;
  in_txn_ = false;
  (void)db_.Exec("COMMIT");
}

}  // namespace aura::backup
