// VerifyRepository's WAL part: every segment at every level, then the chains through them.
#include <map>
#include <optional>
#include <set>

#include "backup/segment_io.h"
#include "backup/wal_segment.h"
#include "integrity/verify.h"

namespace aura::integrity {

using backup::SegmentHeader;
using backup::SegmentRef;

namespace {

struct SoundSegment {
  SegmentRef ref;
  SegmentHeader header;
};

// Authenticates and parses one segment; its header when it is sound.
Result<SegmentHeader> CheckSegment(backup::Repository& repo, const SegmentRef& s, uint64_t& bytes) {
  SegmentHeader header;
  backup::SegmentParser parser({[&](const SegmentHeader& h) {
                                  header = h;
                                  return Status::Ok();
                                },
                                nullptr, nullptr, nullptr});
  AURA_RETURN_IF_ERROR(backup::ReadSegment(repo, s, [&](std::span<const uint8_t> d) {
    bytes += d.size();
    return parser.Feed(d);
  }));
  AURA_RETURN_IF_ERROR(parser.Finish());
  return header;
}

void Add(VerifyReport& report, const std::string& object, const std::string& kind,
         const std::string& message) {
  report.bad.push_back({object, Corruption(object + ": " + message), kind});
}

// Two segments of one level must not cover overlapping, different ranges.
void CheckOverlaps(const std::vector<SoundSegment>& segs, VerifyReport& report) {
  std::map<int, const SoundSegment*> last_of_level;
  for (const SoundSegment& s : segs) {  // sorted by (level, first_txid)
    auto it = last_of_level.find(s.ref.level);
    if (it != last_of_level.end()) {
      const SegmentRef& prev = it->second->ref;
      if (s.ref.first_txid <= prev.last_txid) {
        Add(report, s.ref.Name(), "overlap",
            "covers transactions " + std::to_string(s.ref.first_txid) + ".." +
                std::to_string(s.ref.last_txid) + ", overlapping " + prev.Name());
      }
    }
    last_of_level[s.ref.level] = &s;
  }
}

// The per-transaction levels (0 and 1) must have no hole between their first and last segment: a
// point-in-time restore to a transaction inside one needs it (a compacted level restores only to
// the end of its window).
void CheckPerTransactionLevels(const std::vector<SoundSegment>& segs, VerifyReport& report) {
  std::map<int, const SoundSegment*> last_of_level;
  for (const SoundSegment& s : segs) {  // sorted by (level, first_txid)
    if (s.ref.level > 1) continue;
    auto it = last_of_level.find(s.ref.level);
    if (it != last_of_level.end() && s.ref.first_txid > it->second->ref.last_txid + 1) {
      Add(report, s.ref.Name(), "gap",
          "level " + std::to_string(s.ref.level) + " holds no segment with transactions " +
              std::to_string(it->second->ref.last_txid + 1) + ".." +
              std::to_string(s.ref.first_txid - 1) +
              ": point-in-time restores to them are impossible");
    }
    last_of_level[s.ref.level] = &s;
  }
}

// Walks the chains of one generation from its snapshots: which transactions a restore reaches.
void CheckChains(uint64_t generation, const std::vector<SnapshotPosition>& positions,
                 const std::vector<SoundSegment>& segs, VerifyReport& report) {
  std::multimap<uint64_t, const SoundSegment*> starting_at;  // first_txid -> segment
  uint64_t newest = 0;
  for (const SoundSegment& s : segs) {
    starting_at.emplace(s.ref.first_txid, &s);
    newest = std::max(newest, s.ref.last_txid);
  }
  std::set<std::pair<uint64_t, uint64_t>> seen;  // (txid, database checksum) reached
  std::vector<std::pair<uint64_t, uint64_t>> todo;
  for (const SnapshotPosition& p : positions) {
    if (p.generation == generation && seen.insert({p.txid, p.db_checksum}).second) {
      todo.emplace_back(p.txid, p.db_checksum);
    }
  }
  uint64_t reached = 0;
  std::map<const SoundSegment*, uint64_t> misfits;  // starts at a reached txid, wrong checksum
  while (!todo.empty()) {
    auto [txid, checksum] = todo.back();
    todo.pop_back();
    reached = std::max(reached, txid);
    auto [from, to] = starting_at.equal_range(txid + 1);
    for (auto it = from; it != to; ++it) {
      const SegmentHeader& h = it->second->header;
      if (h.checksum_before != checksum) {
        misfits.emplace(it->second, txid);
        continue;
      }
      misfits.erase(it->second);
      if (seen.insert({h.last_txid, h.checksum_after}).second) {
        todo.emplace_back(h.last_txid, h.checksum_after);
      }
    }
  }
  for (const auto& [s, txid] : misfits) {
    if (seen.count({s->header.last_txid, s->header.checksum_after})) continue;  // reached anyway
    Add(report, s->ref.Name(), "out-of-sequence",
        "does not continue the database as it was at txid " + std::to_string(txid) +
            " (its checksum before differs): reordered or substituted");
  }
  if (reached >= newest) return;
  const SoundSegment* first_lost = nullptr;
  for (const SoundSegment& s : segs) {
    if (s.ref.last_txid > reached &&
        (first_lost == nullptr || s.ref.first_txid < first_lost->ref.first_txid)) {
      first_lost = &s;
    }
  }
  Add(report, first_lost->ref.Name(), "gap",
      "generation " + backup::GenerationName(generation) + ": transactions " +
          std::to_string(reached + 1) + ".." + std::to_string(newest) +
          (reached == 0
               ? " have no snapshot to start from"
               : " cannot be restored: the chain breaks after txid " + std::to_string(reached)));
}

}  // namespace

Result<std::optional<ObjectProblem>> VerifySegmentObject(backup::Repository& repo,
                                                         const SegmentRef& s, uint64_t& bytes,
                                                         SegmentHeader* header_out) {
  auto header = CheckSegment(repo, s, bytes);
  if (header.status().code() == Code::kKeyError) return header.status();
  if (!header.ok()) {
    return std::optional<ObjectProblem>(
        ObjectProblem{s.Name(), header.status().WithContext(s.Name()), "damaged"});
  }
  if (header->generation != s.generation || header->first_txid != s.first_txid ||
      header->last_txid != s.last_txid) {
    const std::string what = "holds generation " + backup::GenerationName(header->generation) +
                             " transactions " + std::to_string(header->first_txid) + ".." +
                             std::to_string(header->last_txid) + ", not what its name says";
    return std::optional<ObjectProblem>(
        ObjectProblem{s.Name(), Corruption(s.Name() + ": " + what), "mislabeled"});
  }
  if (header_out != nullptr) *header_out = *header;
  return std::optional<ObjectProblem>();
}

Status VerifyWal(backup::Repository& repo, const std::string& database,
                 const std::vector<SnapshotPosition>& positions, VerifyReport& report,
                 Progress* progress) {
  AURA_ASSIGN_OR_RETURN(std::vector<SegmentRef> refs, repo.ListSegments(database));
  std::map<uint64_t, std::vector<SoundSegment>> by_generation;
  for (const SegmentRef& s : refs) {
    ++report.segments;
    ++report.objects;
    SegmentHeader header;
    AURA_ASSIGN_OR_RETURN(std::optional<ObjectProblem> problem,
                          VerifySegmentObject(repo, s, report.bytes, &header));
    ProgressOr(progress).Add(s.size);
    if (problem) {
      report.bad.push_back(std::move(*problem));
      continue;
    }
    by_generation[s.generation].push_back({s, header});
  }
  for (const auto& [generation, segs] : by_generation) {
    CheckOverlaps(segs, report);
    CheckPerTransactionLevels(segs, report);
    CheckChains(generation, positions, segs, report);
  }
  return Status::Ok();
}

}  // namespace aura::integrity
