// DatabaseChecksum: a checksum of a whole database image that can be updated page by page.
//
// checksum = XOR over pages p = 1..N of H(p, page p), where H is the first 8 bytes of
// SHA-256(pgno as 4 bytes big-endian || page). XOR makes it incremental: replacing page p costs
// two hashes, not a pass over the database. WAL segments record the checksum before and after
// they apply, so a restore proves segment by segment that it rebuilt exactly the database the
// source had (the idea of LiteFS/Litestream's LTX files).
//
// Memory: 8 bytes per page (2 MiB for a 1 GiB database of 4 KiB pages).
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace aura::backup {

uint64_t PageHash(uint32_t pgno, std::span<const uint8_t> page);

class DatabaseChecksum {
 public:
  DatabaseChecksum() = default;
  explicit DatabaseChecksum(uint32_t page_size) : page_size_(page_size) {}

  // Sets page `pgno` (1-based) to `page`, growing the page count if needed.
  void SetPage(uint32_t pgno, std::span<const uint8_t> page);
  // Same, with a hash already computed by PageHash.
  void SetPageHash(uint32_t pgno, uint64_t hash);
  // Drops pages beyond `pages` (the database shrank), or grows to `pages` with the new pages
  // counted as all-zero pages (what SQLite reads for a page it has never written).
  void Resize(uint32_t pages);

  // The hash of page `pgno` (1-based, <= pages()).
  uint64_t hash(uint32_t pgno) const { return hashes_[pgno - 1]; }
  uint64_t value() const { return value_; }
  uint32_t pages() const { return static_cast<uint32_t>(hashes_.size()); }
  uint32_t page_size() const { return page_size_; }

 private:
  uint32_t page_size_ = 4096;
  std::vector<uint64_t> hashes_;  // index pgno - 1
  uint64_t value_ = 0;
};

}  // namespace aura::backup
