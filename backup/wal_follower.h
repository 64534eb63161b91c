// WalFollower: reads each newly committed transaction of a live WAL-mode database, holding a
// read lock so that nothing it has not read can disappear.
//
// The lock protocol. SQLite resets the WAL (rewinds to frame 1 with new salts) only when every
// frame has been checkpointed and no reader holds a read mark other than 0, and a checkpoint
// copies frames into the database file only up to the oldest reader's mark (src/wal.c,
// walRestartLog and walCheckpoint). The follower keeps one read transaction open at all times on
// one of two connections and moves it forward by handing off: begin a read on the spare
// connection, then end the old one (Refresh). It hands off only after it has read every frame up
// to the old reader's mark. Hence, while the follower runs:
//   - frames it has not read are never reset away (a reset needs all frames checkpointed, and
//     checkpoints cannot pass a mark the follower has not read up to);
//   - if it does see a reset (new salts), every frame of the old WAL had been read: the new WAL
//     continues exactly where the old one ended.
// Across a restart of the agent there is no such guarantee: Poll reports a gap when the WAL it
// finds is not the one its position names, and the caller starts a new generation.
//
// Writers are never blocked: the follower only reads, and its own checkpoints are PASSIVE unless
// the caller escalates with a bounded busy timeout.
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

namespace aura::backup {

// Where the follower stands: the last commit frame it consumed in one WAL generation.
struct FollowPosition {
  uint32_t salt1 = 0;  // 0/0: no WAL seen yet
  uint32_t salt2 = 0;
  uint64_t frame = 0;
  WalChecksum checksum;  // running WAL checksum after `frame`
  bool operator==(const FollowPosition&) const = default;
};

// One committed transaction as found in the WAL.
struct WalTxn {
  uint64_t commit_frame = 0;
  uint32_t db_pages = 0;
  // Newest frame of each page the transaction wrote, in page order.
  std::vector<std::pair<uint32_t, uint64_t>> page_frames;
};

struct CheckpointResult {
  bool busy = false;       // could not complete (readers or writers in the way)
  int64_t wal_frames = 0;  // frames in the WAL
  int64_t backfilled = 0;  // frames copied into the database file
};

// kUnsupported for `db_path`, which is in journal mode `mode` ("delete", "rollback", ...):
// continuous WAL shipping needs WAL mode; the message gives the command that switches it.
Status NotInWalMode(const std::string& db_path, const std::string& mode);

class WalFollower {
 public:
  // Opens the database (which must be in WAL mode: kUnsupported otherwise, with the fix in the
  // message) and takes the first read lock.
  static Result<std::unique_ptr<WalFollower>> Open(const std::string& db_path, int busy_timeout_ms);
  ~WalFollower();

  uint32_t page_size() const { return page_size_; }
  const std::string& db_path() const { return db_path_; }

  // True if the WAL or its index changed since the last call (cheap; for polling).
  bool Changed();

  // Moves the read lock forward (see the protocol above). Call only when everything up to the
  // current lock has been consumed.
  Status Refresh();

  // kNoWal: there is no WAL content at all (missing, empty or with an invalid header), so the
  // database file alone is the database: after a restart the caller compares it with its
  // position's checksum to tell "checkpointed and closed cleanly" from "changed meanwhile".
  enum class Outcome { kOk, kGap, kNoWal };
  // Reads the transactions committed after `pos`, calling `on_txn` for each in order and
  // advancing `pos` after each successful call. `pos_under_lock` says that `pos` was reached
  // while this follower held its lock (a previous Poll, or a snapshot taken after Open): then a
  // WAL reset provably continues from it. Otherwise (a position recorded before a restart) a
  // WAL with other salts is kGap: continuity cannot be proven and a new generation is needed;
  // `pos` is unchanged.
  Result<Outcome> Poll(FollowPosition& pos, bool pos_under_lock,
                       const std::function<Status(const WalTxn&)>& on_txn);

  // Reads the page stored in WAL frame `frame` of the current WAL (valid inside on_txn). A frame
  // the poll has just read and checked is copied from its buffer: no second read of the WAL.
  Status ReadFramePage(uint64_t frame, std::span<uint8_t> out);

  // Takes the database's write lock without waiting (kBusy if a writer has it), runs `fn`, and
  // releases the lock. While it is held no transaction can commit and the WAL cannot be reset.
  Status WithWriteLock(const std::function<Status()>& fn);

  // With the write lock held (inside WithWriteLock) and everything consumed: drops the read
  // lock, runs a PASSIVE checkpoint, and takes the read lock again. If the checkpoint copied
  // every frame, the new read lock uses no WAL frame, so the next writer may restart the WAL.
  Result<CheckpointResult> CheckpointWithoutReadLock();

  // Runs a checkpoint on a connection of its own ("PASSIVE", "RESTART" or "TRUNCATE") with a
  // busy timeout (only RESTART/TRUNCATE wait).
  Result<CheckpointResult> Checkpoint(const char* mode, int busy_timeout_ms);

 private:
  WalFollower() = default;
  Status BeginRead(SqliteDb& db);
  Status ScanFrom(const WalHeader& header, FollowPosition cur, FollowPosition& pos,
                  const std::function<Status(const WalTxn&)>& on_txn);

  std::string db_path_;
  uint32_t page_size_ = 0;
  SqliteDb conns_[2];
  int active_ = 0;
  SqliteDb checkpointer_;
  SqliteDb writer_;  // opened by the first WithWriteLock
  File wal_file_;    // the -wal file; SQLite takes no locks on it, so our own descriptor is safe
  int64_t last_data_version_ = -1;
  // While ScanFrom runs: the frames it has read, first_frame_ .. first_frame_ + frames - 1.
  std::vector<uint8_t> scan_buf_;
  uint64_t scan_first_frame_ = 0;
  size_t scan_frames_ = 0;
};

}  // namespace aura::backup
