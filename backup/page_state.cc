#include "backup/page_state.h"

#include <xxhash.h>

#include <cstring>

namespace aura::backup {

namespace {

constexpr char kMagic[8] = {'A', 'U', 'R', 'A', 'P', 'S', '1', '\0'};
constexpr size_t kHeader = 8 + 4 + 4 + 8;  // magic, page size, pages, db checksum

std::pair<uint64_t, uint64_t> FastHash(std::span<const uint8_t> page) {
  XXH128_hash_t h = XXH3_128bits(page.data(), page.size());
  return {h.low64, h.high64};
}

template <typename T>
void Put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);  // host order: the blob is local state
}

template <typename T>
T Get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

bool PageState::Changed(uint32_t pgno, std::span<const uint8_t> page,
                        std::pair<uint64_t, uint64_t>* fast_out) const {
  *fast_out = FastHash(page);
  return pgno > fast_.size() || fast_[pgno - 1] != *fast_out;
}

void PageState::SetPage(uint32_t pgno, std::span<const uint8_t> page,
                        const std::pair<uint64_t, uint64_t>* fast) {
  if (fast_.size() < pgno) {
    // Pages between the old end and pgno are set by the caller before it is used again; give
    // them hashes that never match so they are stored if the caller skips them.
    fast_.resize(pgno, {~uint64_t{0}, ~uint64_t{0}});
  }
  fast_[pgno - 1] = fast != nullptr ? *fast : FastHash(page);
  checksum_.SetPage(pgno, page);
}

void PageState::Truncate(uint32_t pages) {
  if (pages < fast_.size()) fast_.resize(pages);
  if (pages < checksum_.pages()) checksum_.Resize(pages);
}

std::string PageState::Serialize() const {
  std::string out;
  const uint32_t n = pages();
  out.reserve(kHeader + size_t{n} * 24 + 8);
  out.append(kMagic, sizeof kMagic);
  Put<uint32_t>(out, page_size());
  Put<uint32_t>(out, n);
  Put<uint64_t>(out, db_checksum());
  for (uint32_t i = 0; i < n; ++i) {
    Put<uint64_t>(out, i < fast_.size() ? fast_[i].first : ~uint64_t{0});
    Put<uint64_t>(out, i < fast_.size() ? fast_[i].second : ~uint64_t{0});
    Put<uint64_t>(out, checksum_.hash(i + 1));
  }
  Put<uint64_t>(out, XXH64(out.data(), out.size(), 0));
  return out;
}

Result<PageState> PageState::Parse(std::span<const uint8_t> blob) {
  if (blob.size() < kHeader + 8 || std::memcmp(blob.data(), kMagic, sizeof kMagic) != 0) {
    return Corruption("page state: not a page state blob");
  }
  const uint8_t* p = blob.data();
  const uint32_t page_size = Get<uint32_t>(p + 8);
  const uint32_t n = Get<uint32_t>(p + 12);
  const uint64_t value = Get<uint64_t>(p + 16);
  if (blob.size() != kHeader + size_t{n} * 24 + 8) return Corruption("page state: wrong size");
  if (Get<uint64_t>(p + blob.size() - 8) != XXH64(p, blob.size() - 8, 0)) {
    return Corruption("page state: checksum mismatch");
  }
  if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) != 0) {
    return Corruption("page state: bad page size");
  }
  PageState s(page_size);
  s.fast_.resize(n);
  const uint8_t* e = p + kHeader;
  for (uint32_t i = 0; i < n; ++i, e += 24) {
    s.fast_[i] = {Get<uint64_t>(e), Get<uint64_t>(e + 8)};
    s.checksum_.SetPageHash(i + 1, Get<uint64_t>(e + 16));
  }
  if (s.checksum_.value() != value) return Corruption("page state: database checksum mismatch");
  return s;
}

}  // namespace aura::backup
