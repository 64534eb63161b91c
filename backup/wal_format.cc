#include "backup/wal_format.h"

#include <vector>

#include "common/bytes.h"

namespace aura::backup {

WalChecksum WalChecksumUpdate(bool big_endian, std::span<const uint8_t> data, WalChecksum c) {
  const uint8_t* p = data.data();
  const uint8_t* end = p + (data.size() & ~size_t{7});
  if (big_endian) {
    for (; p < end; p += 8) {
      c.s0 += GetBE32(p) + c.s1;
      c.s1 += GetBE32(p + 4) + c.s0;
    }
  } else {
    for (; p < end; p += 8) {
      c.s0 += GetLE32(p) + c.s1;
      c.s1 += GetLE32(p + 4) + c.s0;
    }
  }
  return c;
}

Result<WalHeader> ParseWalHeader(std::span<const uint8_t> b) {
  if (b.size() < kWalHeaderSize) return Corruption("WAL header is truncated");
  uint32_t magic = GetBE32(&b[0]);
  if (magic != kWalMagicLE && magic != kWalMagicBE) return Corruption("bad WAL magic");
  if (GetBE32(&b[4]) != 3007000) return Corruption("unknown WAL format version");
  WalHeader h;
  h.big_endian_checksums = (magic & 1) != 0;
  h.page_size = GetBE32(&b[8]);
  h.checkpoint_seq = GetBE32(&b[12]);
  h.salt1 = GetBE32(&b[16]);
  h.salt2 = GetBE32(&b[20]);
  h.checksum = WalChecksumUpdate(h.big_endian_checksums, b.first(24), {});
  if (h.checksum.s0 != GetBE32(&b[24]) || h.checksum.s1 != GetBE32(&b[28])) {
    return Corruption("WAL header checksum mismatch");
  }
  if (h.page_size < 512 || h.page_size > 65536 || (h.page_size & (h.page_size - 1)) != 0) {
    return Corruption("bad WAL page size");
  }
  return h;
}

WalFrameHeader ParseWalFrameHeader(std::span<const uint8_t, kWalFrameHeaderSize> b) {
  WalFrameHeader f;
  f.pgno = GetBE32(&b[0]);
  f.commit_size = GetBE32(&b[4]);
  f.salt1 = GetBE32(&b[8]);
  f.salt2 = GetBE32(&b[12]);
  f.checksum = {GetBE32(&b[16]), GetBE32(&b[20])};
  return f;
}

Result<WalScan> ScanWal(const std::string& path, uint64_t max_frame) {
  WalScan scan;
  auto file = File::OpenForRead(path);
  if (!file.ok()) {
    if (file.status().code() == Code::kNotFound) return scan;
    return file.status();
  }
  uint8_t hb[kWalHeaderSize];
  AURA_ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, hb));
  if (n < kWalHeaderSize) return scan;
  auto header = ParseWalHeader(hb);
  if (!header.ok()) return scan;  // an invalid header means no valid frames, as for SQLite
  scan.has_header = true;
  scan.header = *header;
  const uint32_t ps = header->page_size;
  const size_t frame_size = kWalFrameHeaderSize + ps;
  // Read many frames per syscall; the WAL is usually in the page cache.
  const size_t batch = std::max<size_t>(1, (4u << 20) / frame_size);
  std::vector<uint8_t> buf(batch * frame_size);
  WalChecksum running = header->checksum;
  std::unordered_map<uint32_t, uint64_t> pending;  // frames of the transaction being read
  uint64_t frame = 1;
  for (;;) {
    AURA_ASSIGN_OR_RETURN(size_t got, file->ReadAt(WalFrameOffset(ps, frame), buf));
    size_t frames_here = got / frame_size;
    for (size_t i = 0; i < frames_here; ++i, ++frame) {
      if (frame > max_frame) return scan;
      const uint8_t* f = buf.data() + i * frame_size;
      WalFrameHeader fh = ParseWalFrameHeader(std::span<const uint8_t, kWalFrameHeaderSize>(f, 24));
      if (fh.salt1 != header->salt1 || fh.salt2 != header->salt2 || fh.pgno == 0) return scan;
      running = WalChecksumUpdate(header->big_endian_checksums, {f, 8}, running);
      running = WalChecksumUpdate(header->big_endian_checksums, {f + 24, ps}, running);
      if (!(running == fh.checksum)) return scan;
      pending[fh.pgno] = frame;
      if (fh.commit_size != 0) {
        for (auto& [pg, fr] : pending) scan.page_frames[pg] = fr;
        pending.clear();
        scan.last_commit_frame = frame;
        scan.db_pages = fh.commit_size;
        scan.checksum = running;
      }
    }
    if (got < buf.size()) return scan;
  }
}

}  // namespace aura::backup
