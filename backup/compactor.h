// Compactor: merges small WAL segments into larger ones on time boundaries, so restores stay fast
// however long a generation runs.
//
// Levels (windows by the observed commit time of a segment's last transaction):
//   1: 30 s windows. Level-0 segments are concatenated, keeping every transaction (restores to
//      any txid still work), and the level-0 inputs are then deleted: fewer, larger objects.
//   2: 5 min windows and 3: 1 h windows. The segments of the level below are reduced to the
//      newest copy of each page (flag "compacted"): one record that restores to the window's last
//      txid only. The per-transaction level 1 is kept for point-in-time restores inside windows.
// A window is compacted once it is closed (its end plus a 5 s grace is in the past) and its inputs
// tile its txids without a hole; an output that already exists is left alone, so Run is
// idempotent and safe to repeat after a crash (inputs are deleted only after the output is
// committed). Level-0 inputs are deleted with one batch request per run (S3 DeleteObjects).
//
// Requests (an object store bills each one): the compactor never reads back what this agent
// wrote. It keeps an index of the database's segments, built by one listing at the first run
// and after Invalidate() (the replicator's generation rotation; a prune), and kept current by
// its own writes and by Adopt() of every uploaded level-0 segment. Inputs are read from a local
// cache (SegmentCache under `scratch_dir`/cache): the spooled files of uploaded level-0 segments
// and a copy of every level-1 and level-2 output, each removed once merged into the level
// above. Only a segment the cache does not hold (written by an earlier run whose cache is gone)
// is read from the target. In steady shipping a run makes no request unless a window closes:
// then one PUT per output and one batch DELETE.
//
// Memory: page images of a merge go through a scratch file; only a page-number -> offset map is
// kept in memory (12 bytes per distinct page). The index: about 200 bytes per segment.
//
// Thread-safety: one thread calls Adopt, Invalidate and Run (the uploader's); concurrent with the
// replicator's Step thread (it never touches level 0 windows that are still open).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backup/repository.h"
#include "backup/segment_cache.h"
#include "backup/wal_segment.h"
#include "common/clock.h"

namespace aura::backup {

struct CompactionLevel {
  int level;
  std::chrono::seconds window;
  bool keep_transactions;  // concatenate (true) or keep only the newest page copies (false)
};

inline constexpr CompactionLevel kCompactionLevels[] = {
    {1, std::chrono::seconds(30), true},
    {2, std::chrono::minutes(5), false},
    {3, std::chrono::hours(1), false},
};

class Compactor {
 public:
  Compactor(std::shared_ptr<Repository> repo, std::string database, std::string scratch_dir,
            const Clock* clock = nullptr);

  // Takes the spooled file of a level-0 segment just uploaded (moves it into the cache) and
  // records the segment in the index. A generation other than the last one seen lists again at
  // the next run.
  void Adopt(const std::string& spooled_path, const SegmentHeader& header);
  // Lists the target again at the next run (after a prune deleted segments).
  void Invalidate() { listed_ = false; }

  // Compacts every closed window; returns the number of segments written.
  Result<int> Run();

  // Run, but only when it may find work, for callers that ask continually: at the first call;
  // then at most every 10 s while segments are being uploaded (`segments_uploaded`, the
  // caller's running count, changed since the last run); then every 5 minutes until the last
  // upload is older than the longest window plus its grace, after which no window can close.
  // Otherwise returns 0 without touching the repository (an idle database costs no listing).
  Result<int> RunIfDue(uint64_t segments_uploaded);

  // How many times Run has been called (tests, diagnostics).
  uint64_t runs() const { return runs_; }

 private:
  using Sink = std::function<Status(std::span<const uint8_t>)>;
  struct Known {
    SegmentRef ref;
    std::optional<std::pair<int64_t, int64_t>> times;  // first and last commit, once learnt
    bool cached = false;                               // a copy is in cache_
  };

  Status Load();
  Result<std::pair<int64_t, int64_t>> CommitTimes(Known& k);
  Status Read(const SegmentRef& s, const Sink& sink);
  Result<SegmentHeader> Header(const SegmentRef& s);
  Status CompactLevel(const CompactionLevel& level, int64_t now, int* written,
                      std::vector<SegmentRef>* done);
  Status Merge(const std::vector<SegmentRef>& inputs, const CompactionLevel& level);
  Status Concatenate(const std::vector<SegmentRef>& inputs, const SegmentHeader& first,
                     SegmentHeader h, const Sink& write);
  Status KeepNewestPages(const std::vector<SegmentRef>& inputs, const SegmentHeader& last,
                         SegmentHeader h, const Sink& write);
  Status Forget(const std::vector<SegmentRef>& merged, int level);
  void DropStaleCopies(int64_t now);

  std::shared_ptr<Repository> repo_;
  std::string database_;
  std::string scratch_dir_;
  const Clock* clock_;
  SegmentCache cache_;
  std::map<std::string, Known> index_;  // object name -> segment
  bool listed_ = false;
  uint64_t runs_ = 0;
  uint64_t generation_ = 0;  // of the last adopted segment
  // RunIfDue's bookkeeping (clock_ microseconds).
  bool ran_ = false;
  int64_t last_run_us_ = 0;
  uint64_t uploads_at_last_run_ = 0;
  uint64_t uploads_seen_ = 0;
  int64_t last_upload_seen_us_ = 0;  // when uploads_seen_ last changed (or construction)
};

}  // namespace aura::backup
