#include "backup/compactor.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "backup/segment_io.h"
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
      last_upload_seen_us_(ToUnixMicros(clock_->Now())) {}

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

Result<std::pair<int64_t, int64_t>> Compactor::CommitTimes(const SegmentRef& s) {
  auto it = times_.find(s.Name());
  if (it != times_.end()) return it->second;
  AURA_ASSIGN_OR_RETURN(auto t, SegmentCommitTimes(*repo_, s));
  times_[s.Name()] = t;
  return t;
}

Result<int> Compactor::Run() {
  int written = 0;
  const int64_t now = ToUnixMicros(clock_->Now());
  for (const CompactionLevel& level : kCompactionLevels) {
    AURA_ASSIGN_OR_RETURN(std::vector<SegmentRef> segs, repo_->ListSegments(database_));
    const int64_t window_us =
        std::chrono::duration_cast<std::chrono::microseconds>(level.window).count();
    std::map<std::pair<uint64_t, int64_t>, Window> windows;
    std::set<std::tuple<uint64_t, uint64_t, uint64_t>> outputs;  // (generation, first, last)
    for (const SegmentRef& s : segs) {
      if (s.level == level.level) outputs.insert({s.generation, s.first_txid, s.last_txid});
      if (s.level != level.level - 1) continue;
      AURA_ASSIGN_OR_RETURN(auto t, CommitTimes(s));
      Window& w = windows[{s.generation, t.second / window_us}];
      w.generation = s.generation;
      w.index = t.second / window_us;
      w.inputs.push_back(s);
    }
    for (auto& [key, w] : windows) {
      if ((w.index + 1) * window_us + kGraceUs > now) continue;  // still open
      std::sort(w.inputs.begin(), w.inputs.end(), [](const SegmentRef& a, const SegmentRef& b) {
        return a.first_txid < b.first_txid;
      });
      if (!Contiguous(w.inputs)) continue;
      const bool exists =
          outputs.count({w.generation, w.inputs.front().first_txid, w.inputs.back().last_txid}) > 0;
      if (!exists) {
        AURA_RETURN_IF_ERROR(Merge(w.inputs, level));
        ++written;
      }
      if (level.keep_transactions) {
        // Everything in the inputs is now in the level-1 segment.
        for (const SegmentRef& in : w.inputs)
          AURA_RETURN_IF_ERROR(repo_->storage().Delete(in.Name()));
      }
    }
  }
  return written;
}

// A level that keeps transactions: the inputs' ones after another, each input's header dropped.
Status Compactor::Concatenate(const std::vector<SegmentRef>& inputs, const SegmentHeader& first,
                              SegmentHeader h, const SegmentRef& out) {
  h.flags = 0;
  h.txn_count = 0;
  for (const SegmentRef& in : inputs) {
    AURA_ASSIGN_OR_RETURN(SegmentHeader ih, in.Name() == inputs.front().Name()
                                                ? Result<SegmentHeader>(first)
                                                : ReadSegmentHeader(*repo_, in));
    h.txn_count += ih.txn_count;
  }
  AURA_RETURN_IF_ERROR(WriteSegmentObject(
      *repo_, out, h, clock_->Now(),
      [&](const std::function<Status(std::span<const uint8_t>)>& write) -> Status {
        for (const SegmentRef& in : inputs) {
          uint64_t seen = 0;  // skip each input's own header
          AURA_RETURN_IF_ERROR(ReadSegment(*repo_, in, [&](std::span<const uint8_t> d) {
            size_t skip = static_cast<size_t>(std::min<uint64_t>(
                d.size(), kSegmentHeaderSize - std::min(seen, uint64_t{kSegmentHeaderSize})));
            seen += d.size();
            return write(d.subspan(skip));
          }));
        }
        return Status::Ok();
      }));
  return Status::Ok();
}

// A level that keeps pages only: one transaction with the newest copy of each page, gathered in a
// scratch file.
Status Compactor::KeepNewestPages(const std::vector<SegmentRef>& inputs, const SegmentHeader& last,
                                  SegmentHeader h, const SegmentRef& out) {
  AURA_RETURN_IF_ERROR(CreateDirectories(scratch_dir_, 0700));
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
    AURA_RETURN_IF_ERROR(
        ReadSegment(*repo_, in, [&](std::span<const uint8_t> d) { return parser.Feed(d); }));
    AURA_RETURN_IF_ERROR(parser.Finish().WithContext(in.Name()));
  }
  uint32_t count = 0;
  for (const auto& [pgno, off] : newest) count += pgno <= db_pages ? 1 : 0;
  h.flags = kSegmentCompacted;
  h.txn_count = 1;
  TxnHeader t{last.last_txid, last.last_commit_us, db_pages, count, last.checksum_after};
  AURA_RETURN_IF_ERROR(WriteSegmentObject(
      *repo_, out, h, clock_->Now(),
      [&](const std::function<Status(std::span<const uint8_t>)>& write) -> Status {
        auto th = EncodeTxnHeader(t);
        AURA_RETURN_IF_ERROR(write(th));
        std::vector<uint8_t> rec(4 + h.page_size);
        for (const auto& [pgno, off] : newest) {
          if (pgno > db_pages) continue;
          PutLE32(rec.data(), pgno);
          AURA_ASSIGN_OR_RETURN(
              size_t n,
              scratch.file().ReadAt(off, std::span<uint8_t>(rec.data() + 4, h.page_size)));
          if (n != h.page_size) return IOError("compaction scratch file is short");
          AURA_RETURN_IF_ERROR(write(rec));
        }
        return Status::Ok();
      }));
  return Status::Ok();
}

Status Compactor::Merge(const std::vector<SegmentRef>& inputs, const CompactionLevel& level) {
  AURA_ASSIGN_OR_RETURN(SegmentHeader first, ReadSegmentHeader(*repo_, inputs.front()));
  AURA_ASSIGN_OR_RETURN(SegmentHeader last, ReadSegmentHeader(*repo_, inputs.back()));
  SegmentHeader h = last;
  h.first_txid = first.first_txid;
  h.checksum_before = first.checksum_before;
  h.first_commit_us = first.first_commit_us;
  SegmentRef out{database_, first.generation, level.level, first.first_txid, last.last_txid, 0};

  AURA_RETURN_IF_ERROR(level.keep_transactions ? Concatenate(inputs, first, h, out)
                                               : KeepNewestPages(inputs, last, h, out));
  spdlog::info("compact {}: level {} segment {} from {} input(s)", database_, level.level,
               out.Name(), inputs.size());
  return Status::Ok();
}

}  // namespace aura::backup
