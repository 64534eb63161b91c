#include "backup/pitr_restore.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "backup/db_checksum.h"
#include "backup/file_checksum.h"
#include "backup/object_codec.h"
#include "backup/segment_io.h"
#include "backup/wal_segment.h"

namespace aura::backup {

namespace {

struct SnapInfo {
  SnapshotRef ref;
  SnapshotSummary summary;
};

struct Catalog {
  std::vector<SnapInfo> snaps;  // oldest first
  std::vector<SegmentRef> segs;
  // Per generation: lowest snapshot txid and highest txid reachable.
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> gens;
};

Result<Catalog> LoadCatalog(Repository& repo, const std::string& database) {
  Catalog c;
  AURA_ASSIGN_OR_RETURN(std::vector<SnapshotRef> refs, repo.ListSnapshots(database));
  for (const SnapshotRef& r : refs) {
    AURA_ASSIGN_OR_RETURN(SnapshotSummary s, repo.ReadSummary(r));
    c.snaps.push_back({r, s});
    if (s.generation == 0) continue;
    auto it = c.gens.find(s.generation);
    if (it == c.gens.end()) {
      c.gens[s.generation] = {s.txid, s.txid};
    } else {
      it->second.first = std::min(it->second.first, s.txid);
      it->second.second = std::max(it->second.second, s.txid);
    }
  }
  AURA_ASSIGN_OR_RETURN(c.segs, repo.ListSegments(database));
  for (const SegmentRef& s : c.segs) {
    auto it = c.gens.find(s.generation);
    if (it != c.gens.end()) it->second.second = std::max(it->second.second, s.last_txid);
  }
  return c;
}

bool PerTxn(const SegmentRef& s) { return s.level <= 1; }

// Streams a segment's plaintext through a parser.
Status ParseSegment(Repository& repo, const SegmentRef& s, SegmentParser& parser) {
  AURA_RETURN_IF_ERROR(
      ReadSegment(repo, s, [&](std::span<const uint8_t> d) { return parser.Feed(d); }));
  return parser.Finish().WithContext(s.Name());
}

// The last txid of generation `gen` committed at or before `t`; 0 if none.
Result<uint64_t> LastTxidAtOrBefore(Repository& repo, const Catalog& c, uint64_t gen, int64_t t) {
  std::vector<SegmentRef> segs;
  for (const SegmentRef& s : c.segs) {
    if (s.generation == gen && PerTxn(s)) segs.push_back(s);
  }
  std::sort(segs.begin(), segs.end(),
            [](const SegmentRef& a, const SegmentRef& b) { return a.first_txid < b.first_txid; });
  // Binary search for the last segment whose first commit is at or before t.
  size_t lo = 0, hi = segs.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    AURA_ASSIGN_OR_RETURN(auto times, SegmentCommitTimes(repo, segs[mid]));
    if (times.first <= t)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return uint64_t{0};
  const SegmentRef& s = segs[lo - 1];
  AURA_ASSIGN_OR_RETURN(auto times, SegmentCommitTimes(repo, s));
  if (times.second <= t) return s.last_txid;
  uint64_t found = 0;
  SegmentParser* self = nullptr;
  SegmentParser parser({nullptr,
                        [&](const TxnHeader& h) {
                          if (h.commit_us > t)
                            self->Stop();
                          else
                            found = h.txid;
                          return Status::Ok();
                        },
                        nullptr, nullptr});
  self = &parser;
  AURA_RETURN_IF_ERROR(ParseSegment(repo, s, parser));
  return found;
}

std::string Ranges(const Catalog& c) {
  std::string out;
  for (const auto& [g, r] : c.gens) {
    out += (out.empty() ? "" : ", ") + std::to_string(r.first) + ".." + std::to_string(r.second);
  }
  return out.empty() ? "none" : out;
}

// When the newest replicated generation's last transaction was observed (microseconds): its
// newest segment's last commit, or its newest snapshot's time when it has no segment.
Result<int64_t> WalEndTime(Repository& repo, const Catalog& c, uint64_t generation) {
  const SegmentRef* newest = nullptr;
  for (const SegmentRef& s : c.segs) {
    if (s.generation == generation && (newest == nullptr || s.last_txid > newest->last_txid)) {
      newest = &s;
    }
  }
  int64_t end = 0;
  for (const SnapInfo& s : c.snaps) {
    if (s.summary.generation == generation) end = std::max(end, ToUnixMicros(s.summary.created));
  }
  if (newest == nullptr) return end;
  AURA_ASSIGN_OR_RETURN(auto times, SegmentCommitTimes(repo, *newest));
  return std::max(end, times.second);
}

// --latest: the newest state over all snapshots and segments. The end of the newest generation's
// WAL, unless a snapshot outside it was taken after its last transaction (shipping stopped while
// the application kept writing, or the WAL is gone): then that snapshot holds newer data. True
// when the WAL end is the newest; plan.why says what was chosen and why either way.
Result<bool> ChooseLatest(Repository& repo, const Catalog& c, RestorePlan& plan) {
  const uint64_t generation = c.gens.rbegin()->first;
  const uint64_t end_txid = c.gens.rbegin()->second.second;
  AURA_ASSIGN_OR_RETURN(int64_t end_us, WalEndTime(repo, c, generation));
  const std::string wal_end = "the last replicated transaction (txid " + std::to_string(end_txid) +
                              ", observed " + FormatRfc3339(FromUnixMicros(end_us), 3) + ")";
  const SnapInfo& newest = c.snaps.back();  // sorted by time; a generation starts with one
  if (newest.summary.generation != generation && ToUnixMicros(newest.summary.created) > end_us) {
    plan.why = "snapshot " + newest.ref.id + " (taken " + FormatRfc3339(newest.summary.created, 3) +
               ") is newer than " + wal_end;
    plan.passed_over.push_back("WAL of generation " + GenerationName(generation) + " up to txid " +
                               std::to_string(end_txid) + ": older than snapshot " + newest.ref.id);
    return false;
  }
  plan.generation = generation;
  plan.target_txid = end_txid;
  plan.why = wal_end + " is the newest state; no snapshot was taken after it";
  return true;
}

// --latest must not quietly restore older data: WAL segments of a generation that started after
// `chosen` was taken, whose starting snapshot is gone, hold newer transactions no restore can
// reach. Fails naming them and the newest restorable point (which --snapshot restores).
Status NoNewerOrphanWal(const Catalog& c, const SnapInfo& chosen) {
  for (const SegmentRef& s : c.segs) {
    if (c.gens.count(s.generation)) continue;
    if (int64_t(s.generation) <= ToUnixMicros(chosen.summary.created)) continue;
    return Corruption("the WAL of generation " + GenerationName(s.generation) + " (e.g. " +
                      s.Name() + ") holds transactions newer than snapshot " + chosen.ref.id +
                      ", but no snapshot of that generation is left to restore them from (run "
                      "aura-agent verify); the newest restorable state is snapshot " +
                      chosen.ref.id + ": restore it with --snapshot " + chosen.ref.id);
  }
  return Status::Ok();
}

Status ChooseTarget(Repository& repo, const Catalog& c, const PointInTime& point,
                    RestorePlan& plan) {
  switch (point.kind) {
    case PointInTime::Kind::kLatest: {
      if (c.gens.empty()) break;
      AURA_ASSIGN_OR_RETURN(bool wal_is_newest, ChooseLatest(repo, c, plan));
      if (wal_is_newest) return Status::Ok();
      break;  // a plain snapshot is newer than anything replicated
    }
    case PointInTime::Kind::kTxid:
      for (auto it = c.gens.rbegin(); it != c.gens.rend(); ++it) {
        if (it->second.first <= point.txid && point.txid <= it->second.second) {
          plan.generation = it->first;
          plan.target_txid = point.txid;
          return Status::Ok();
        }
      }
      return NotFound("txid " + std::to_string(point.txid) +
                      " is not covered by any replicated generation (covered: " + Ranges(c) + ")");
    case PointInTime::Kind::kTime: {
      const int64_t t = ToUnixMicros(point.time);
      for (auto it = c.gens.rbegin(); it != c.gens.rend(); ++it) {
        uint64_t first_snapshot_txid = it->second.first;
        bool started = false;
        for (const SnapInfo& s : c.snaps) {
          if (s.summary.generation == it->first && ToUnixMicros(s.summary.created) <= t) {
            started = true;
          }
        }
        if (!started) continue;
        AURA_ASSIGN_OR_RETURN(uint64_t txid, LastTxidAtOrBefore(repo, c, it->first, t));
        plan.generation = it->first;
        plan.target_txid = std::max(txid, first_snapshot_txid);
        return Status::Ok();
      }
      break;
    }
  }
  // No replicated generation reaches the point: plain snapshots only.
  const SnapInfo* best = nullptr;
  for (const SnapInfo& s : c.snaps) {
    if (point.kind == PointInTime::Kind::kTime && s.summary.created > point.time) continue;
    if (point.kind == PointInTime::Kind::kTxid) continue;
    best = &s;
  }
  if (best == nullptr) {
    return NotFound("no snapshot of '" +
                    (c.snaps.empty() ? std::string("?") : c.snaps[0].ref.database) +
                    "' at or before the requested point");
  }
  if (point.kind == PointInTime::Kind::kLatest) AURA_RETURN_IF_ERROR(NoNewerOrphanWal(c, *best));
  plan.base = best->ref;
  plan.generation = 0;
  return Status::Ok();
}

Status ChooseChain(const Catalog& c, RestorePlan& plan) {
  const SnapInfo* base = nullptr;
  for (const SnapInfo& s : c.snaps) {
    if (s.summary.generation == plan.generation && s.summary.txid <= plan.target_txid) base = &s;
  }
  if (base == nullptr) {
    return NotFound("no snapshot of generation " + GenerationName(plan.generation) +
                    " at or before txid " + std::to_string(plan.target_txid));
  }
  plan.base = base->ref;
  plan.base_txid = base->summary.txid;
  uint64_t p = plan.base_txid;
  while (p < plan.target_txid) {
    const SegmentRef* pick = nullptr;
    for (const SegmentRef& s : c.segs) {
      if (s.generation != plan.generation || s.first_txid != p + 1) continue;
      if (!PerTxn(s) && s.last_txid > plan.target_txid) continue;  // compacted: end only
      bool better =
          pick == nullptr ||
          (std::min(s.last_txid, plan.target_txid) > std::min(pick->last_txid, plan.target_txid)) ||
          (std::min(s.last_txid, plan.target_txid) == std::min(pick->last_txid, plan.target_txid) &&
           s.level > pick->level);
      if (better) pick = &s;
    }
    if (pick == nullptr) {
      return NotFound("the WAL segment after txid " + std::to_string(p) + " of generation " +
                      GenerationName(plan.generation) +
                      " is missing from the repository; restore to txid " + std::to_string(p) +
                      " or earlier");
    }
    plan.chain.push_back(*pick);
    p = std::min(pick->last_txid, plan.target_txid);
  }
  return Status::Ok();
}

// Applies the chain to the restored base in `f`, verifying every checksum on the way.
// A chain that breaks still proved every transaction before the broken segment: say which, so
// the operator can restore that point explicitly instead of nothing (or, silently, older data).
Status WithNewestIntact(const Status& s, uint64_t intact) {
  if (s.code() != Code::kCorruption && s.code() != Code::kNotFound) return s;
  const std::string t = std::to_string(intact);
  return Status(s.code(), s.message() + "; the newest point restorable before it is txid " + t +
                              " (restore it explicitly with --txid " + t + ")");
}

// Writes one page of a segment into the file being restored, keeping its checksum current.
Status WritePage(File& f, FileChecksum& sum, uint32_t ps, uint32_t pgno,
                 std::span<const uint8_t> page) {
  AURA_RETURN_IF_ERROR(sum.SetPage(pgno, page));  // reads the old page first
  if (::pwrite(f.fd(), page.data(), page.size(), off_t{pgno - 1} * ps) !=
      static_cast<ssize_t>(page.size())) {
    return ErrnoStatus(errno, "write", f.path());
  }
  return Status::Ok();
}

Status ApplyChain(Repository& repo, const RestorePlan& plan, const Manifest& base, File& f) {
  const uint32_t ps = base.summary.page_size;
  if (!base.replication) {
    return Corruption("snapshot " + plan.base.id +
                      " does not carry the database checksum its WAL segments start from");
  }
  FileChecksum sum(f, ps, static_cast<uint32_t>(base.summary.page_count),
                   base.replication->db_checksum);
  uint64_t intact = plan.base_txid;  // the newest txid the chain has proven so far
  for (const SegmentRef& seg : plan.chain) {
    uint64_t checksum_after = 0, header_last = 0, applied = 0;
    SegmentParser* self = nullptr;
    SegmentParser::Callbacks cb;
    cb.on_header = [&](const SegmentHeader& h) -> Status {
      checksum_after = h.checksum_after;
      header_last = h.last_txid;
      if (h.page_size != ps || h.generation != plan.generation) {
        return Corruption(seg.Name() + ": belongs to another database or generation");
      }
      if (h.checksum_before != sum.value()) {
        return Corruption(seg.Name() +
                          ": does not start from the database the chain has built "
                          "(checksum before mismatch)");
      }
      return Status::Ok();
    };
    cb.on_txn = [&](const TxnHeader& t) -> Status {
      if (t.txid > plan.target_txid) self->Stop();
      return Status::Ok();
    };
    cb.on_page = [&](uint32_t pgno, std::span<const uint8_t> page) {
      return WritePage(f, sum, ps, pgno, page);
    };
    cb.on_txn_end = [&](const TxnHeader& t) -> Status {
      AURA_RETURN_IF_ERROR(sum.Resize(t.db_pages));  // hashes dropped pages before truncating
      if (::ftruncate(f.fd(), off_t{t.db_pages} * ps) != 0) {
        return ErrnoStatus(errno, "truncate", f.path());
      }
      if (t.checksum_after != 0 && t.checksum_after != sum.value()) {
        return Corruption(seg.Name() + ": txid " + std::to_string(t.txid) +
                          " does not produce the database the source had (checksum mismatch)");
      }
      applied = t.txid;
      if (t.txid == plan.target_txid) self->Stop();
      return Status::Ok();
    };
    SegmentParser parser(cb);
    self = &parser;
    Status s = ParseSegment(repo, seg, parser);
    if (s.ok() && applied == header_last && checksum_after != sum.value()) {
      s = Corruption(seg.Name() +
                     ": the database after it differs from the source's (checksum after mismatch)");
    }
    if (!s.ok()) return WithNewestIntact(s, intact);
    if (applied == header_last) intact = header_last;
  }
  return Status::Ok();
}

}  // namespace

Result<RestorePlan> PlanRestore(Repository& repo, const std::string& database,
                                const PointInTime& point) {
  AURA_ASSIGN_OR_RETURN(Catalog c, LoadCatalog(repo, database));
  RestorePlan plan;
  AURA_RETURN_IF_ERROR(ChooseTarget(repo, c, point, plan));
  if (plan.generation != 0) AURA_RETURN_IF_ERROR(ChooseChain(c, plan));
  return plan;
}

std::string DescribeChoice(const RestorePlan& plan) {
  std::string out = plan.why;
  for (const std::string& p : plan.passed_over) out += (out.empty() ? "" : "; not used: ") + p;
  return out;
}

Result<RestoreResult> RestoreToPoint(Repository& repo, const std::string& database,
                                     const PointInTime& point, const std::string& target,
                                     const RestoreOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  AURA_RETURN_IF_ERROR(CheckRestoreTarget(target, o.force));
  AURA_ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(repo, database, point));
  RestoreResult result;
  Manifest base;
  AURA_ASSIGN_OR_RETURN(TempFile temp,
                        RestoreSnapshotToTemp(repo, plan.base, target, o.threads, &base, &result));
  if (!plan.chain.empty()) {
    AURA_RETURN_IF_ERROR(ApplyChain(repo, plan, base, temp.file()));
    AURA_ASSIGN_OR_RETURN(result.bytes, temp.file().Size());
    result.sha256.clear();  // the chain is verified by database checksums instead
  }
  result.source = plan.base.database + "/" + plan.base.id;
  if (plan.generation != 0) {
    result.source += " + " + std::to_string(plan.chain.size()) + " WAL segment(s) to txid " +
                     std::to_string(plan.target_txid);
  }
  result.txid = plan.target_txid;
  result.why = DescribeChoice(plan);
  AURA_RETURN_IF_ERROR(FinishRestore(temp, target, o, result));
  result.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  return result;
}

}  // namespace aura::backup
