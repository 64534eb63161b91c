#include "backup/replicator.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "backup/snapshot.h"

namespace aura::backup {

// The state to return to if the open segment cannot be completed (disk full, I/O error): the
// transactions in it are read again from the WAL, which still holds them because the read lock
// has not moved since.
struct Replicator::Undo {
  FollowPosition pos;
  uint64_t last_txid = 0;
  uint32_t pages = 0;
  uint32_t db_pages = 0;
  std::vector<std::pair<uint32_t, uint64_t>> old_hashes;
};

Replicator::Replicator(ReplicatorOptions options, std::shared_ptr<Repository> repo)
    : opts_(std::move(options)),
      repo_(std::move(repo)),
      clock_(opts_.clock != nullptr ? opts_.clock : &SystemClock::Instance()) {
  status_.database = opts_.database;
}

Replicator::~Replicator() = default;

Status Replicator::Start() {
  // The database first: a refused one (missing, not WAL) must leave no spool beside it.
  AURA_ASSIGN_OR_RETURN(follower_, WalFollower::Open(opts_.db_path, opts_.busy_timeout_ms));
  page_buf_.resize(follower_->page_size());
  const bool new_spool = !PathExists(opts_.spool_dir);
  Status s = OpenSpool();
  if (s.ok()) {
    last_refresh_ = std::chrono::steady_clock::now();
    s = Resume();
  }
  if (!s.ok()) {
    follower_.reset();
    if (new_spool) RemoveNewSpool();
  }
  return s;
}

Status Replicator::OpenSpool() {
  AURA_RETURN_IF_ERROR(CreatePrivateDirectories(opts_.spool_dir));
  // The spool and its generation folders durable where they are, at each start: spooled_txid
  // promises that what is spooled survives a power cut. Regression (power-cut tests): the spool
  // folder's own name was never fsynced into its parent, so a power cut could take the whole
  // spool with transactions the replicator had reported spooled and moved the WAL lock past.
  AURA_RETURN_IF_ERROR(SyncDirectory(opts_.spool_dir));
  AURA_RETURN_IF_ERROR(SyncFolderChain(opts_.spool_dir));
  for (const std::string& g : ListDirectory(opts_.spool_dir)) {
    uint64_t gen = 0;
    if (ParseGenerationName(g, &gen))
      AURA_RETURN_IF_ERROR(SyncDirectory(opts_.spool_dir + "/" + g));
  }
  // One replicator per spool: two would ship the same transactions twice and delete each
  // other's segments. The lock file's lock (flock on POSIX) is independent of SQLite's locks.
  const std::string lock_path = opts_.spool_dir + "/lock";
  Result<platform::FileLock> lock = platform::FileLock::TryAcquire(lock_path);
  if (!lock.ok() && lock.status().code() == Code::kBusy) {
    return Busy("another aura-agent is already replicating " + opts_.db_path + " (spool " +
                opts_.spool_dir + " is locked); stop it first");
  }
  AURA_RETURN_IF_ERROR(lock.status());
  spool_lock_ = std::move(*lock);
  return ListSpool(opts_.spool_dir, /*clean=*/true).status();
}

// Removes the lock file and the spool folder a failed Start created, when nothing else is in it
// (what a failed first start wrote into it is of no use to the next one either way).
void Replicator::RemoveNewSpool() {
  if (spool_lock_.held()) spool_lock_.ReleaseAndRemove();
  ::rmdir(opts_.spool_dir.c_str());
}

void Replicator::RecordError(const Status& s) {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = NowUs();
  // One line per kind of problem, then at most one every 10 s while it lasts.
  if (s.code() != last_logged_code_ || now - last_logged_us_ >= 10'000'000) {
    spdlog::error("replicate {}: {}{}", opts_.database, s.message(),
                  suppressed_ > 0 ? " (" + std::to_string(suppressed_) + " more since)" : "");
    last_logged_code_ = s.code();
    last_logged_us_ = now;
    suppressed_ = 0;
  } else {
    ++suppressed_;
  }
  status_.last_error = s.message();
  status_.last_error_us = now;
}

Status Replicator::ConsumeTxn(const WalTxn& txn, bool catch_up) {
  // Keep segments bounded even when a poll finds a large backlog (after an outage), so each
  // fits in the spool and uploads on its own.
  if (builder_ && !catch_up && builder_->bytes() >= opts_.segment_max_bytes) {
    AURA_RETURN_IF_ERROR(CutSegment());
  }
  if (!builder_) {
    std::vector<SpooledSegment> spooled;
    AURA_ASSIGN_OR_RETURN(spooled, ListSpool(opts_.spool_dir));
    uint64_t bytes = SpoolBytes(spooled);
    if (bytes > opts_.spool_max_bytes) {
      return IOError("spool " + opts_.spool_dir + " is full (" + std::to_string(bytes) +
                     " bytes, limit " + std::to_string(opts_.spool_max_bytes) +
                     "): uploads are failing; shipping is paused and the WAL is kept until "
                     "they succeed");
    }
    undo_ = std::make_unique<Undo>(Undo{pos_, last_txid_, checksum_.pages(), db_pages_, {}});
    AURA_ASSIGN_OR_RETURN(
        builder_,
        SegmentBuilder::Start(opts_.spool_dir, generation_, follower_->page_size(), last_txid_ + 1,
                              catch_up_before_.value_or(checksum_.value())));
    builder_started_ = std::chrono::steady_clock::now();
  }
  std::vector<std::pair<uint32_t, uint64_t>> pages;
  for (const auto& pf : txn.page_frames) {
    if (pf.first <= txn.db_pages) pages.push_back(pf);
  }
  const size_t ps = follower_->page_size();
  // A transaction of up to 1 MiB of pages is read from the WAL once, for both passes.
  const bool kept = !catch_up && pages.size() * ps <= (size_t{1} << 20);
  if (kept) txn_buf_.resize(pages.size() * ps);
  auto page_at = [&](size_t i) {
    return kept ? std::span<uint8_t>(txn_buf_).subspan(i * ps, ps) : std::span<uint8_t>(page_buf_);
  };
  // Pass 1: the checksum after the transaction (its header comes before its pages).
  if (!catch_up) AURA_RETURN_IF_ERROR(HashTxnPages(txn.db_pages, pages, page_at));
  TxnHeader h{last_txid_ + 1, NowUs(), txn.db_pages, static_cast<uint32_t>(pages.size()),
              catch_up ? 0 : checksum_.value()};
  AURA_RETURN_IF_ERROR(builder_->BeginTxn(h));
  for (size_t i = 0; i < pages.size(); ++i) {
    if (!kept) AURA_RETURN_IF_ERROR(follower_->ReadFramePage(pages[i].second, page_buf_));
    AURA_RETURN_IF_ERROR(builder_->AddPage(pages[i].first, page_at(i)));
  }
  // A fleet's databases each keep their buffer: not one left at the size of a rare big one.
  if (txn_buf_.capacity() > (size_t{64} << 10)) std::vector<uint8_t>().swap(txn_buf_);
  ++last_txid_;
  db_pages_ = txn.db_pages;
  last_commit_us_ = h.commit_us;
  return Status::Ok();
}

Status Replicator::HashTxnPages(uint32_t db_pages,
                                const std::vector<std::pair<uint32_t, uint64_t>>& pages,
                                const std::function<std::span<uint8_t>(size_t)>& page_at) {
  for (size_t i = 0; i < pages.size(); ++i) {
    AURA_RETURN_IF_ERROR(follower_->ReadFramePage(pages[i].second, page_at(i)));
    const uint32_t pgno = pages[i].first;
    if (pgno <= checksum_.pages()) undo_->old_hashes.emplace_back(pgno, checksum_.hash(pgno));
    checksum_.SetPage(pgno, page_at(i));
  }
  for (uint32_t p = db_pages + 1; p <= checksum_.pages(); ++p) {
    undo_->old_hashes.emplace_back(p, checksum_.hash(p));
  }
  checksum_.Resize(db_pages);
  return Status::Ok();
}

void Replicator::Rollback() {
  if (!undo_) return;
  builder_.reset();  // deletes the temp file
  pos_ = undo_->pos;
  last_txid_ = undo_->last_txid;
  db_pages_ = undo_->db_pages;
  // The hashes first, newest change undone first, and the page count last: a page the segment
  // added and then changed has a recorded hash, and putting it back after the resize grew the
  // checksum by that page again (regression: ARolledBackSegmentThatGrewTheDatabaseBrokeTheChain).
  for (auto it = undo_->old_hashes.rbegin(); it != undo_->old_hashes.rend(); ++it) {
    checksum_.SetPageHash(it->first, it->second);
  }
  checksum_.Resize(undo_->pages);
  undo_.reset();
}

Status Replicator::CutSegment() {
  if (!builder_) return Status::Ok();
  SegmentHeader tail;
  tail.last_txid = last_txid_;
  tail.checksum_after = checksum_.value();
  tail.db_pages = db_pages_;
  tail.last_commit_us = last_commit_us_;
  tail.wal_salt1 = pos_.salt1;
  tail.wal_salt2 = pos_.salt2;
  tail.wal_frame = pos_.frame;
  tail.wal_checksum = pos_.checksum;
  auto spooled = builder_->Finish(tail);
  if (!spooled.ok()) {
    Rollback();
    return spooled.status().WithContext("spool segment");
  }
  builder_.reset();
  undo_.reset();
  catch_up_before_.reset();
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.pending_txns += last_txid_ - spooled->first_txid + 1;
    status_.spool_segments += 1;
    status_.spool_bytes += spooled->size;
    status_.spooled_txid = last_txid_;
    status_.last_commit_us = last_commit_us_;
    status_.generation = generation_;
    ++spooled_events_;
  }
  spooled_cv_.notify_all();
  return Status::Ok();
}

void Replicator::WaitForSpooled(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t seen = spooled_events_;
  spooled_cv_.wait_for(lock, timeout, [&] { return spooled_events_ != seen; });
}

Status Replicator::PollOnce(bool* gap, bool catch_up) {
  auto outcome = follower_->Poll(pos_, pos_under_lock_,
                                 [&](const WalTxn& t) { return ConsumeTxn(t, catch_up); });
  if (!outcome.ok()) return outcome.status();
  *gap = *outcome == WalFollower::Outcome::kGap;
  no_wal_ = *outcome == WalFollower::Outcome::kNoWal;
  if (!*gap && !no_wal_) pos_under_lock_ = true;
  return Status::Ok();
}

Status Replicator::Step() {
  if (!follower_) return InternalError("Replicator::Step before Start");
  const auto now = std::chrono::steady_clock::now();
  const bool segment_due = builder_ && now - builder_started_ >= opts_.segment_max_age;
  if (!follower_->Changed() && !segment_due && !retry_ &&
      now - last_refresh_ < std::chrono::milliseconds(250)) {
    return Status::Ok();
  }
  retry_ = false;
  bool gap = false;
  Status s = PollOnce(&gap, false);
  if (s.ok() && gap) {
    s = CutSegment();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++status_.gaps_detected;
    }
    if (s.ok()) s = StartGeneration("the WAL was reset by another process");
  }
  const int64_t max_age_us = int64_t{opts_.generation_max_age.count()} * 1000000;
  if (s.ok() && max_age_us > 0 && NowUs() - static_cast<int64_t>(generation_) >= max_age_us &&
      NowUs() >= next_rotation_try_us_ && last_txid_ != generation_snapshot_txid_) {
    // (An idle database keeps its generation: there is no WAL to free.)
    Status g = StartGeneration("the generation reached generation_max_age", true);
    if (!g.ok()) {
      // Shipping goes on in the current generation; the fresh snapshot is tried again later.
      RecordError(g.WithContext("rotating the generation (retried in 10 minutes)"));
      next_rotation_try_us_ = NowUs() + 600 * int64_t{1000000};
    }
  }
  if (s.ok() && builder_ &&
      (now - builder_started_ >= opts_.segment_max_age ||
       builder_->bytes() >= opts_.segment_max_bytes)) {
    s = CutSegment();
  }
  if (!s.ok()) {
    Rollback();
    RecordError(s);
    retry_ = true;  // the WAL still holds what was not shipped: try again next step
    return s;
  }
  if (!builder_) {
    // Everything read is durable in the spool: the read lock may move on.
    AURA_RETURN_IF_ERROR(follower_->Refresh());
    last_refresh_ = now;
    Status c = MaybeCheckpoint();
    if (!c.ok()) RecordError(c);
  }
  return Status::Ok();
}

Status Replicator::Flush() {
  if (!follower_) return Status::Ok();
  bool gap = false;
  Status s = PollOnce(&gap, false);
  if (s.ok()) s = CutSegment();
  if (!s.ok()) Rollback();
  return s;
}

Status Replicator::MaybeCheckpoint() {
  // Nothing new since the last attempt (an idle database): checkpointing again would only
  // burn CPU and fsyncs.
  if (pos_ == last_checkpoint_pos_) return Status::Ok();
  const auto now = std::chrono::steady_clock::now();
  if (pos_.frame > opts_.checkpoint_pages &&
      now - last_checkpoint_try_ > std::chrono::milliseconds(250)) {
    last_checkpoint_try_ = now;
    // Under the write lock (taken without a long wait; busy: next time), so no writer can reset
    // the WAL while this checkpoint runs: SQLite's WAL-reset bug needs exactly that overlap
    // (docs/REPLICATION.md, "SQLite's WAL-reset bug").
    Status s = follower_->WithWriteLock([&]() -> Status {
      auto c = follower_->Checkpoint("PASSIVE", 0);
      if (!c.ok()) return c.status();
      spdlog::debug("replicate {}: PASSIVE checkpoint at frame {}: {} of {} frames backfilled{}",
                    opts_.database, pos_.frame, c->backfilled, c->wal_frames,
                    c->busy ? " (busy)" : "");
      return Status::Ok();
    });
    if (s.code() == Code::kBusy) return Status::Ok();  // a writer holds the lock: later
    if (!s.ok()) return s;
    last_checkpoint_pos_ = pos_;
  }
  if (pos_.frame > opts_.restart_pages && now - last_restart_try_ > std::chrono::seconds(1)) {
    last_restart_try_ = now;
    return RestartDance();
  }
  return Status::Ok();
}

Status Replicator::RestartDance() {
  spdlog::debug("replicate {}: WAL at frame {}: trying a restart", opts_.database, pos_.frame);
  Status s = follower_->WithWriteLock([&]() -> Status {
    bool gap = false;
    AURA_RETURN_IF_ERROR(PollOnce(&gap, false));
    if (gap) return Busy("WAL changed during restart attempt");
    AURA_RETURN_IF_ERROR(CutSegment());
    return follower_->CheckpointWithoutReadLock().status();
  });
  spdlog::debug("replicate {}: restart attempt: {}", opts_.database, s.ToString());
  if (s.code() == Code::kBusy) return Status::Ok();  // a writer is busy: try again later
  if (!s.ok()) Rollback();
  return s;
}

ReplicationStatus Replicator::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

std::string Replicator::StatusJson(TimePoint now) const {
  ReplicationStatus s = status();
  const int64_t now_us = ToUnixMicros(now);
  // Lag: how long the oldest commit not yet in the repository has been waiting; 0 when none.
  double lag = s.pending_txns > 0 && s.last_uploaded_commit_us > 0
                   ? (now_us - s.last_uploaded_commit_us) / 1e6
                   : 0.0;
  nlohmann::json j = {
      {"database", s.database},
      {"lag_seconds", lag},
      {"seconds_since_last_shipped_commit",
       s.last_uploaded_commit_us > 0 ? (now_us - s.last_uploaded_commit_us) / 1e6 : -1.0},
      {"generation", GenerationName(s.generation)},
      {"spooled_txid", s.spooled_txid},
      {"uploaded_txid", s.uploaded_txid},
      {"last_commit", s.last_commit_us},
      {"last_uploaded_commit", s.last_uploaded_commit_us},
      {"spool_bytes", s.spool_bytes},
      {"spool_segments", s.spool_segments},
      {"pending_txns", s.pending_txns},
      {"generations_started", s.generations_started},
      {"gaps_detected", s.gaps_detected},
      {"segments_uploaded", s.segments_uploaded},
      {"last_error", s.last_error}};
  return j.dump();
}

}  // namespace aura::backup
