// SegmentCache: plaintext copies of WAL segments the agent itself uploaded or wrote, kept on
// local disk until compaction has merged them, so compaction reads nothing back from the target
// (each read is a billed request on an object store).
//
// Layout mirrors the repository: <dir>/<generation>/<level>/<first>-<last>.seg, the plaintext
// format of wal_segment.h, files 0600 in a 0700 folder (database pages in clear, like the spool).
// The cache is an optimisation only: a missing or unreadable file means "read the object from
// the target", never a wrong merge (the merge verifies what it parses, and the level-0 file is
// the very file that was uploaded).
//
// The cache yields to the spool, which shares its disk: a copy is kept only while the
// filesystem keeps more than CacheReserve() free (a tenth of it, at least 64 MiB and at most
// 1 GiB, the spool's own limit); below that a copy is deleted instead. Without the reserve the
// cache filled a small spool disk within seconds of space returning, and with no room for a
// merge's output nothing ever drained it: shipping stopped for good (found by the chaos soak,
// tests/soak/).
//
// Thread-safety: one thread at a time (the uploader thread, which also runs compaction).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backup/repository.h"
#include "backup/wal_segment.h"
#include "common/file_io.h"

namespace aura::backup {

// Free and total bytes of the filesystem holding a folder.
struct DiskSpace {
  uint64_t free = 0;
  uint64_t total = 0;
};
using DiskSpaceProbe = std::function<std::optional<DiskSpace>(const std::string& dir)>;
// statvfs of `dir` (the space an unprivileged process may use); nullopt if it cannot be read.
std::optional<DiskSpace> StatDiskSpace(const std::string& dir);
// The free space the cache leaves to the spool on a disk of `total` bytes.
uint64_t CacheReserve(uint64_t total);

class SegmentCache {
 public:
  SegmentCache() = default;  // disabled: holds nothing
  explicit SegmentCache(std::string dir, DiskSpaceProbe probe = StatDiskSpace)
      : dir_(std::move(dir)), probe_(std::move(probe)) {}

  bool enabled() const { return !dir_.empty(); }

  // Where segment `ref` lives in the cache (whether or not it is there).
  std::string PathOf(const SegmentRef& ref) const;
  // The cached file of `ref`, if there is one.
  std::optional<std::string> Find(const SegmentRef& ref) const;

  // Moves `file` (a complete plaintext segment, e.g. the spooled file just uploaded) in as
  // `ref`; true if it is cached. On any failure, or with less than the reserve free, the file
  // is removed instead (the cache is best effort).
  bool Adopt(const std::string& file, const SegmentRef& ref);
  // A temp file that Keep() turns into the cached copy of `ref`.
  Result<TempFile> Begin(const SegmentRef& ref);
  // Commits `temp` as the cached copy (no fsync needed: a lost copy is re-read from the target);
  // true if it is cached (as Adopt: removed below the reserve).
  bool Keep(TempFile temp);
  void Remove(const SegmentRef& ref);

  // Every cached segment of `database` (its ref with size), for rebuilding an index at start.
  std::vector<SegmentRef> Scan(const std::string& database) const;

 private:
  // Whether the disk has more than the reserve free (false if the probe cannot tell).
  bool AboveReserve() const;

  std::string dir_;
  DiskSpaceProbe probe_;
};

// Streams a plaintext segment file from byte `from` on to `sink` in 1 MiB pieces.
Status ReadSegmentFile(const std::string& path,
                       const std::function<Status(std::span<const uint8_t>)>& sink, uint64_t from);

}  // namespace aura::backup
