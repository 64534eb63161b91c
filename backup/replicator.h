// Replicator: continuous WAL shipping for one WAL-mode database to one repository.
//
// The loop (Step, every poll interval): if the database changed, read the newly committed
// transactions with the WalFollower, give each a txid, append it to the open spool segment with
// its pages and the database checksum after it; cut the segment (fsync, rename) when it is old
// or large enough; then move the follower's read lock forward. A separate uploader (Upload)
// seals spooled segments into the repository in order and deletes them from the spool. The
// application never waits on either: the follower only reads, the network is behind the spool.
//
// Generations: a generation starts with a snapshot taken while the follower holds its lock, so
// the WAL continues exactly from the snapshot's position. On start the replicator resumes from
// the newest segment (spool or repository) or generation snapshot; if the WAL is no longer the
// one that position names (another process checkpointed with TRUNCATE or RESTART while the agent
// was stopped), it cannot prove nothing was lost, so it starts a new generation, logs it and
// counts it. txids keep increasing across generations. With `generation_max_age` it also starts
// one when the current generation is that old (Litestream's snapshot interval, in effect).
//
// Checkpoints: the follower's lock stops checkpoints at what has been shipped, never blocks
// writers, and is refreshed at least every segment. The replicator runs PASSIVE checkpoints when
// the WAL holds more than `checkpoint_pages` frames (at most every 250 ms, each under the write
// lock taken without waiting, so no WAL reset can overlap one: SQLite's WAL-reset bug), and
// when it holds more than
// `restart_pages` it makes a WAL restart possible by holding the write lock for a few
// milliseconds (never waiting for it) while it ships the tail and checkpoints. See
// docs/REPLICATION.md.
//
// Thread-safety: Start and Step run on one thread; Upload on another; status() on any.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backup/db_checksum.h"
#include "backup/repository.h"
#include "backup/snapshot.h"
#include "backup/spool.h"
#include "backup/wal_follower.h"
#include "common/clock.h"
#include "common/platform.h"

namespace aura::backup {

struct ReplicatorOptions {
  std::string db_path;
  std::string database;  // name in the repository
  std::string spool_dir;
  int busy_timeout_ms = 5000;
  std::chrono::milliseconds poll_interval{5};
  std::chrono::milliseconds segment_max_age{
      20};  // a segment is cut this soon after its first commit
  uint64_t segment_max_bytes = 8u << 20;
  uint64_t spool_max_bytes = uint64_t{1} << 30;  // beyond this, shipping pauses and says so loudly
  uint32_t checkpoint_pages = 1000;
  uint32_t restart_pages = 4000;
  // Start a new generation (a fresh snapshot) once the current one is this old, so retention can
  // delete the WAL before it instead of keeping every segment since the first start. 0: never.
  // A failed attempt (target down) is retried every 10 minutes while shipping goes on.
  std::chrono::seconds generation_max_age{0};
  const Clock* clock = nullptr;
};

struct ReplicationStatus {
  std::string database;
  uint64_t generation = 0;
  uint64_t spooled_txid = 0;            // last txid durable in the spool
  uint64_t uploaded_txid = 0;           // last txid durable in the repository
  int64_t last_commit_us = 0;           // observed commit time of spooled_txid
  int64_t last_uploaded_commit_us = 0;  // observed commit time of uploaded_txid
  uint64_t spool_bytes = 0;
  uint64_t spool_segments = 0;
  uint64_t pending_txns = 0;  // spooled, not yet uploaded
  uint64_t generations_started = 0;
  uint64_t gaps_detected = 0;
  uint64_t segments_uploaded = 0;
  // The newest generation snapshot this replicator took (empty id: none in this run).
  std::string generation_snapshot;
  TimePoint generation_snapshot_created{};
  uint64_t generation_snapshot_size = 0, generation_snapshot_stored = 0;
  std::string last_error;
  int64_t last_error_us = 0;
};

// Where shipping to `repo` ended for `database`: the newest segment (any level) or snapshot
// with a replication point, whichever stands at the later (generation, txid). nullopt when the
// database was never replicated there.
struct ReplicatedEnd {
  ReplicationPoint point;  // with the database checksum after that txid
  FollowPosition pos;      // the WAL position it was read at
  uint32_t db_pages = 0;
  std::string from;  // the object it comes from
  // The newest snapshot with a replication point (a generation snapshot), if any.
  std::optional<SnapshotSummary> generation_snapshot;
};
Result<std::optional<ReplicatedEnd>> FindReplicatedEnd(Repository& repo,
                                                       const std::string& database);

class Replicator {
 public:
  Replicator(ReplicatorOptions options, std::shared_ptr<Repository> repo);
  ~Replicator();

  // Opens the follower, then the spool (created if missing, and locked), and resumes (or starts
  // a generation). kUnsupported for a database not in WAL mode, refused before the spool is
  // touched; a spool folder this call created is removed again when it fails.
  Status Start();
  // One poll cycle. Errors are also recorded in status(); the caller keeps calling.
  Status Step();
  // Cuts the open segment now (shutdown, tests).
  Status Flush();
  // Uploads spooled segments in order until the spool is empty or an upload fails.
  Status Upload();
  // Ends shipping for good: lets go of the WAL (the follower's read lock) and of the spool's
  // lock, so a replicator started next (a reload) takes them at once. Step and Upload fail
  // afterwards; status() still answers.
  void Close();

  // A snapshot (a policy one) standing exactly at the newest txid shipped so far, so WAL chains
  // can start from it: polls and cuts the open segment, then reads the image at the follower's
  // position (its lock holds checkpoints back) and records {generation, txid, checksum} when the
  // image's database checksum equals the replicator's own; otherwise (caught up after a restart,
  // or a mismatch, which is logged) the snapshot is taken but records no position. Runs on the
  // Step thread; shipping waits while the pages are read, the application never does.
  Result<SnapshotResult> SnapshotHere(SnapshotOptions o);

  // Hands each uploaded segment's spooled file to `keep` (which must move or remove it) instead
  // of deleting it: the compactor keeps it to merge without reading it back. Set before the
  // first Upload.
  void KeepUploaded(
      std::function<void(const std::string& path, const SegmentHeader& header)> keep) {
    keep_uploaded_ = std::move(keep);
  }

  // Blocks until a segment is spooled or `timeout` passes (for the uploader thread).
  void WaitForSpooled(std::chrono::milliseconds timeout);

  ReplicationStatus status() const;
  // Status as JSON, with the lag figures computed at `now`.
  std::string StatusJson(TimePoint now) const;

 private:
  struct Undo;
  Status Resume();
  void RecordGenerationSnapshot(const SnapshotSummary& s);
  Status OpenSpool();
  void RemoveNewSpool();
  Status StartGeneration(const std::string& why, bool routine = false);
  Status ConsumeTxn(const WalTxn& txn, bool catch_up);
  // Reads each page of a transaction into page_at(i) and applies it to the checksum, noting
  // the old hashes in the undo record.
  Status HashTxnPages(uint32_t db_pages, const std::vector<std::pair<uint32_t, uint64_t>>& pages,
                      const std::function<std::span<uint8_t>(size_t)>& page_at);
  Status CutSegment();
  void Rollback();
  Status PollOnce(bool* gap, bool catch_up);
  Status UploadSegment(const SpooledSegment& seg);
  Status MaybeCheckpoint();
  Status RestartDance();
  void RecordError(const Status& s);
  int64_t NowUs() const { return ToUnixMicros(clock_->Now()); }

  ReplicatorOptions opts_;
  std::shared_ptr<Repository> repo_;
  const Clock* clock_;
  platform::FileLock spool_lock_;
  std::unique_ptr<WalFollower> follower_;
  FollowPosition pos_;
  FollowPosition last_checkpoint_pos_;
  bool closed_ = false;
  std::chrono::steady_clock::time_point last_checkpoint_try_{};
  bool pos_under_lock_ = false;
  bool retry_ = false;
  bool no_wal_ = false;  // the last poll found no WAL content
  uint64_t generation_ = 0;
  uint64_t last_txid_ = 0;
  uint32_t db_pages_ = 0;
  int64_t last_commit_us_ = 0;
  DatabaseChecksum checksum_;
  // After a restart, the first segment starts from the recorded checksum, not the table's.
  std::optional<uint64_t> catch_up_before_;
  std::unique_ptr<SegmentBuilder> builder_;
  std::unique_ptr<Undo> undo_;  // how to return to the state before the open segment
  std::chrono::steady_clock::time_point builder_started_;
  std::chrono::steady_clock::time_point last_refresh_;
  std::chrono::steady_clock::time_point last_restart_try_;
  int64_t next_rotation_try_us_ = 0;       // clock_ time; after a failed generation rotation
  uint64_t generation_snapshot_txid_ = 0;  // the txid of this run's generation snapshot, if any
  std::vector<uint8_t> page_buf_;
  std::vector<uint8_t> txn_buf_;  // the pages of the transaction being consumed
  std::function<void(const std::string&, const SegmentHeader&)> keep_uploaded_;
  mutable std::mutex mu_;
  std::condition_variable spooled_cv_;
  uint64_t spooled_events_ = 0;
  ReplicationStatus status_;
  Code last_logged_code_ = Code::kOk;
  int64_t last_logged_us_ = 0;
  uint64_t suppressed_ = 0;
};

}  // namespace aura::backup
