#include "backup/wal_follower.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

namespace aura::backup {

namespace {

Result<SqliteDb> OpenConnection(const std::string& path, int busy_timeout_ms) {
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path, SQLITE_OPEN_READWRITE, busy_timeout_ms));
  // Never checkpoint (and so rewrite the database file or delete the WAL) when closing.
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  // These connections read a header or hold a lock, never run queries: no lookaside memory,
  // so a daemon following a thousand databases does not keep a query engine's memory for each
  // (with SqliteDb's process-wide settings, about 18 KiB a connection).
  sqlite3_db_config(db.get(), SQLITE_DBCONFIG_LOOKASIDE, nullptr, 0, 0);
  return db;
}

// The busy handler of WithWriteLock.
int RetrySoon(void* /*unused*/, int attempts) {
  constexpr int kAttempts = 400;
  if (attempts >= kAttempts) return 0;
  std::this_thread::sleep_for(std::chrono::microseconds(20));
  return 1;
}

}  // namespace

Status NotInWalMode(const std::string& db_path, const std::string& mode) {
  return Unsupported(db_path + " is in " + mode +
                     " journal mode; continuous WAL shipping needs WAL mode. Stop the "
                     "application and run: sqlite3 " +
                     db_path + " 'PRAGMA journal_mode=WAL;' (snapshots keep working meanwhile)");
}

Result<std::unique_ptr<WalFollower>> WalFollower::Open(const std::string& db_path,
                                                       int busy_timeout_ms) {
  std::unique_ptr<WalFollower> f(new WalFollower());
  f->db_path_ = db_path;
  for (SqliteDb& c : f->conns_) {
    AURA_ASSIGN_OR_RETURN(c, OpenConnection(db_path, busy_timeout_ms));
  }
  AURA_ASSIGN_OR_RETURN(f->checkpointer_, OpenConnection(db_path, busy_timeout_ms));
  {
    // The checks parse the schema: on a connection closed afterwards, so that memory is not
    // kept for as long as the database is followed.
    AURA_ASSIGN_OR_RETURN(SqliteDb probe, OpenConnection(db_path, busy_timeout_ms));
    AURA_ASSIGN_OR_RETURN(std::string mode, probe.QueryText("PRAGMA journal_mode"));
    if (mode != "wal") return NotInWalMode(db_path, mode);
    AURA_ASSIGN_OR_RETURN(int64_t ps, probe.QueryInt("PRAGMA page_size"));
    f->page_size_ = static_cast<uint32_t>(ps);
  }
  AURA_RETURN_IF_ERROR(f->BeginRead(f->conns_[0]));
  f->active_ = 0;
  return f;
}

WalFollower::~WalFollower() {
  for (SqliteDb& c : conns_) {
    if (c.get() != nullptr && !sqlite3_get_autocommit(c.get())) (void)c.Exec("COMMIT");
  }
}

Status WalFollower::BeginRead(SqliteDb& db) {
  AURA_RETURN_IF_ERROR(db.Exec("BEGIN"));
  // A read of the database header starts the transaction and takes a WAL read mark (without
  // parsing the schema, which this connection never needs).
  Status s = db.QueryInt("PRAGMA schema_version").status();
  if (!s.ok()) (void)db.Exec("ROLLBACK");
  return s;
}

bool WalFollower::Changed() {
  // PRAGMA data_version on a connection outside any transaction changes whenever another
  // connection commits; it reads the WAL index only.
  auto v = checkpointer_.QueryInt("PRAGMA data_version");
  if (!v.ok()) return true;
  bool changed = *v != last_data_version_;
  last_data_version_ = *v;
  return changed;
}

Status WalFollower::Refresh() {
  SqliteDb& spare = conns_[1 - active_];
  // Take the new lock before dropping the old one: a lock is held at every instant.
  AURA_RETURN_IF_ERROR(BeginRead(spare));
  (void)conns_[active_].Exec("COMMIT");
  active_ = 1 - active_;
  return Status::Ok();
}

Status WalFollower::ReadFramePage(uint64_t frame, std::span<uint8_t> out) {
  if (out.size() != page_size_) return InternalError("ReadFramePage: wrong buffer size");
  if (frame >= scan_first_frame_ && frame < scan_first_frame_ + scan_frames_) {
    const size_t frame_size = kWalFrameHeaderSize + page_size_;
    const uint8_t* f = scan_buf_.data() + (frame - scan_first_frame_) * frame_size;
    std::copy_n(f + kWalFrameHeaderSize, page_size_, out.data());
    return Status::Ok();
  }
  AURA_ASSIGN_OR_RETURN(
      size_t n, wal_file_.ReadAt(WalFrameOffset(page_size_, frame) + kWalFrameHeaderSize, out));
  if (n != page_size_)
    return IOError(db_path_ + "-wal: frame " + std::to_string(frame) + " is short");
  return Status::Ok();
}

Result<WalFollower::Outcome> WalFollower::Poll(FollowPosition& pos, bool pos_under_lock,
                                               const std::function<Status(const WalTxn&)>& on_txn) {
  // Reopen the -wal each poll: SQLite may have deleted and recreated it (no locks live on it,
  // so our own descriptor is harmless).
  auto file = File::OpenForRead(db_path_ + "-wal");
  if (!file.ok()) {
    if (file.status().code() == Code::kNotFound) return Outcome::kNoWal;
    return file.status();
  }
  wal_file_ = std::move(file).value();
  uint8_t hb[kWalHeaderSize];
  AURA_ASSIGN_OR_RETURN(size_t hn, wal_file_.ReadAt(0, hb));
  if (hn < kWalHeaderSize) return Outcome::kNoWal;  // empty (e.g. just truncated)
  auto header = ParseWalHeader(hb);
  if (!header.ok()) return Outcome::kNoWal;  // none yet, or one being rewritten
  if (header->page_size != page_size_) {
    return Corruption(db_path_ + "-wal: page size changed to " + std::to_string(header->page_size));
  }
  FollowPosition cur = pos;
  if (header->salt1 != pos.salt1 || header->salt2 != pos.salt2) {
    // A new WAL generation (or the first WAL after a snapshot of a WAL-less database). It
    // continues our position only if the lock protocol has held since that position.
    if (!pos_under_lock) return Outcome::kGap;
    cur = FollowPosition{header->salt1, header->salt2, 0, header->checksum};
  } else if (pos.frame == 0) {
    cur.checksum = header->checksum;
  }
  AURA_RETURN_IF_ERROR(ScanFrom(*header, cur, pos, on_txn));
  return Outcome::kOk;
}

Status WalFollower::ScanFrom(const WalHeader& header, FollowPosition cur, FollowPosition& pos,
                             const std::function<Status(const WalTxn&)>& on_txn) {
  const size_t frame_size = kWalFrameHeaderSize + page_size_;
  // Up to 1 MiB of frames a read, but no more than the WAL holds past our position: a poll that
  // finds one small commit (a fleet's usual case) reads and allocates a few KiB, not 1 MiB.
  AURA_ASSIGN_OR_RETURN(uint64_t wal_bytes, wal_file_.Size());
  const uint64_t start = WalFrameOffset(page_size_, cur.frame + 1);
  if (wal_bytes < start + frame_size) return Status::Ok();
  const size_t batch = std::clamp<size_t>((wal_bytes - start) / frame_size, 1,
                                          std::max<size_t>(1, (1u << 20) / frame_size));
  // The buffer is a member so ReadFramePage can serve the frames just read; it is released
  // when the scan ends, so an idle database holds none.
  scan_buf_.resize(batch * frame_size);
  struct Release {
    WalFollower* f;
    ~Release() {
      f->scan_frames_ = 0;
      std::vector<uint8_t>().swap(f->scan_buf_);
    }
  } release{this};
  std::map<uint32_t, uint64_t> pending;  // pages of the transaction being read
  WalChecksum running = cur.checksum;
  uint64_t frame = cur.frame + 1;
  for (;;) {
    scan_frames_ = 0;
    AURA_ASSIGN_OR_RETURN(size_t got,
                          wal_file_.ReadAt(WalFrameOffset(page_size_, frame), scan_buf_));
    size_t frames_here = got / frame_size;
    scan_first_frame_ = frame;
    for (size_t i = 0; i < frames_here; ++i, ++frame) {
      const uint8_t* f = scan_buf_.data() + i * frame_size;
      WalFrameHeader fh = ParseWalFrameHeader(
          std::span<const uint8_t, kWalFrameHeaderSize>(f, kWalFrameHeaderSize));
      if (fh.salt1 != header.salt1 || fh.salt2 != header.salt2 || fh.pgno == 0) return Status::Ok();
      running = WalChecksumUpdate(header.big_endian_checksums, {f, 8}, running);
      running = WalChecksumUpdate(header.big_endian_checksums, {f + 24, page_size_}, running);
      if (!(running == fh.checksum)) return Status::Ok();
      scan_frames_ = i + 1;  // checked: ReadFramePage may serve it
      pending[fh.pgno] = frame;
      if (fh.commit_size == 0) continue;
      WalTxn txn;
      txn.commit_frame = frame;
      txn.db_pages = fh.commit_size;
      txn.page_frames.assign(pending.begin(), pending.end());
      pending.clear();
      AURA_RETURN_IF_ERROR(on_txn(txn));
      pos = FollowPosition{header.salt1, header.salt2, frame, running};
    }
    if (got < scan_buf_.size()) return Status::Ok();
  }
}

Status WalFollower::WithWriteLock(const std::function<Status()>& fn) {
  // Opened the first time it is needed (a WAL restart is rare): one connection less per
  // database the rest of the time.
  if (writer_.get() == nullptr) {
    AURA_ASSIGN_OR_RETURN(writer_, OpenConnection(db_path_, 0));
  }
  // A writer committing flat out holds the write lock nearly all the time and frees it for a
  // few microseconds between transactions; SQLite's own busy timeout sleeps in milliseconds and
  // would almost never see the gap, so the WAL could not be restarted and would grow without
  // bound. Retry every few tens of microseconds instead, for at most ~20 ms.
  sqlite3_busy_handler(writer_.get(), &RetrySoon, nullptr);
  Status begun = writer_.Exec("BEGIN IMMEDIATE");
  if (!begun.ok()) {
    if (!sqlite3_get_autocommit(writer_.get())) (void)writer_.Exec("ROLLBACK");
    return begun;
  }
  Status s = fn();
  Status c = writer_.Exec("COMMIT");
  if (!c.ok()) {
    // Never leave the write lock behind: that would stop every writer of the application.
    (void)writer_.Exec("ROLLBACK");
    if (s.ok()) s = c;
  }
  return s;
}

Result<CheckpointResult> WalFollower::CheckpointWithoutReadLock() {
  (void)conns_[active_].Exec("COMMIT");
  auto r = Checkpoint("PASSIVE", 0);
  Status again = BeginRead(conns_[active_]);
  if (!again.ok()) return again;
  return r;
}

Result<CheckpointResult> WalFollower::Checkpoint(const char* mode, int busy_timeout_ms) {
  sqlite3_busy_timeout(checkpointer_.get(), busy_timeout_ms);
  int log = 0, done = 0;
  int emode = std::string(mode) == "TRUNCATE"  ? SQLITE_CHECKPOINT_TRUNCATE
              : std::string(mode) == "RESTART" ? SQLITE_CHECKPOINT_RESTART
                                               : SQLITE_CHECKPOINT_PASSIVE;
  int rc = sqlite3_wal_checkpoint_v2(checkpointer_.get(), "main", emode, &log, &done);
  CheckpointResult r;
  r.wal_frames = log;
  r.backfilled = done;
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    r.busy = true;
  } else if (rc != SQLITE_OK) {
    return SqliteStatus(checkpointer_.get(), rc, "checkpoint");
  }
  r.busy = r.busy || done < log;
  return r;
}

}  // namespace aura::backup
