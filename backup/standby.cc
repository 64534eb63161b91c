#include "backup/standby.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "backup/file_checksum.h"
#include "backup/pitr_restore.h"
#include "backup/segment_io.h"
#include "backup/wal_segment.h"
#include "common/bytes.h"
#include "common/clock.h"
#include "common/file_io.h"

namespace aura::backup {

namespace {

int64_t NowUs() { return ToUnixMicros(std::chrono::system_clock::now()); }

// The page size the database file's header names.
Result<uint32_t> FilePageSize(const std::string& path) {
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path));
  uint8_t head[100];
  AURA_ASSIGN_OR_RETURN(size_t n, f.ReadAt(0, head));
  if (n != sizeof head) return NotADatabase(path + " is too short to be a SQLite database");
  const uint32_t v = GetBE16(head + 16);
  return v == 1 ? 65536u : v;
}

// The database the standby follows: the one named, else the only one in the repository.
Result<std::string> PickDatabase(Repository& repo, const std::string& named) {
  if (!named.empty()) return named;
  AURA_ASSIGN_OR_RETURN(SnapshotRef latest, repo.LatestSnapshot(""));
  return latest.database;
}

// Builds the redo journal of one segment, checking every checksum it records against the
// standby's file without writing to it.
class SegmentPlanner {
 public:
  SegmentPlanner(const StandbyState& s, const SegmentRef& seg, File& f)
      : s_(s), seg_(seg), sum_(f, s.page_size, s.pages, s.checksum) {
    redo_.generation = s.generation;
    redo_.txid_before = redo_.txid_after = s.txid;
    redo_.checksum_after = s.checksum;
    redo_.commit_us_after = s.commit_us;
    redo_.page_size = s.page_size;
    redo_.min_pages = redo_.final_pages = s.pages;
  }

  Status Run(std::span<const uint8_t> plaintext) {
    SegmentParser::Callbacks cb;
    cb.on_header = [this](const SegmentHeader& h) { return OnHeader(h); };
    cb.on_txn = [this](const TxnHeader& t) {
      skipping_ = t.txid <= s_.txid;
      return Status::Ok();
    };
    cb.on_page = [this](uint32_t pgno, std::span<const uint8_t> page) {
      if (skipping_) return Status::Ok();
      redo_.pages[pgno].assign(page.begin(), page.end());
      return sum_.SetPage(pgno, page);
    };
    cb.on_txn_end = [this](const TxnHeader& t) { return OnTxnEnd(t); };
    SegmentParser parser(cb);
    AURA_RETURN_IF_ERROR(parser.Feed(plaintext));
    AURA_RETURN_IF_ERROR(parser.Finish().WithContext(seg_.Name()));
    if (redo_.txid_after == header_.last_txid && header_.checksum_after != sum_.value()) {
      return Refuse("the database after it differs from the source's (checksum after mismatch)");
    }
    redo_.checksum_after = sum_.value();
    return Status::Ok();
  }

  StandbyRedo& redo() { return redo_; }
  int64_t first_commit_us() const { return first_commit_us_; }

 private:
  Status Refuse(const std::string& why) const {
    return Corruption("WAL segment " + seg_.Name() + ": " + why +
                      "; refused, the standby stays at txid " + std::to_string(s_.txid));
  }
  Status OnHeader(const SegmentHeader& h) {
    header_ = h;
    if (h.page_size != s_.page_size || h.generation != s_.generation) {
      return Refuse("belongs to another database or generation");
    }
    if (h.first_txid > s_.txid && h.checksum_before != s_.checksum) {
      return Refuse("does not start from the standby's database (checksum before mismatch)");
    }
    return Status::Ok();
  }
  Status OnTxnEnd(const TxnHeader& t) {
    if (skipping_) {
      if (t.txid == s_.txid && t.checksum_after != 0 && t.checksum_after != s_.checksum) {
        return Refuse("its txid " + std::to_string(t.txid) +
                      " is not the database the standby holds (checksum mismatch)");
      }
      return Status::Ok();
    }
    AURA_RETURN_IF_ERROR(sum_.Resize(t.db_pages));
    redo_.min_pages = std::min(redo_.min_pages, t.db_pages);
    redo_.pages.erase(redo_.pages.upper_bound(t.db_pages), redo_.pages.end());
    redo_.final_pages = t.db_pages;
    if (t.checksum_after != 0 && t.checksum_after != sum_.value()) {
      return Refuse("txid " + std::to_string(t.txid) +
                    " does not produce the database the source had (checksum mismatch)");
    }
    if (first_commit_us_ == 0) first_commit_us_ = t.commit_us;
    redo_.txid_after = t.txid;
    redo_.commit_us_after = t.commit_us;
    return Status::Ok();
  }

  const StandbyState& s_;
  const SegmentRef& seg_;
  FileChecksum sum_;
  StandbyRedo redo_;
  SegmentHeader header_;
  bool skipping_ = false;
  int64_t first_commit_us_ = 0;
};

Status RemoveRedo(const std::string& db) {
  if (::unlink(StandbyRedoPath(db).c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, "remove", StandbyRedoPath(db));
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Standby>> Standby::Open(Repository& repo, const std::string& path,
                                               const StandbyOptions& o) {
  std::unique_ptr<Standby> sb(new Standby(repo, path, o));
  const bool new_lock_file = !PathExists(StandbyLockPath(path));
  auto lock = platform::FileLock::TryAcquire(StandbyLockPath(path));
  if (lock.status().code() == Code::kBusy) {
    auto note = ReadFileToString(StandbyLockPath(path), 4096);
    return Busy("standby " + path + " is already followed (" +
                (note.ok() ? *note : std::string("holder unknown")) +
                "); stop that follower first, or promote it with restore --promote --to " + path);
  }
  AURA_RETURN_IF_ERROR(lock.status());
  sb->lock_ = std::move(lock).value();
  AURA_RETURN_IF_ERROR(
      sb->lock_.Write("pid " + std::to_string(::getpid()) + ": " + o.holder + "\n"));
  auto state = ReadStandbyState(path);
  if (state.ok()) {
    if (!o.database.empty() && o.database != state->database) {
      return InvalidArgument("standby " + path + " follows database \"" + state->database +
                             "\", not \"" + o.database + "\"; choose another --to");
    }
    sb->state_ = std::move(state).value();
    Status rec = RecoverStandbyRedo(path, sb->state_);
    if (rec.code() == Code::kCorruption) {
      spdlog::warn("standby {}: {}; reseeding", path, rec.message());
      sb->state_.seeding = true;
      AURA_RETURN_IF_ERROR(RemoveRedo(path));
    } else {
      AURA_RETURN_IF_ERROR(rec);
    }
    if (sb->state_.seeding) AURA_RETURN_IF_ERROR(sb->Seed());
    return sb;
  }
  if (state.status().code() != Code::kNotFound) return state.status();
  // Refused before anything is written: the lock file this call created goes too.
  auto refuse = [&](Status s) {
    if (new_lock_file) sb->lock_.ReleaseAndRemove();
    return s;
  };
  if (PathExists(path) && !o.force) {
    return refuse(AlreadyExists(path +
                                " already exists and is not a standby; choose another --to, or "
                                "pass --force to replace it with the standby"));
  }
  auto database = PickDatabase(repo, o.database);
  if (!database.ok()) return refuse(database.status());
  sb->state_.database = *database;
  AURA_RETURN_IF_ERROR(sb->Seed());
  return sb;
}

Status Standby::Seed() {
  state_.seeding = true;
  AURA_RETURN_IF_ERROR(WriteStandbyState(path_, state_));
  PointInTime latest;
  AURA_ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(repo_, state_.database, latest));
  if (plan.generation == 0) {
    return InvalidArgument("database \"" + state_.database +
                           "\" has no WAL shipping in this repository (only snapshots); a "
                           "standby follows a database replicated with aura-agent replicate or "
                           "a continuous policy");
  }
  RestoreOptions ro;
  ro.force = true;
  ro.check = o_.seed_check;
  ro.threads = o_.threads;
  AURA_ASSIGN_OR_RETURN(RestoreResult r, RestoreToPlan(repo_, plan, path_, ro));
  AURA_ASSIGN_OR_RETURN(uint32_t ps, FilePageSize(path_));
  const auto pages = static_cast<uint32_t>(r.bytes / ps);
  AURA_ASSIGN_OR_RETURN(uint64_t sum, ChecksumDatabaseFile(path_, ps, pages, o_.threads));
  StandbyState s;
  s.database = state_.database;
  s.generation = plan.generation;
  s.txid = r.txid;
  s.checksum = sum;
  s.page_size = ps;
  s.pages = pages;
  s.applied_us = NowUs();
  AURA_RETURN_IF_ERROR(WriteStandbyState(path_, s));
  state_ = s;
  spdlog::info("standby {}: seeded from {} at txid {}", path_, r.source, s.txid);
  return Status::Ok();
}

Result<StandbyStep> Standby::Reseed(StandbyStep step, const std::string& why) {
  spdlog::warn("standby {}: {}; reseeding", path_, why);
  AURA_RETURN_IF_ERROR(Seed());
  step.reseeded = true;
  step.to_txid = step.newest_txid = state_.txid;
  return step;
}

Result<StandbyStep> Standby::CatchUp() {
  StandbyStep step;
  step.from_txid = step.to_txid = state_.txid;
  AURA_ASSIGN_OR_RETURN(std::vector<SegmentRef> segs, repo_.ListSegments(state_.database));
  uint64_t newest_gen = state_.generation;
  for (const SegmentRef& s : segs) {
    newest_gen = std::max(newest_gen, s.generation);
    if (s.generation == state_.generation) {
      step.newest_txid = std::max(step.newest_txid, s.last_txid);
    }
  }
  const auto new_generation = [&] {
    return "the source started generation " + GenerationName(newest_gen);
  };
  if (newest_gen > state_.generation) return Reseed(step, new_generation());
  if (step.newest_txid <= state_.txid) {
    step.newest_txid = std::max(step.newest_txid, state_.txid);
    AURA_ASSIGN_OR_RETURN(newest_gen, NewestSnapshotGeneration());
    if (newest_gen > state_.generation) return Reseed(step, new_generation());
    return step;
  }
  auto chain = SegmentChain(segs, state_.generation, state_.txid, step.newest_txid);
  if (chain.status().code() == Code::kNotFound) return Reseed(step, chain.status().message());
  AURA_RETURN_IF_ERROR(chain.status());
  for (const SegmentRef& seg : *chain) {
    AURA_RETURN_IF_ERROR(Apply(seg, step));
    ++step.segments;
  }
  step.to_txid = state_.txid;
  return step;
}

// A new generation can start with a snapshot and no segment yet (the source restarted and has
// not committed since): look at snapshots too, at the first catch-up and then at most every 30 s
// (a LIST, and one small GET per snapshot not seen before).
Result<uint64_t> Standby::NewestSnapshotGeneration() {
  const auto now = std::chrono::steady_clock::now();
  if (snapshots_checked_ && now - last_snapshot_check_ < std::chrono::seconds(30)) {
    return state_.generation;
  }
  snapshots_checked_ = true;
  last_snapshot_check_ = now;
  AURA_ASSIGN_OR_RETURN(std::vector<SnapshotRef> refs, repo_.ListSnapshots(state_.database));
  uint64_t newest = state_.generation;
  for (auto it = refs.rbegin(); it != refs.rend(); ++it) {
    if (it->id <= last_snapshot_seen_) break;
    AURA_ASSIGN_OR_RETURN(SnapshotSummary s, repo_.ReadSummary(*it));
    newest = std::max(newest, s.generation);
  }
  if (!refs.empty()) last_snapshot_seen_ = std::max(last_snapshot_seen_, refs.back().id);
  return newest;
}

Status Standby::Apply(const SegmentRef& seg, StandbyStep& step) {
  std::vector<uint8_t> plain;
  Status read = ReadSegment(repo_, seg, [&](std::span<const uint8_t> d) {
    plain.insert(plain.end(), d.begin(), d.end());
    return Status::Ok();
  });
  if (!read.ok()) {
    return Status(read.code(), "WAL segment " + seg.Name() + " refused (" + read.message() +
                                   "); the standby stays at txid " + std::to_string(state_.txid));
  }
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path_));
  SegmentPlanner planner(state_, seg, f);
  AURA_RETURN_IF_ERROR(planner.Run(plain));
  plain = {};
  StandbyRedo& redo = planner.redo();
  if (redo.txid_after == state_.txid) return Status::Ok();  // nothing past the standby in it
  AURA_RETURN_IF_ERROR(WriteStandbyRedo(path_, redo));
  AURA_RETURN_IF_ERROR(ApplyStandbyRedo(path_, redo));
  StandbyState next = state_;
  next.txid = redo.txid_after;
  next.checksum = redo.checksum_after;
  next.pages = redo.final_pages;
  next.commit_us = redo.commit_us_after;
  next.applied_us = NowUs();
  AURA_RETURN_IF_ERROR(WriteStandbyState(path_, next));
  state_ = next;
  AURA_RETURN_IF_ERROR(RemoveRedo(path_));
  if (step.first_commit_us == 0) step.first_commit_us = planner.first_commit_us();
  step.last_commit_us = redo.commit_us_after;
  return Status::Ok();
}

}  // namespace aura::backup
