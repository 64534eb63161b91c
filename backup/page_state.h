// PageState: what a snapshot chain remembers about the image of its newest snapshot, so the
// next snapshot can store only the pages that changed.
//
// Per page: a 128-bit XXH3 hash (change detection: reading and hashing 1 GiB costs well under
// a second, with a false "unchanged" chance of 2^-128 per page) and the page's database-checksum
// hash (db_checksum.h; SHA-256 based), so an incremental snapshot records the exact database
// checksum of the image it restores to without rehashing unchanged pages. 24 bytes per page:
// 6 MiB for a 1 GiB database of 4 KiB pages.
//
// Kept in the agent's state database between snapshots (Serialize/Parse, with an XXH64 of the
// blob so a damaged state row means "take a full snapshot", never a wrong increment).
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backup/db_checksum.h"
#include "common/status.h"

namespace aura::backup {

class PageState {
 public:
  PageState() = default;
  explicit PageState(uint32_t page_size) : checksum_(page_size) {}

  uint32_t page_size() const { return checksum_.page_size(); }
  uint32_t pages() const { return checksum_.pages(); }
  uint64_t db_checksum() const { return checksum_.value(); }

  // True if page `pgno` (1-based) differs from what the state holds (or is beyond its end).
  // Computes the fast hash once into `*fast_out` for a following SetPage.
  bool Changed(uint32_t pgno, std::span<const uint8_t> page,
               std::pair<uint64_t, uint64_t>* fast_out) const;
  // Records page `pgno`'s new content (its fast hash from Changed, or computed if null).
  void SetPage(uint32_t pgno, std::span<const uint8_t> page,
               const std::pair<uint64_t, uint64_t>* fast = nullptr);
  // Drops pages beyond `pages` (the database shrank).
  void Truncate(uint32_t pages);

  std::string Serialize() const;
  static Result<PageState> Parse(std::span<const uint8_t> blob);

 private:
  DatabaseChecksum checksum_;
  std::vector<std::pair<uint64_t, uint64_t>> fast_;  // index pgno - 1
};

}  // namespace aura::backup
