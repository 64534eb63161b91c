// FileChecksum: the database checksum (db_checksum.h) of a file being rebuilt by a restore, kept
// up to date page by page without hashing the whole base: the base's checksum is the one its
// manifest records (its bytes are proven by the snapshot's SHA-256), and a page's old hash is
// computed from the file only when the chain first replaces or drops that page. Used by
// point-in-time restores (WAL segments) and by snapshot chains (incremental snapshots).
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "backup/db_checksum.h"
#include "common/file_io.h"
#include "common/status.h"

namespace aura::backup {

class FileChecksum {
 public:
  FileChecksum(File& f, uint32_t page_size, uint32_t pages, uint64_t value)
      : f_(f), ps_(page_size), pages_(pages), value_(value), zeros_(page_size, 0) {}

  uint64_t value() const { return value_; }

  Status SetPage(uint32_t pgno, std::span<const uint8_t> page) {
    if (pgno > pages_) AURA_RETURN_IF_ERROR(Resize(pgno));
    AURA_ASSIGN_OR_RETURN(uint64_t old, HashOf(pgno));
    uint64_t now = PageHash(pgno, page);
    value_ ^= old ^ now;
    known_[pgno] = now;
    return Status::Ok();
  }

  // Call before truncating the file when the database shrinks.
  Status Resize(uint32_t pages) {
    for (; pages_ > pages; --pages_) {
      AURA_ASSIGN_OR_RETURN(uint64_t old, HashOf(pages_));
      value_ ^= old;
      known_.erase(pages_);
    }
    for (; pages_ < pages; ++pages_) {
      uint64_t h = PageHash(pages_ + 1, zeros_);  // a new page reads as zeros until written
      value_ ^= h;
      known_[pages_ + 1] = h;
    }
    return Status::Ok();
  }

 private:
  Result<uint64_t> HashOf(uint32_t pgno) {
    auto it = known_.find(pgno);
    if (it != known_.end()) return it->second;
    std::vector<uint8_t> page(ps_);
    AURA_ASSIGN_OR_RETURN(size_t n, f_.ReadAt(uint64_t{pgno - 1} * ps_, page));
    if (n != ps_) std::fill(page.begin() + static_cast<long>(n), page.end(), 0);
    return PageHash(pgno, page);
  }

  File& f_;
  const uint32_t ps_;
  uint32_t pages_;
  uint64_t value_;
  std::vector<uint8_t> zeros_;
  std::unordered_map<uint32_t, uint64_t> known_;
};

}  // namespace aura::backup
