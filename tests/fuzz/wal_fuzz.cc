// SQLite WAL files as the agent reads them from a live database's folder (backup/wal_format.h):
// the header, frame headers and the scan up to the last valid commit. The WAL is written by
// another process and may be torn or garbage: the scan stops at the first invalid frame and
// never reads out of bounds or believes a frame whose checksum fails.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "backup/wal_format.h"

namespace {

const std::string& ScratchPath() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    return std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/aura-fuzz-wal-" +
           std::to_string(::getpid()) + ".db-wal";
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  (void)aura::backup::ParseWalHeader(bytes);
  if (size >= aura::backup::kWalFrameHeaderSize) {
    (void)aura::backup::ParseWalFrameHeader(bytes.first<aura::backup::kWalFrameHeaderSize>());
  }
  FILE* f = std::fopen(ScratchPath().c_str(), "wb");
  if (f == nullptr) return 0;
  const bool written = std::fwrite(data, 1, size, f) == size;
  std::fclose(f);
  if (!written) return 0;
  auto scan = aura::backup::ScanWal(ScratchPath());
  if (scan.ok() && scan->last_commit_frame > 0) {
    const uint64_t end =
        aura::backup::WalFrameOffset(scan->header.page_size, scan->last_commit_frame + 1);
    if (end > size) __builtin_trap();  // a commit frame beyond the bytes given
  }
  return 0;
}
