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
// committed).
//
// Memory: page images of a merge go through a scratch file; only a page-number -> offset map is
// kept in memory (12 bytes per distinct page).
//
// Thread-safety: one Run at a time per database; concurrent with the uploader (it never touches
// level 0 windows that are still open).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "backup/repository.h"
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

  // Compacts every closed window; returns the number of segments written.
  Result<int> Run();

  // Run, but only when it may find work, for callers that ask continually: at the first call;
  // then at most every 10 s while segments are being uploaded (`segments_uploaded`, the
  // caller's running count, changed since the last run); then every 5 minutes until the last
  // upload is older than the longest window plus its grace, after which no window can close.
  // Otherwise returns 0 without touching the repository (an idle database costs no listing).
  Result<int> RunIfDue(uint64_t segments_uploaded);

 private:
  Result<std::pair<int64_t, int64_t>> CommitTimes(const SegmentRef& s);
  Status Merge(const std::vector<SegmentRef>& inputs, const CompactionLevel& level);
  Status Concatenate(const std::vector<SegmentRef>& inputs, const SegmentHeader& first,
                     SegmentHeader h, const SegmentRef& out);
  Status KeepNewestPages(const std::vector<SegmentRef>& inputs, const SegmentHeader& last,
                         SegmentHeader h, const SegmentRef& out);

  std::shared_ptr<Repository> repo_;
  std::string database_;
  std::string scratch_dir_;
  const Clock* clock_;
  std::map<std::string, std::pair<int64_t, int64_t>> times_;  // segment name -> commit times
  // RunIfDue's bookkeeping (clock_ microseconds).
  bool ran_ = false;
  int64_t last_run_us_ = 0;
  uint64_t uploads_at_last_run_ = 0;
  uint64_t uploads_seen_ = 0;
  int64_t last_upload_seen_us_ = 0;  // when uploads_seen_ last changed (or construction)
};

}  // namespace aura::backup
