#include "backup/compactor.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "backup/segment_io.h"
#include "backup/spool.h"
#include "backup/wal_segment.h"
#include "common/bytes.h"
#include "common/file_io.h"

namespace aura::backup {

namespace {

constexpr int64_t kGraceUs = 5'000'000;

// Inputs of one window: segments of one generation and level, contiguous in txid.
struct Window {
  uint64_t generation = 0;
  int64_t index = 0;  // window number: last commit / window length
  std::vector<SegmentRef> inputs;
};

bool Contiguous(const std::vector<SegmentRef>& s) {
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i].first_txid != s[i - 1].last_txid + 1) return false;
  }
  return !s.empty();
}

}  // namespace

Compactor::Compactor(std::shared_ptr<Repository> repo, std::string database,
                     std::string scratch_dir, const Clock* clock)
    : repo_(std::move(repo)),
      database_(std::move(database)),
      scratch_dir_(std::move(scratch_dir)),
      clock_(clock != nullptr ? clock : &SystemClock::Instance()),
      cache_(scratch_dir_ + "/cache"),
      last_upload_seen_us_(ToUnixMicros(clock_->Now())) {}

void Compactor::Adopt(const std::string& spooled_path, const SegmentHeader& header) {
  SegmentRef ref{database_, header.generation, 0, header.first_txid, header.last_txid, 0};
  const bool cached = cache_.Adopt(spooled_path, ref);
  if (generation_ != 0 && header.generation != generation_) listed_ = false;  // rotation
  generation_ = header.generation;
  index_[ref.Name()] =
      Known{ref, std::make_pair(header.first_commit_us, header.last_commit_us), cached};
}

Result<int> Compactor::RunIfDue(uint64_t segments_uploaded) {
  const int64_t now = ToUnixMicros(clock_->Now());
  if (segments_uploaded != uploads_seen_) {
    uploads_seen_ = segments_uploaded;
    last_upload_seen_us_ = now;
  }
  constexpr int64_t kBusyEveryUs = 10'000'000, kQuietEveryUs = 300'000'000;
  const int64_t settle_us =
      std::chrono::duration_cast<std::chrono::microseconds>(kCompactionLevels[2].window).count() +
      kGraceUs + kQuietEveryUs;
  const int64_t since_run = now - last_run_us_;
  const bool due = !ran_ || (uploads_seen_ != uploads_at_last_run_ && since_run >= kBusyEveryUs) ||
                   (since_run >= kQuietEveryUs && now - last_upload_seen_us_ <= settle_us);
  if (!due) return 0;
  ran_ = true;
  last_run_us_ = now;
  uploads_at_last_run_ = uploads_seen_;
  return Run();
}

// The index from one listing; what it already knew (commit times) is kept, and cached copies of
// segments the target no longer has (pruned, or merged and deleted) are removed.
Status Compactor::Load() {
  AURA_ASSIGN_OR_RETURN(std::vector<SegmentRef> segs, repo_->ListSegments(database_));
  std::map<std::string, Known> fresh;
  for (const SegmentRef& s : segs) {
    auto it = index_.find(s.Name());
    fresh[s.Name()] = Known{s, it != index_.end() ? it->second.times : std::nullopt, false};
  }
  for (const SegmentRef& c : cache_.Scan(database_)) {
    auto it = fresh.find(c.Name());
    if (it != fresh.end()) {
      it->second.cached = true;
    } else {
      cache_.Remove(c);
    }
  }
  index_ = std::move(fresh);
  listed_ = true;
  return Status::Ok();
}

Result<std::pair<int64_t, int64_t>> Compactor::CommitTimes(Known& k) {
  if (k.times) return *k.times;
  if (auto path = cache_.Find(k.ref)) {
    auto h = ReadSpooledHeader(*path);
    if (h.ok()) return *(k.times = std::make_pair(h->first_commit_us, h->last_commit_us));
  }
  AURA_ASSIGN_OR_RETURN(auto t, SegmentCommitTimes(*repo_, k.ref));
  return *(k.times = t);
}

Status Compactor::Read(const SegmentRef& s, const Sink& sink) {
  if (auto path = cache_.Find(s)) return ReadSegmentFile(*path, sink, 0);
  return ReadSegment(*repo_, s, sink);
}

Result<SegmentHeader> Compactor::Header(const SegmentRef& s) {
  if (auto path = cache_.Find(s)) {
    auto h = ReadSpooledHeader(*path);
    if (h.ok()) return h;
  }
  return ReadSegmentHeader(*repo_, s);
}

Result<int> Compactor::Run() {
  ++runs_;
  if (!listed_) AURA_RETURN_IF_ERROR(Load());
  int written = 0;
  const int64_t now = ToUnixMicros(clock_->Now());
  for (const CompactionLevel& level : kCompactionLevels) {
    std::vector<SegmentRef> merged;  // inputs now in an output of this level
    Status s = CompactLevel(level, now, &written, &merged);
    // What was merged is forgotten even when a later window failed.
    AURA_RETURN_IF_ERROR(Forget(merged, level.level));
    AURA_RETURN_IF_ERROR(s);
  }
  DropStaleCopies(now);
  return written;
}

// Merges the closed windows of `level`; `done` receives the inputs that an output of this level
// now holds (merged now, or by an earlier run).
Status Compactor::CompactLevel(const CompactionLevel& level, int64_t now, int* written,
                               std::vector<SegmentRef>* done) {
  const int64_t window_us =
      std::chrono::duration_cast<std::chrono::microseconds>(level.window).count();
  std::map<std::pair<uint64_t, int64_t>, Window> windows;
  std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> outputs;  // generation -> spans
  for (const auto& [name, k] : index_) {
    if (k.ref.level == level.level)
      outputs[k.ref.generation].emplace_back(k.ref.first_txid, k.ref.last_txid);
  }
  auto covered = [&](const SegmentRef& s) {
    for (const auto& [first, last] : outputs[s.generation])
      if (first <= s.first_txid && s.last_txid <= last) return true;
    return false;
  };
  for (auto& [name, k] : index_) {
    if (k.ref.level != level.level - 1) continue;
    if (covered(k.ref)) {
      done->push_back(k.ref);
      continue;
    }
    AURA_ASSIGN_OR_RETURN(auto t, CommitTimes(k));
    Window& w = windows[{k.ref.generation, t.second / window_us}];
    w.generation = k.ref.generation;
    w.index = t.second / window_us;
    w.inputs.push_back(k.ref);
  }
  for (auto& [key, w] : windows) {
    if ((w.index + 1) * window_us + kGraceUs > now) continue;  // still open
    std::sort(w.inputs.begin(), w.inputs.end(),
              [](const SegmentRef& a, const SegmentRef& b) { return a.first_txid < b.first_txid; });
    if (!Contiguous(w.inputs)) continue;
    AURA_RETURN_IF_ERROR(Merge(w.inputs, level));
    ++*written;
    done->insert(done->end(), w.inputs.begin(), w.inputs.end());
  }
  return Status::Ok();
}

// Inputs merged at `level`: level-0 ones are deleted from the target (one batch) and the index;
// of the others (kept for point-in-time restores) only the cached copy goes.
Status Compactor::Forget(const std::vector<SegmentRef>& merged, int level) {
  if (merged.empty()) return Status::Ok();
  const bool keep_transactions = level == kCompactionLevels[0].level;
  if (keep_transactions) {
    std::vector<std::string> names;
    for (const SegmentRef& in : merged) names.push_back(in.Name());
    AURA_RETURN_IF_ERROR(repo_->storage().DeleteMany(names));
  }
  for (const SegmentRef& in : merged) {
    auto it = index_.find(in.Name());
    if (it == index_.end()) continue;
    if (it->second.cached) cache_.Remove(in);
    it->second.cached = false;
    if (keep_transactions) index_.erase(it);
  }
  return Status::Ok();
}

// A cached copy whose window can no longer be merged (a hole in its txids) is not kept forever:
// after the longest window plus an hour it goes (the target still has the object).
void Compactor::DropStaleCopies(int64_t now) {
  const int64_t keep_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              kCompactionLevels[2].window + std::chrono::hours(1))
                              .count();
  for (auto& [name, k] : index_) {
    if (k.cached && k.times && k.times->second + keep_us < now) {
      cache_.Remove(k.ref);
      k.cached = false;
    }
  }
}

// A level that keeps transactions: the inputs' ones after another, each input's header dropped.
Status Compactor::Concatenate(const std::vector<SegmentRef>& inputs, const SegmentHeader& first,
                              SegmentHeader h, const Sink& write) {
  h.flags = 0;
  h.txn_count = 0;
  for (const SegmentRef& in : inputs) {
    AURA_ASSIGN_OR_RETURN(SegmentHeader ih, in.Name() == inputs.front().Name()
                                                ? Result<SegmentHeader>(first)
                                                : Header(in));
    h.txn_count += ih.txn_count;
  }
  AURA_RETURN_IF_ERROR(write(EncodeSegmentHeader(h)));
  for (const SegmentRef& in : inputs) {
    uint64_t seen = 0;  // skip each input's own header
    AURA_RETURN_IF_ERROR(Read(in, [&](std::span<const uint8_t> d) {
      size_t skip = static_cast<size_t>(std::min<uint64_t>(
          d.size(), kSegmentHeaderSize - std::min(seen, uint64_t{kSegmentHeaderSize})));
      seen += d.size();
      return write(d.subspan(skip));
    }));
  }
  return Status::Ok();
}

// A level that keeps pages only: one transaction with the newest copy of each page, gathered in a
// scratch file.
Status Compactor::KeepNewestPages(const std::vector<SegmentRef>& inputs, const SegmentHeader& last,
                                  SegmentHeader h, const Sink& write) {
  AURA_ASSIGN_OR_RETURN(TempFile scratch, TempFile::Create(scratch_dir_ + "/pages", 0600));
  std::map<uint32_t, uint64_t> newest;  // pgno -> offset in scratch
  uint64_t offset = 0;
  uint32_t db_pages = 0;
  for (const SegmentRef& in : inputs) {
    SegmentParser parser({nullptr, nullptr,
                          [&](uint32_t pgno, std::span<const uint8_t> page) -> Status {
                            AURA_RETURN_IF_ERROR(scratch.file().WriteAll(page));
                            newest[pgno] = offset;
                            offset += page.size();
                            return Status::Ok();
                          },
                          [&](const TxnHeader& t) {
                            db_pages = t.db_pages;
                            return Status::Ok();
                          }});
    AURA_RETURN_IF_ERROR(Read(in, [&](std::span<const uint8_t> d) { return parser.Feed(d); }));
    AURA_RETURN_IF_ERROR(parser.Finish().WithContext(in.Name()));
  }
  uint32_t count = 0;
  for (const auto& [pgno, off] : newest) count += pgno <= db_pages ? 1 : 0;
  h.flags = kSegmentCompacted;
  h.txn_count = 1;
  AURA_RETURN_IF_ERROR(write(EncodeSegmentHeader(h)));
  TxnHeader t{last.last_txid, last.last_commit_us, db_pages, count, last.checksum_after};
  AURA_RETURN_IF_ERROR(write(EncodeTxnHeader(t)));
  std::vector<uint8_t> rec(4 + h.page_size);
  for (const auto& [pgno, off] : newest) {
    if (pgno > db_pages) continue;
    PutLE32(rec.data(), pgno);
    AURA_ASSIGN_OR_RETURN(
        size_t n, scratch.file().ReadAt(off, std::span<uint8_t>(rec.data() + 4, h.page_size)));
    if (n != h.page_size) return IOError("compaction scratch file is short");
    AURA_RETURN_IF_ERROR(write(rec));
  }
  return Status::Ok();
}

// Builds the output's plaintext in the cache (it is the next level's input), then uploads it
// from there; the top level's copy is not kept.
Status Compactor::Merge(const std::vector<SegmentRef>& inputs, const CompactionLevel& level) {
  AURA_ASSIGN_OR_RETURN(SegmentHeader first, Header(inputs.front()));
  AURA_ASSIGN_OR_RETURN(SegmentHeader last, Header(inputs.back()));
  SegmentHeader h = last;
  h.first_txid = first.first_txid;
  h.checksum_before = first.checksum_before;
  h.first_commit_us = first.first_commit_us;
  SegmentRef out{database_, first.generation, level.level, first.first_txid, last.last_txid, 0};

  AURA_RETURN_IF_ERROR(CreatePrivateDirectories(scratch_dir_));
  AURA_ASSIGN_OR_RETURN(TempFile body, cache_.Begin(out));
  Sink to_file = [&](std::span<const uint8_t> d) { return body.file().WriteAll(d); };
  AURA_RETURN_IF_ERROR(level.keep_transactions ? Concatenate(inputs, first, h, to_file)
                                               : KeepNewestPages(inputs, last, h, to_file));
  AURA_ASSIGN_OR_RETURN(SegmentHeader written, ReadSpooledHeader(body.temp_path()));
  AURA_RETURN_IF_ERROR(WriteSegmentObject(
      *repo_, out, written, clock_->Now(),
      [&](const std::function<Status(std::span<const uint8_t>)>& write) -> Status {
        return ReadSegmentFile(body.temp_path(), write, kSegmentHeaderSize);
      }));
  const bool top = level.level == kCompactionLevels[std::size(kCompactionLevels) - 1].level;
  Known k{out, std::make_pair(written.first_commit_us, written.last_commit_us), false};
  if (!top) k.cached = cache_.Keep(std::move(body));
  index_[out.Name()] = k;
  spdlog::info("compact {}: level {} segment {} from {} input(s)", database_, level.level,
               out.Name(), inputs.size());
  return Status::Ok();
}

}  // namespace aura::backup
