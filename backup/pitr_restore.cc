#include "backup/pitr_restore.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
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

Result<std::vector<SegmentRef>> ChainFrom(const Catalog& c, uint64_t gen, uint64_t from,
                                          uint64_t target) {
  return SegmentChain(c.segs, gen, from, target);
}

// Bytes a restore from snapshot `s` fetches for the snapshot itself: its own objects and those of
// every base it is an increment of.
uint64_t SnapshotBytes(const Catalog& c, const SnapInfo& s) {
  uint64_t bytes = 0;
  const SnapInfo* cur = &s;
  for (int depth = 0; cur != nullptr && depth < 10000; ++depth) {
    bytes += cur->summary.stored_size;
    if (cur->summary.base.empty()) break;
    const SnapInfo* base = nullptr;
    for (const SnapInfo& o : c.snaps) base = o.ref.id == cur->summary.base ? &o : base;
    cur = base;
  }
  return bytes;
}

// The cheapest path to plan.target_txid: over every snapshot of the generation at or before it
// (policy snapshots included), the one whose own bytes plus its chain's are fewest; the newest
// on a tie. Snapshots in `exclude` (found damaged) are passed over.
Status ChooseChain(const Catalog& c, RestorePlan& plan, const std::set<std::string>& exclude) {
  std::optional<Status> first_error;
  uint64_t best_cost = 0;
  bool found = false;
  for (auto it = c.snaps.rbegin(); it != c.snaps.rend(); ++it) {
    const SnapInfo& s = *it;
    if (s.summary.generation != plan.generation || s.summary.txid > plan.target_txid) continue;
    if (exclude.count(s.ref.id)) continue;
    auto chain = ChainFrom(c, plan.generation, s.summary.txid, plan.target_txid);
    if (!chain.ok()) {
      if (!first_error) first_error = chain.status();
      continue;
    }
    uint64_t cost = SnapshotBytes(c, s);
    for (const SegmentRef& seg : *chain) cost += seg.size;
    if (found && cost >= best_cost) continue;
    found = true;
    best_cost = cost;
    plan.base = s.ref;
    plan.base_txid = s.summary.txid;
    plan.chain = std::move(chain).value();
    plan.bytes = cost;
  }
  if (found) return Status::Ok();
  if (first_error) return *first_error;
  return NotFound("no snapshot of generation " + GenerationName(plan.generation) +
                  " at or before txid " + std::to_string(plan.target_txid) +
                  (exclude.empty() ? "" : " that is not damaged"));
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

// Applies one segment of a chain to the file, verifying every checksum on the way. Transactions
// up to `skip_through` (the base snapshot's txid, when the segment is entered mid-way) are read
// but not applied; the last of them must leave the database the snapshot holds.
class SegmentApplier {
 public:
  SegmentApplier(const RestorePlan& plan, const SegmentRef& seg, File& f, FileChecksum& sum,
                 uint32_t ps, uint64_t skip_through)
      : plan_(plan), seg_(seg), f_(f), sum_(sum), ps_(ps), skip_through_(skip_through) {}

  // The last txid applied (or proven, when skipped) once the segment is parsed.
  Status Run(Repository& repo) {
    SegmentParser::Callbacks cb;
    cb.on_header = [this](const SegmentHeader& h) { return OnHeader(h); };
    cb.on_txn = [this](const TxnHeader& t) { return OnTxn(t); };
    cb.on_page = [this](uint32_t pgno, std::span<const uint8_t> page) {
      return skipping_ ? Status::Ok() : WritePage(f_, sum_, ps_, pgno, page);
    };
    cb.on_txn_end = [this](const TxnHeader& t) { return OnTxnEnd(t); };
    SegmentParser parser(cb);
    parser_ = &parser;
    AURA_RETURN_IF_ERROR(ParseSegment(repo, seg_, parser));
    if (applied_ == header_last_ && checksum_after_ != sum_.value()) {
      return Corruption(seg_.Name() +
                        ": the database after it differs from the source's (checksum after "
                        "mismatch)");
    }
    return Status::Ok();
  }
  bool complete() const { return applied_ == header_last_; }

 private:
  Status OnHeader(const SegmentHeader& h) {
    checksum_after_ = h.checksum_after;
    header_last_ = h.last_txid;
    if (h.page_size != ps_ || h.generation != plan_.generation) {
      return Corruption(seg_.Name() + ": belongs to another database or generation");
    }
    if (h.first_txid > skip_through_ && h.checksum_before != sum_.value()) {
      return Corruption(seg_.Name() +
                        ": does not start from the database the chain has built (checksum "
                        "before mismatch)");
    }
    return Status::Ok();
  }
  Status OnTxn(const TxnHeader& t) {
    skipping_ = t.txid <= skip_through_;
    if (t.txid > plan_.target_txid) parser_->Stop();
    return Status::Ok();
  }
  Status OnTxnEnd(const TxnHeader& t) {
    if (skipping_) {
      if (t.txid == skip_through_ && t.checksum_after != 0 && t.checksum_after != sum_.value()) {
        return Corruption("snapshot " + plan_.base.id + " does not hold the database of txid " +
                          std::to_string(t.txid) + " in " + seg_.Name() + " (checksum mismatch)");
      }
      applied_ = t.txid;
      return Status::Ok();
    }
    AURA_RETURN_IF_ERROR(sum_.Resize(t.db_pages));  // hashes dropped pages before truncating
    if (::ftruncate(f_.fd(), off_t{t.db_pages} * ps_) != 0) {
      return ErrnoStatus(errno, "truncate", f_.path());
    }
    if (t.checksum_after != 0 && t.checksum_after != sum_.value()) {
      return Corruption(seg_.Name() + ": txid " + std::to_string(t.txid) +
                        " does not produce the database the source had (checksum mismatch)");
    }
    applied_ = t.txid;
    if (t.txid == plan_.target_txid) parser_->Stop();
    return Status::Ok();
  }

  const RestorePlan& plan_;
  const SegmentRef& seg_;
  File& f_;
  FileChecksum& sum_;
  const uint32_t ps_;
  const uint64_t skip_through_;
  SegmentParser* parser_ = nullptr;
  bool skipping_ = false;
  uint64_t checksum_after_ = 0, header_last_ = 0, applied_ = 0;
};

Status ApplyChain(Repository& repo, const RestorePlan& plan, const Manifest& base, File& f,
                  Progress& progress) {
  const uint32_t ps = base.summary.page_size;
  if (!base.replication) {
    return Corruption("snapshot " + plan.base.id +
                      " does not carry the database checksum its WAL segments start from");
  }
  FileChecksum sum(f, ps, static_cast<uint32_t>(base.summary.page_count),
                   base.replication->db_checksum);
  uint64_t intact = plan.base_txid;  // the newest txid the chain has proven so far
  for (const SegmentRef& seg : plan.chain) {
    SegmentApplier applier(plan, seg, f, sum, ps, plan.base_txid);
    Status s = applier.Run(repo);
    if (!s.ok()) return WithNewestIntact(s, intact);
    if (applier.complete()) intact = seg.last_txid;
    progress.Add(seg.size);
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<SegmentRef>> SegmentChain(const std::vector<SegmentRef>& segs, uint64_t gen,
                                             uint64_t from, uint64_t target) {
  std::vector<SegmentRef> chain;
  uint64_t p = from;
  while (p < target) {
    const SegmentRef* pick = nullptr;
    for (const SegmentRef& s : segs) {
      if (s.generation != gen || s.first_txid > p + 1 || s.last_txid <= p) continue;
      if (s.first_txid != p + 1 && !PerTxn(s)) continue;  // a compacted one only as a whole
      if (!PerTxn(s) && s.last_txid > target) continue;   // compacted: restores to its end only
      const uint64_t reach = std::min(s.last_txid, target);
      const uint64_t pick_reach = pick ? std::min(pick->last_txid, target) : 0;
      if (pick == nullptr || reach > pick_reach || (reach == pick_reach && s.level > pick->level)) {
        pick = &s;
      }
    }
    if (pick == nullptr) {
      return NotFound("the WAL segment after txid " + std::to_string(p) + " of generation " +
                      GenerationName(gen) + " is missing from the repository; restore to txid " +
                      std::to_string(p) + " or earlier");
    }
    chain.push_back(*pick);
    p = std::min(pick->last_txid, target);
  }
  return chain;
}

Result<RestorePlan> PlanRestore(Repository& repo, const std::string& database,
                                const PointInTime& point, const std::set<std::string>& exclude) {
  AURA_ASSIGN_OR_RETURN(Catalog c, LoadCatalog(repo, database));
  RestorePlan plan;
  AURA_RETURN_IF_ERROR(ChooseTarget(repo, c, point, plan));
  if (plan.generation == 0) return plan;
  AURA_RETURN_IF_ERROR(ChooseChain(c, plan, exclude));
  plan.why += (plan.why.empty() ? "txid " + std::to_string(plan.target_txid) : std::string()) +
              "; the cheapest path to it: snapshot " + plan.base.id + " (txid " +
              std::to_string(plan.base_txid) + ") + " + std::to_string(plan.chain.size()) +
              " WAL segment(s), " + std::to_string(plan.bytes) + " bytes";
  return plan;
}

std::string DescribeChoice(const RestorePlan& plan) {
  std::string out = plan.why;
  for (const std::string& p : plan.passed_over) out += (out.empty() ? "" : "; not used: ") + p;
  return out;
}

namespace {

// Restores `plan` into `target`. `base_failed` tells whether a failure came from the base snapshot
// (damaged or missing: another path may avoid it) rather than from the WAL chain or the target.
Result<RestoreResult> RestorePlanned(Repository& repo, const RestorePlan& plan,
                                     const std::string& target, const RestoreOptions& o,
                                     bool* base_failed) {
  RestoreResult result;
  Manifest base;
  Progress& progress = ProgressOr(o.progress);
  progress.Start("restore", 0);  // restarts when a damaged base sends the restore another way
  for (const SegmentRef& seg : plan.chain) progress.AddTotal(seg.size);
  auto temp = RestoreSnapshotToTemp(repo, plan.base, target, o.threads, &base, &result, o.progress);
  *base_failed = !temp.ok();
  if (!temp.ok()) return temp.status();
  if (!plan.chain.empty()) {
    AURA_RETURN_IF_ERROR(ApplyChain(repo, plan, base, temp->file(), progress));
    AURA_ASSIGN_OR_RETURN(result.bytes, temp->file().Size());
    result.sha256.clear();  // the chain is verified by database checksums instead
  }
  result.source = plan.base.database + "/" + plan.base.id;
  if (plan.generation != 0) {
    result.source += " + " + std::to_string(plan.chain.size()) + " WAL segment(s) to txid " +
                     std::to_string(plan.target_txid);
  }
  result.txid = plan.target_txid;
  result.why = DescribeChoice(plan);
  AURA_RETURN_IF_ERROR(FinishRestore(*temp, target, o, result));
  return result;
}

bool OtherPathMayHelp(const Status& s) {
  return s.code() == Code::kCorruption || s.code() == Code::kNotFound;
}

}  // namespace

Result<RestoreResult> RestoreToPlan(Repository& repo, const RestorePlan& plan,
                                    const std::string& target, const RestoreOptions& o) {
  AURA_RETURN_IF_ERROR(CheckRestoreTarget(target, o.force));
  bool base_failed = false;
  return RestorePlanned(repo, plan, target, o, &base_failed);
}

Result<RestoreResult> RestoreToPoint(Repository& repo, const std::string& database,
                                     const PointInTime& point, const std::string& target,
                                     const RestoreOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  AURA_RETURN_IF_ERROR(CheckRestoreTarget(target, o.force));
  std::set<std::string> damaged;
  std::vector<std::string> passed_over;
  for (;;) {
    AURA_ASSIGN_OR_RETURN(RestorePlan plan, PlanRestore(repo, database, point, damaged));
    plan.passed_over.insert(plan.passed_over.end(), passed_over.begin(), passed_over.end());
    bool base_failed = false;
    auto r = RestorePlanned(repo, plan, target, o, &base_failed);
    if (r.ok()) {
      r->duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - t0)
                           .count();
      return r;
    }
    const bool retry = o.other_paths_on_damage && base_failed && plan.generation != 0 &&
                       OtherPathMayHelp(r.status()) && !damaged.count(plan.base.id);
    if (!retry) return r.status();
    spdlog::warn("restore: snapshot {} is unusable ({}); trying the next cheapest path",
                 plan.base.id, r.status().message());
    damaged.insert(plan.base.id);
    passed_over.push_back("snapshot " + plan.base.id + ": " + r.status().message());
  }
}

}  // namespace aura::backup
