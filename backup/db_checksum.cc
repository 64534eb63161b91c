#include "backup/db_checksum.h"

#include "common/bytes.h"
#include "common/hashing.h"

namespace aura::backup {

uint64_t PageHash(uint32_t pgno, std::span<const uint8_t> page) {
  uint8_t pg[4];
  PutBE32(pg, pgno);
  Sha256 h;
  h.Update(pg);
  h.Update(page);
  Digest d = h.Finish();
  uint64_t v = GetBE64(d.data());
  return v;
}

void DatabaseChecksum::SetPageHash(uint32_t pgno, uint64_t hash) {
  if (pgno == hashes_.size() + 1) {  // appending: no zero page to hash first
    hashes_.push_back(hash);
    value_ ^= hash;
    return;
  }
  if (pgno > hashes_.size()) Resize(pgno);
  uint64_t& slot = hashes_[pgno - 1];
  value_ ^= slot ^ hash;
  slot = hash;
}

void DatabaseChecksum::SetPage(uint32_t pgno, std::span<const uint8_t> page) {
  SetPageHash(pgno, PageHash(pgno, page));
}

void DatabaseChecksum::Resize(uint32_t pages) {
  while (hashes_.size() > pages) {
    value_ ^= hashes_.back();
    hashes_.pop_back();
  }
  if (hashes_.size() >= pages) return;
  std::vector<uint8_t> zeros(page_size_, 0);
  for (uint32_t p = static_cast<uint32_t>(hashes_.size()) + 1; p <= pages; ++p) {
    uint64_t h = PageHash(p, zeros);
    hashes_.push_back(h);
    value_ ^= h;
  }
}

}  // namespace aura::backup
