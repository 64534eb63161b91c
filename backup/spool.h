// The local spool: WAL segments staged on local disk, fsynced, before they are uploaded, so the
// application never waits on the network and nothing shipped is lost if the agent dies.
//
// Layout: <spool>/<generation>/<first>-<last>.seg, the plaintext format of wal_segment.h. A
// segment being built is "<spool>/<generation>/.<name>.tmp-XXXXXX" and becomes visible only when
// complete (temp, fsync, rename, fsync directory); leftovers of a crash are deleted at start.
// Spool files hold database pages in clear, like the database itself: the spool directory is
// created mode 0700 and its files 0600.
//
// Thread-safety: a SegmentBuilder is used by one thread. The listing functions may run
// concurrently with a builder (they never see its temp file).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backup/wal_segment.h"
#include "common/file_io.h"

namespace aura::backup {

struct SpooledSegment {
  uint64_t generation = 0;
  uint64_t first_txid = 0;
  uint64_t last_txid = 0;
  std::string path;
  uint64_t size = 0;
};

// Complete segments in the spool, ordered by (generation, first txid). Removes crash leftovers
// when `clean` is set.
Result<std::vector<SpooledSegment>> ListSpool(const std::string& spool_dir, bool clean = false);

// Bytes of complete segments in the spool.
uint64_t SpoolBytes(const std::vector<SpooledSegment>& segments);

// Reads the header of a spooled segment.
Result<SegmentHeader> ReadSpooledHeader(const std::string& path);

// Streams transactions into a new spooled segment.
class SegmentBuilder {
 public:
  static Result<std::unique_ptr<SegmentBuilder>> Start(const std::string& spool_dir,
                                                       uint64_t generation, uint32_t page_size,
                                                       uint64_t first_txid,
                                                       uint64_t checksum_before);
  ~SegmentBuilder();

  // A transaction: its header, then exactly header.page_count AddPage calls.
  Status BeginTxn(const TxnHeader& txn);
  Status AddPage(uint32_t pgno, std::span<const uint8_t> page);

  uint64_t bytes() const { return bytes_; }
  uint64_t txn_count() const { return header_.txn_count; }
  int64_t first_commit_us() const { return header_.first_commit_us; }
  uint64_t first_txid() const { return header_.first_txid; }

  // Completes the segment: `tail` supplies last txid, checksum after, db pages, commit times
  // and the WAL position; first txid, generation, page size and checksum before are kept.
  // Returns the spooled segment.
  Result<SpooledSegment> Finish(const SegmentHeader& tail);

 private:
  SegmentBuilder() = default;
  Status Write(std::span<const uint8_t> data);
  Status Flush();

  std::string dir_;
  TempFile temp_;
  SegmentHeader header_;
  std::vector<uint8_t> buffer_;
  uint64_t bytes_ = 0;
  uint32_t pages_left_ = 0;
};

}  // namespace aura::backup
