// SQLite's write-ahead log, as the agent reads it.
//
// What this relies on (SQLite file format, section 4, and src/wal.c), and nothing more:
//
// WAL HEADER, 32 bytes, big-endian:
//      0  4  Magic 0x377f0682 or 0x377f0683. The low bit says which byte order the checksums
//            use: 0 little-endian, 1 big-endian (the native order of the writer).
//      4  4  File format version, 3007000.
//      8  4  Database page size.
//     12  4  Checkpoint sequence number.
//     16  4  Salt-1, incremented on every WAL reset.
//     20  4  Salt-2, a fresh random value on every reset.
//     24  4  Checksum-1 and
//     28  4  Checksum-2 over the first 24 bytes.
//
// FRAME, 24-byte header then one page:
//      0  4  Page number.
//      4  4  For a commit frame, the database size in pages after the commit; otherwise 0.
//      8  4  Salt-1 and
//     12  4  Salt-2, copied from the WAL header.
//     16  4  Checksum-1 and
//     20  4  Checksum-2: the running checksum over the WAL header's first 24 bytes, then every
//            frame's first 8 header bytes and page, in order, up to and including this frame.
//
// A frame is valid if its salts equal the header's and its checksum matches the running value.
// Only frames up to the last valid commit frame are committed; a reader must stop at the first
// invalid frame (a torn write, a frame left from before a reset, or garbage), and anything after
// the last commit frame belongs to a transaction still being written. Frames of one WAL
// generation (one pair of salts) are never rewritten once a later commit exists; a reset
// (checkpoint RESTART/TRUNCATE, or a writer restarting an emptied WAL) starts over at frame 1 with
// new salts.
//
// The checksum: for each pair of 32-bit words (x0, x1) in the byte order the magic names,
//     s0 += x0 + s1;  s1 += x1 + s0;
// starting from s0 = s1 = 0 for the header and continuing from the previous frame's values.
//
// Thread-safety: free functions and values.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>

#include "common/file_io.h"
#include "common/status.h"

namespace aura::backup {

inline constexpr uint32_t kWalMagicLE = 0x377f0682;
inline constexpr uint32_t kWalMagicBE = 0x377f0683;
inline constexpr size_t kWalHeaderSize = 32;
inline constexpr size_t kWalFrameHeaderSize = 24;

struct WalChecksum {
  uint32_t s0 = 0;
  uint32_t s1 = 0;
  bool operator==(const WalChecksum&) const = default;
};

// Continues a WAL checksum over `data` (length a multiple of 8).
WalChecksum WalChecksumUpdate(bool big_endian, std::span<const uint8_t> data, WalChecksum start);

struct WalHeader {
  bool big_endian_checksums = false;
  uint32_t page_size = 0;
  uint32_t checkpoint_seq = 0;
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  WalChecksum checksum;  // over the first 24 bytes
};

// Parses and validates a WAL header. kCorruption if the magic, version or checksum is wrong.
Result<WalHeader> ParseWalHeader(std::span<const uint8_t> bytes);

struct WalFrameHeader {
  uint32_t pgno = 0;
  uint32_t commit_size = 0;  // pages after commit, 0 for a non-commit frame
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  WalChecksum checksum;
};

WalFrameHeader ParseWalFrameHeader(std::span<const uint8_t, kWalFrameHeaderSize> bytes);

// Byte offset of frame `frame` (1-based) in a WAL with pages of `page_size`.
inline uint64_t WalFrameOffset(uint32_t page_size, uint64_t frame) {
  return kWalHeaderSize + (frame - 1) * (kWalFrameHeaderSize + uint64_t{page_size});
}

// The committed content of a WAL at one moment: which frame holds the newest committed version
// of each page, up to the last valid commit frame.
struct WalScan {
  bool has_header = false;  // false: no WAL, an empty one, or an invalid header
  WalHeader header;
  uint64_t last_commit_frame = 0;                      // 0: no committed frame
  uint32_t db_pages = 0;                               // database size in pages after that commit
  WalChecksum checksum;                                // running checksum after that commit frame
  std::unordered_map<uint32_t, uint64_t> page_frames;  // pgno -> frame number (1-based)
};

// Scans the WAL file at `path` from the start, up to the last valid commit frame at or below
// `max_frame`. A missing file gives an empty scan.
Result<WalScan> ScanWal(const std::string& path, uint64_t max_frame = UINT64_MAX);

}  // namespace aura::backup
