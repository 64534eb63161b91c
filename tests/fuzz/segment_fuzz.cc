// WAL segment plaintext (backup/wal_segment.h), as decoded from a target's object: the header,
// transaction records and pages, fed to the parser in pieces of every size. Whatever the bytes,
// the parser reports corruption or delivers records that match its header; the file name
// parsers accept only what SegmentFileName / GenerationName print.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "backup/wal_segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  (void)aura::backup::DecodeSegmentHeader(bytes);
  const std::string text(reinterpret_cast<const char*>(data), std::min<size_t>(size, 64));
  uint64_t first = 0, last = 0, generation = 0;
  if (aura::backup::ParseSegmentFileName(text, &first, &last) &&
      aura::backup::SegmentFileName(first, last) != text) {
    __builtin_trap();
  }
  if (aura::backup::ParseGenerationName(text, &generation) &&
      aura::backup::GenerationName(generation) != text) {
    __builtin_trap();
  }
  // The piece size comes from the first byte, so one input is fed the same way every run.
  const size_t piece = size == 0 ? 1 : 1 + data[0] % 97;
  uint32_t page_size = 0, pages = 0;
  aura::backup::SegmentParser parser({
      [&](const aura::backup::SegmentHeader& h) {
        page_size = h.page_size;
        return aura::Status::Ok();
      },
      [](const aura::backup::TxnHeader&) { return aura::Status::Ok(); },
      [&](uint32_t, std::span<const uint8_t> page) {
        if (page.size() != page_size) __builtin_trap();
        ++pages;
        return aura::Status::Ok();
      },
      [](const aura::backup::TxnHeader&) { return aura::Status::Ok(); },
  });
  for (size_t at = 0; at < size; at += piece) {
    if (!parser.Feed(bytes.subspan(at, std::min(piece, size - at))).ok()) return 0;
  }
  (void)parser.Finish();
  return 0;
}
