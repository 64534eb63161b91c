// WAL SEGMENTS: THE PLAINTEXT OF A KIND-3 OBJECT
//
// A segment carries a run of committed transactions of one database, in commit order, each as
// the full images of the pages it wrote. It is sealed like every object (object_format.h); this
// is the plaintext inside. Integers are little-endian.
//
// SEGMENT HEADER, 128 bytes:
//      0   8  Magic "AURASEG1".
//      8   4  Page size.
//     12   4  Flags: bit 0 = compacted (one record covering the whole range: only the newest
//             copy of each page; it restores to the last transaction only).
//     16   8  Generation.
//     24   8  First txid.
//     32   8  Last txid.
//     40   8  Database checksum before the first transaction (db_checksum.h).
//     48   8  Database checksum after the last transaction.
//     56   4  Database size in pages after the last transaction.
//     60   4  Number of transaction records.
//     64   8  Commit time of the first transaction (microseconds since the epoch, as observed
//             by the agent: SQLite does not timestamp commits).
//     72   8  Commit time of the last transaction.
//     80   4  WAL salt-1 and
//     84   4  WAL salt-2 of the WAL generation holding the last transaction.
//     88   8  WAL frame number of the last transaction's commit frame (0 if unknown).
//     96   4  WAL running checksum s0 and
//    100   4  s1 after that frame: with the salts and frame, where the agent resumes after a
//             restart, if the WAL still holds exactly these frames.
//    104  24  Reserved, zero.
//
// TRANSACTION RECORDS follow, one per transaction (one in total for a compacted segment):
//      0   8  Txid.
//      8   8  Commit time (microseconds).
//     16   4  Database size in pages after the commit.
//     20   4  Number of page records n.
//     24   8  Database checksum after the commit (0 when not known; see below).
//     32      n page records: 4-byte page number, then the page.
//
// Validity: the magic and page size match; txids run first..last without holes; applying the
// records in order to the database at "checksum before" yields each record's "checksum after"
// (when not 0) and finally the header's "checksum after"; nothing follows the last record.
// A record's checksum is 0 only in a catch-up segment written after an agent restart, whose
// intermediate states were not observed page by page; its header checksums are always set.
//
// Thread-safety: plain functions and values.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "backup/wal_format.h"
#include "common/status.h"

namespace aura::backup {

inline constexpr size_t kSegmentHeaderSize = 128;
inline constexpr size_t kTxnHeaderSize = 32;
inline constexpr uint32_t kSegmentCompacted = 1;

struct SegmentHeader {
  uint32_t page_size = 0;
  uint32_t flags = 0;
  uint64_t generation = 0;
  uint64_t first_txid = 0;
  uint64_t last_txid = 0;
  uint64_t checksum_before = 0;
  uint64_t checksum_after = 0;
  uint32_t db_pages = 0;
  uint32_t txn_count = 0;
  int64_t first_commit_us = 0;
  int64_t last_commit_us = 0;
  uint32_t wal_salt1 = 0;
  uint32_t wal_salt2 = 0;
  uint64_t wal_frame = 0;
  WalChecksum wal_checksum;
};

struct TxnHeader {
  uint64_t txid = 0;
  int64_t commit_us = 0;
  uint32_t db_pages = 0;
  uint32_t page_count = 0;
  uint64_t checksum_after = 0;
};

std::array<uint8_t, kSegmentHeaderSize> EncodeSegmentHeader(const SegmentHeader& h);
// kCorruption if the magic is wrong.
Result<SegmentHeader> DecodeSegmentHeader(std::span<const uint8_t> bytes);
std::array<uint8_t, kTxnHeaderSize> EncodeTxnHeader(const TxnHeader& t);
TxnHeader DecodeTxnHeader(std::span<const uint8_t, kTxnHeaderSize> bytes);

// Parses segment plaintext fed in arbitrary pieces, checking its structure (txids in sequence,
// record counts, nothing after the last record) and calling back for each element.
class SegmentParser {
 public:
  struct Callbacks {
    std::function<Status(const SegmentHeader&)> on_header;
    std::function<Status(const TxnHeader&)> on_txn;
    std::function<Status(uint32_t pgno, std::span<const uint8_t> page)> on_page;
    std::function<Status(const TxnHeader&)> on_txn_end;
  };
  explicit SegmentParser(Callbacks cb) : cb_(std::move(cb)) {}
  Status Feed(std::span<const uint8_t> data);
  // kCorruption if the segment ended early.
  Status Finish();
  // Stops the parse cleanly (e.g. the target transaction is reached); Feed then ignores input.
  void Stop() { stopped_ = true; }

 private:
  Status Step(std::span<const uint8_t> record);
  size_t Need() const;

  Callbacks cb_;
  std::vector<uint8_t> buf_;
  SegmentHeader header_;
  TxnHeader txn_;
  enum class State { kHeader, kTxn, kPage, kDone } state_ = State::kHeader;
  uint32_t pages_left_ = 0;
  uint32_t txns_seen_ = 0;
  bool stopped_ = false;
};

// "<first txid:016x>-<last txid:016x>.seg": sorts by position.
std::string SegmentFileName(uint64_t first_txid, uint64_t last_txid);
// Parses a SegmentFileName; false if `name` is not one.
bool ParseSegmentFileName(const std::string& name, uint64_t* first_txid, uint64_t* last_txid);

// Generations print as 16 hex digits (microseconds since the epoch when they started).
std::string GenerationName(uint64_t generation);
bool ParseGenerationName(const std::string& name, uint64_t* generation);

}  // namespace aura::backup
