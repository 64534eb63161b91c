// Replicator: resuming after a restart, starting generations, and uploading the spool.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "backup/database_image.h"
#include "backup/object_codec.h"
#include "backup/replicator.h"
#include "backup/segment_cache.h"
#include "backup/segment_io.h"
#include "backup/snapshot.h"

namespace aura::backup {

namespace {

struct ResumePoint {
  uint64_t generation = 0;
  uint64_t txid = 0;
  uint64_t checksum = 0;
  uint32_t db_pages = 0;
  FollowPosition pos;
  std::string from;
  uint64_t uploaded_txid = 0;  // the newest txid of this generation in the repository
  std::optional<SnapshotSummary> generation_snapshot;
  bool newer_than(const ResumePoint& o) const {
    return std::tie(generation, txid) > std::tie(o.generation, o.txid);
  }
};

ResumePoint FromSegment(const SegmentHeader& h, std::string from) {
  return ResumePoint{h.generation,
                     h.last_txid,
                     h.checksum_after,
                     h.db_pages,
                     FollowPosition{h.wal_salt1, h.wal_salt2, h.wal_frame, h.wal_checksum},
                     std::move(from)};
}

ResumePoint FromEnd(ReplicatedEnd e) {
  ResumePoint p{e.point.generation, e.point.txid, e.point.db_checksum,
                e.db_pages,         e.pos,        std::move(e.from)};
  p.generation_snapshot = std::move(e.generation_snapshot);
  return p;
}

// The newest point replication reached: the last spooled segment, or the newest uploaded one or
// snapshot with a replication point, whichever is furthest.
Result<std::optional<ResumePoint>> FindResumePoint(Repository& repo, const std::string& database,
                                                   const std::string& spool_dir) {
  // What is resumed from must survive a power cut before anything is built on it. Regression
  // (power-cut tests): a generation snapshot whose manifest a killed run had renamed into place
  // but not synced was resumed from; a power cut took it, and the WAL shipped since had no base.
  // (The spool is made durable by OpenSpool.)
  AURA_RETURN_IF_ERROR(repo.storage().MakeDurable(database + "/"));
  std::optional<ResumePoint> best;
  AURA_ASSIGN_OR_RETURN(std::optional<ReplicatedEnd> end, FindReplicatedEnd(repo, database));
  if (end) best = FromEnd(std::move(*end));
  const std::optional<ResumePoint> uploaded = best;
  AURA_ASSIGN_OR_RETURN(std::vector<SpooledSegment> spooled, ListSpool(spool_dir));
  if (!spooled.empty()) {
    AURA_ASSIGN_OR_RETURN(SegmentHeader h, ReadSpooledHeader(spooled.back().path));
    ResumePoint p = FromSegment(h, spooled.back().path);
    if (!best || p.newer_than(*best)) best = std::move(p);
  }
  if (best && uploaded && uploaded->generation == best->generation) {
    best->uploaded_txid = uploaded->txid;
    best->generation_snapshot = uploaded->generation_snapshot;
  }
  return best;
}

// Per-page checksum of an image, read in 1 MiB blocks.
Result<DatabaseChecksum> ChecksumImage(DatabaseImage& img) {
  DatabaseChecksum c(img.page_size());
  const uint32_t ps = img.page_size();
  AURA_RETURN_IF_ERROR(img.ForEachBlock(1u << 20, [&](uint32_t first, std::vector<uint8_t>&& b) {
    for (size_t off = 0; off < b.size(); off += ps) {
      c.SetPage(first + static_cast<uint32_t>(off / ps),
                std::span<const uint8_t>(b.data() + off, ps));
    }
    return Status::Ok();
  }));
  c.Resize(img.page_count());
  return c;
}

}  // namespace

Result<std::optional<ReplicatedEnd>> FindReplicatedEnd(Repository& repo,
                                                       const std::string& database) {
  std::optional<ReplicatedEnd> best;
  auto consider = [&](ReplicatedEnd e) {
    if (!best || std::tie(e.point.generation, e.point.txid) >
                     std::tie(best->point.generation, best->point.txid)) {
      best = std::move(e);
    }
  };
  AURA_ASSIGN_OR_RETURN(std::vector<SegmentRef> segs, repo.ListSegments(database));
  const SegmentRef* newest = nullptr;  // of any level: compaction may have merged level 0 away
  for (const SegmentRef& s : segs) {
    if (newest == nullptr || std::tie(s.generation, s.last_txid, s.level) >
                                 std::tie(newest->generation, newest->last_txid, newest->level)) {
      newest = &s;
    }
  }
  if (newest != nullptr) {
    AURA_ASSIGN_OR_RETURN(SegmentHeader h, ReadSegmentHeader(repo, *newest));
    consider(ReplicatedEnd{{h.generation, h.last_txid, h.checksum_after},
                           FollowPosition{h.wal_salt1, h.wal_salt2, h.wal_frame, h.wal_checksum},
                           h.db_pages,
                           newest->Name()});
  }
  AURA_ASSIGN_OR_RETURN(std::vector<SnapshotRef> snaps, repo.ListSnapshots(database));
  for (auto it = snaps.rbegin(); it != snaps.rend(); ++it) {
    AURA_ASSIGN_OR_RETURN(SnapshotSummary summary, repo.ReadSummary(*it));  // no key needed
    if (summary.generation == 0) continue;
    AURA_ASSIGN_OR_RETURN(Manifest m, repo.ReadManifest(*it));
    if (!m.replication) continue;
    FollowPosition pos;
    if (m.wal) pos = FollowPosition{m.wal->salt1, m.wal->salt2, m.wal->frame, m.wal->checksum};
    consider(ReplicatedEnd{*m.replication, pos, static_cast<uint32_t>(m.summary.page_count),
                           it->ManifestName()});
    best->generation_snapshot = m.summary;
    break;  // older snapshots stand at older points
  }
  return best;
}

Status Replicator::Resume() {
  AURA_ASSIGN_OR_RETURN(auto rp, FindResumePoint(*repo_, opts_.database, opts_.spool_dir));
  if (!rp) return StartGeneration("first start");
  generation_ = rp->generation;
  last_txid_ = rp->txid;
  pos_ = rp->pos;
  db_pages_ = rp->db_pages;
  pos_under_lock_ = false;
  catch_up_before_ = rp->checksum;
  bool gap = false;
  Status s = PollOnce(&gap, /*catch_up=*/true);
  if (!s.ok()) {
    Rollback();
    return s;
  }
  if (gap || no_wal_) {
    // The WAL is not the one the position names (reset, truncated, or deleted when the
    // application closed). If the database file alone is exactly what was replicated last,
    // nothing was lost: the current WAL, if any, continues from it. Otherwise (more commits
    // were checkpointed while the agent was stopped) a new generation is needed. A checkpoint
    // racing with this read only makes the comparison fail: safe.
    pos_ = FollowPosition{};
    AURA_ASSIGN_OR_RETURN(auto img,
                          DatabaseImage::OpenAt(opts_.db_path, opts_.busy_timeout_ms, 0, 0, 0));
    AURA_ASSIGN_OR_RETURN(checksum_, ChecksumImage(*img));
    if (checksum_.value() != rp->checksum) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++status_.gaps_detected;
      }
      return StartGeneration(gap ? "the WAL was reset while the agent was stopped"
                                 : "the WAL was checkpointed away while the agent was stopped");
    }
    pos_under_lock_ = true;  // from here on, the follower's lock covers the position
  } else {
    // The page checksums as of the position reached: the follower's lock has not moved since
    // the poll, so no checkpoint has copied anything newer into the database file.
    AURA_ASSIGN_OR_RETURN(auto img, DatabaseImage::OpenAt(opts_.db_path, opts_.busy_timeout_ms,
                                                          pos_.salt1, pos_.salt2, pos_.frame));
    AURA_ASSIGN_OR_RETURN(checksum_, ChecksumImage(*img));
    if (!builder_ && checksum_.value() != rp->checksum) {
      return StartGeneration("the database no longer matches replicated txid " +
                             std::to_string(rp->txid));
    }
  }
  spdlog::info("replicate {}: resuming generation {} at txid {} (from {})", opts_.database,
               GenerationName(generation_), rp->txid, rp->from);
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.generation = generation_;
    status_.spooled_txid = rp->txid;
    status_.uploaded_txid = std::max(status_.uploaded_txid, rp->uploaded_txid);
    if (rp->generation_snapshot && rp->generation_snapshot->generation == generation_) {
      RecordGenerationSnapshot(*rp->generation_snapshot);
    }
  }
  return CutSegment();
}

// With mu_ held.
void Replicator::RecordGenerationSnapshot(const SnapshotSummary& s) {
  status_.generation_snapshot = s.snapshot;
  status_.generation_snapshot_created = s.created;
  status_.generation_snapshot_size = s.size;
  status_.generation_snapshot_stored = s.stored_size;
}

Status Replicator::StartGeneration(const std::string& why, bool routine) {
  if (builder_ && !CutSegment().ok()) Rollback();
  const uint64_t gen = std::max<uint64_t>(static_cast<uint64_t>(NowUs()), generation_ + 1);
  const uint64_t txid = last_txid_ + 1;
  spdlog::log(routine ? spdlog::level::info : spdlog::level::warn,
              "replicate {}: starting generation {} with a snapshot: {}", opts_.database,
              GenerationName(gen), why);
  SnapshotOptions so;
  so.database_name = opts_.database;
  so.label = "generation " + GenerationName(gen) + " start: " + why;
  so.busy_timeout_ms = opts_.busy_timeout_ms;
  so.clock = clock_;
  so.replication = ReplicationPoint{gen, txid, 0};
  so.checksum = &checksum_;
  auto snap = TakeSnapshot(opts_.db_path, *repo_, so);
  if (!snap.ok()) return snap.status().WithContext("generation snapshot of " + opts_.db_path);
  const Manifest& m = snap->manifest;
  pos_ = m.wal ? FollowPosition{m.wal->salt1, m.wal->salt2, m.wal->frame, m.wal->checksum}
               : FollowPosition{};
  pos_under_lock_ = true;  // the follower held its lock from before the snapshot's read
  generation_ = gen;
  last_txid_ = txid;
  generation_snapshot_txid_ = txid;
  db_pages_ = checksum_.pages();
  catch_up_before_.reset();
  std::lock_guard<std::mutex> lock(mu_);
  ++status_.generations_started;
  RecordGenerationSnapshot(m.summary);
  status_.generation = gen;
  status_.spooled_txid = txid;
  status_.uploaded_txid = txid;
  return Status::Ok();
}

Result<SnapshotResult> Replicator::SnapshotHere(SnapshotOptions o) {
  if (!follower_) return Unavailable("replication of " + opts_.database + " is not started");
  AURA_RETURN_IF_ERROR(Flush());
  if (pos_under_lock_ && pos_.frame > 0) {
    o.at = WalPosition{pos_.salt1, pos_.salt2, pos_.frame, pos_.checksum};
  }
  DatabaseChecksum image;
  o.checksum = &image;
  o.replication.reset();
  o.replication_if_equal = ReplicationPoint{generation_, last_txid_, checksum_.value()};
  AURA_ASSIGN_OR_RETURN(SnapshotResult r, TakeSnapshot(opts_.db_path, *repo_, o));
  if (!r.manifest.replication) {
    spdlog::warn(
        "replicate {}: snapshot {} does not equal replicated txid {} (its database checksum "
        "differs); it restores as it is, WAL segments cannot follow it",
        opts_.database, r.ref.id, last_txid_);
  }
  return r;
}

void Replicator::Close() {
  builder_.reset();
  follower_.reset();
  closed_ = true;
  spool_lock_ = platform::FileLock();
}

Status Replicator::Upload() {
  if (closed_) return Unavailable("replication of " + opts_.database + " was stopped");
  AURA_ASSIGN_OR_RETURN(std::vector<SpooledSegment> spooled, ListSpool(opts_.spool_dir));
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.spool_bytes = SpoolBytes(spooled);
    status_.spool_segments = spooled.size();
    status_.pending_txns = 0;
    for (const auto& s : spooled) status_.pending_txns += s.last_txid - s.first_txid + 1;
  }
  for (const SpooledSegment& seg : spooled) {
    Status s = UploadSegment(seg);
    if (!s.ok()) {
      RecordError(s);
      return s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    status_.spool_bytes -= std::min(status_.spool_bytes, seg.size);
    status_.spool_segments -= std::min<uint64_t>(status_.spool_segments, 1);
    status_.pending_txns -= std::min(status_.pending_txns, seg.last_txid - seg.first_txid + 1);
  }
  return Status::Ok();
}

Status Replicator::UploadSegment(const SpooledSegment& seg) {
  AURA_ASSIGN_OR_RETURN(SegmentHeader h, ReadSpooledHeader(seg.path));
  SegmentRef ref{opts_.database, h.generation, 0, h.first_txid, h.last_txid, 0};
  AURA_RETURN_IF_ERROR(WriteSegmentObject(
      *repo_, ref, h, clock_->Now(),
      [&](const std::function<Status(std::span<const uint8_t>)>& write) -> Status {
        // The header is written from `h`.
        return ReadSegmentFile(seg.path, write, kSegmentHeaderSize);
      }));
  if (keep_uploaded_) {
    keep_uploaded_(seg.path, h);
  } else {
    (void)RemoveFile(seg.path);
  }
  std::lock_guard<std::mutex> lock(mu_);
  status_.uploaded_txid = std::max(status_.uploaded_txid, h.last_txid);
  status_.last_uploaded_commit_us = h.last_commit_us;
  ++status_.segments_uploaded;
  return Status::Ok();
}

}  // namespace aura::backup
