// A warm standby: a database file kept current from a repository's WAL segments, ready to be
// promoted to the live database in about a second.
//
// Open() seeds the file with a point-in-time restore of the newest point (every check a restore
// makes) unless it is already a standby, in which case it resumes where it stopped. CatchUp()
// applies every segment the repository holds past the standby's txid: each segment is read and
// authenticated whole, its effect computed and checked against the database checksums it
// records (before, after each transaction, after) without touching the file, then written
// through the redo journal (standby_files.h), then the state file is advanced. A damaged or
// mismatching segment is refused and the standby stays at the last verified point. A new
// generation at the source (it restarted from a restore, or lost its WAL), or a gap in the
// chain (segments pruned past the standby), reseeds the file from the newest point.
//
// Promote: stop the follower (SIGTERM to a `restore --follow` holding the lock; the daemon is
// asked to let go through its config), finish an interrupted apply, recompute the checksum of
// the whole file against the state, optionally run an integrity check, then remove the standby
// files: the database is an ordinary SQLite file equal to the source at the standby's txid.
//
// Nothing may open the standby file while it is followed (it is rewritten page by page).
//
// Thread-safety: a Standby is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "backup/repository.h"
#include "backup/standby_files.h"
#include "common/platform.h"
#include "common/sqlite_integrity.h"

namespace aura::backup {

struct StandbyOptions {
  std::string database;  // the database in the repository; "": the only one
  bool force = false;    // the first seed may replace an existing file that is not a standby
  IntegrityLevel seed_check = IntegrityLevel::kQuick;
  int threads = 0;
  std::string holder = "restore --follow";  // in the lock's note; promotion reads it
};

// What one CatchUp() did.
struct StandbyStep {
  uint64_t from_txid = 0;
  uint64_t to_txid = 0;
  size_t segments = 0;
  bool reseeded = false;
  int64_t first_commit_us = 0;  // source commit time of the first transaction applied (0: none)
  int64_t last_commit_us = 0;
  uint64_t newest_txid = 0;  // the newest txid the repository holds for the standby's generation
};

class Standby {
 public:
  // kBusy when another process follows `path`; kAlreadyExists when `path` exists and is not a
  // standby (without force).
  static Result<std::unique_ptr<Standby>> Open(Repository& repo, const std::string& path,
                                               const StandbyOptions& options);

  Result<StandbyStep> CatchUp();

  const StandbyState& state() const { return state_; }
  const std::string& path() const { return path_; }

 private:
  Standby(Repository& repo, std::string path, StandbyOptions o)
      : repo_(repo), path_(std::move(path)), o_(std::move(o)) {}
  Status Seed();
  Status Apply(const SegmentRef& seg, StandbyStep& step);
  Result<uint64_t> NewestSnapshotGeneration();
  Result<StandbyStep> Reseed(StandbyStep step, const std::string& why);

  Repository& repo_;
  const std::string path_;
  const StandbyOptions o_;
  platform::FileLock lock_;
  StandbyState state_;
  bool snapshots_checked_ = false;
  std::chrono::steady_clock::time_point last_snapshot_check_;
  std::string last_snapshot_seen_;  // snapshot ids sort by time
};

// Promotes the standby at `path` (see above); `wait` bounds the wait for a follower to stop.
// Returns the point it was promoted at.
Result<StandbyState> PromoteStandby(const std::string& path, IntegrityLevel check, int threads,
                                    std::chrono::milliseconds wait);

}  // namespace aura::backup
