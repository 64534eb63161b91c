// DatabaseImage: a consistent page image of a live SQLite database at one committed
// transaction, read without blocking the application's writers (WAL mode).
//
// How it stays consistent (WAL mode). Open() starts a read transaction on its own connection
// and keeps it until Release(). While any reader holds a transaction:
//   - a checkpoint copies into the database file only frames at or below that reader's snapshot
//     (src/wal.c walCheckpoint: mxSafeFrame is capped by every held read mark, and backfilling
//     needs an exclusive WAL_READ_LOCK(0), which a reader of the bare file holds shared);
//   - the WAL is not reset while the reader's snapshot uses it.
// Open() then scans the -wal file to its last valid commit frame X (X is at or after the
// reader's snapshot, since frames are only appended meanwhile). The image at X is: for each page
// 1..N (N from X's commit frame), the newest frame <= X holding it, else the page in the
// database file. Any database page a concurrent checkpoint rewrites during the copy has a frame
// <= X, which is what we use for it, so a torn or newer read of that page never reaches the
// image. One case needs a retry: if the WAL was fully checkpointed when the transaction began, a
// writer may reset it between the scan and the read of a frame; the frame's salts then differ,
// ReadPages returns kBusy, and the caller starts over.
//
// Rollback-journal mode: the read transaction holds a SHARED lock, so no writer can commit
// until Release(): the file is stable, and writers wait (see docs/OPERATIONS.md: use WAL).
//
// The source is never modified: the connection disables the checkpoint-on-close that would
// otherwise rewrite the database file when the last connection closes.
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backup/wal_format.h"
#include "common/file_io.h"
#include "common/sqlite.h"
#include "common/status.h"

namespace aura::backup {

enum class JournalMode { kWal, kRollback };

// Where in the WAL an image stands; recorded in manifests so WAL shipping can continue from it.
struct WalPosition {
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  uint64_t frame = 0;  // last commit frame included; 0 = nothing from the WAL
  WalChecksum checksum;
};

// Checks that `path` exists and is a regular file, without opening it. kNotFound,
// kPermissionDenied or kInvalidArgument (a directory) otherwise.
//
// Why not open it to look at the header: closing any descriptor of a database file drops every
// POSIX lock this process holds on it, including the SHARED lock of another SQLite connection in
// the process (the WAL follower's). Another process could then believe it holds the last
// connection, checkpoint partially and delete the WAL. So the agent never opens the database
// file itself: it reads it through the SQLite connection's own file handle.
Status CheckDatabasePath(const std::string& path);

// CheckDatabasePath, then the file header through an SQLite connection of its own
// (never a descriptor of ours, see above; no lock is taken, nothing is created beside it):
// kNotADatabase without the "SQLite format 3" header. Returns the journal mode the header
// records (WAL when its file format bytes are 2). For commands that must refuse a wrong --db
// before they create anything in a target, a spool or a lock file.
Result<JournalMode> CheckDatabaseFile(const std::string& path);

class DatabaseImage {
 public:
  static Result<std::unique_ptr<DatabaseImage>> Open(const std::string& path, int busy_timeout_ms);

  // The image as of commit frame `frame` of the WAL with salts salt1/salt2 (not the newest
  // commit). Only consistent while a reader that has not moved past `frame` holds its lock, so
  // that no checkpoint copied newer frames into the database file: the WAL follower uses it
  // right after its own poll. kBusy if the WAL is no longer that one.
  static Result<std::unique_ptr<DatabaseImage>> OpenAt(const std::string& path, int busy_timeout_ms,
                                                       uint32_t salt1, uint32_t salt2,
                                                       uint64_t frame);
  ~DatabaseImage();

  uint32_t page_size() const { return page_size_; }
  uint32_t page_count() const { return page_count_; }
  uint64_t size_bytes() const { return uint64_t{page_size_} * page_count_; }
  JournalMode journal_mode() const { return mode_; }
  WalPosition wal_position() const;
  const std::string& path() const { return path_; }

  // Reads pages [first, first + count) (1-based) into `out`, which holds count * page_size
  // bytes. kBusy if the WAL was reset under us (retry the whole image).
  Status ReadPages(uint32_t first, uint32_t count, std::span<uint8_t> out);

  // Reads the whole image in order, `block_bytes` at a time (rounded down to whole pages, at
  // least one), handing each block with its first page number to `fn`, which may keep it.
  Status ForEachBlock(uint32_t block_bytes,
                      const std::function<Status(uint32_t first_pgno, std::vector<uint8_t>&&)>& fn);

  // Ends the read transaction so checkpoints and (rollback mode) writers proceed. Idempotent.
  void Release();

 private:
  DatabaseImage() = default;
  Status Init(int busy_timeout_ms, uint64_t max_frame);

  std::string path_;
  // The -wal file may be read with a descriptor of our own: SQLite takes no locks on it. The
  // database file is read only through db_'s own handle (see CheckDatabasePath).
  File wal_file_;
  SqliteDb db_;
  sqlite3_file* db_file_ = nullptr;
  WalScan wal_;
  JournalMode mode_ = JournalMode::kRollback;
  uint32_t page_size_ = 0;
  uint32_t page_count_ = 0;
  bool in_txn_ = false;
};

}  // namespace aura::backup
