#include "backup/wal_segment.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "common/bytes.h"

namespace aura::backup {

namespace {
constexpr char kSegmentMagic[8] = {'A', 'U', 'R', 'A', 'S', 'E', 'G', '1'};

bool ParseHex64(const std::string& s, uint64_t* out) {
  if (s.size() != 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (d < 0) return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}
}  // namespace

std::array<uint8_t, kSegmentHeaderSize> EncodeSegmentHeader(const SegmentHeader& h) {
  std::array<uint8_t, kSegmentHeaderSize> b{};
  std::memcpy(b.data(), kSegmentMagic, 8);
  PutLE32(&b[8], h.page_size);
  PutLE32(&b[12], h.flags);
  PutLE64(&b[16], h.generation);
  PutLE64(&b[24], h.first_txid);
  PutLE64(&b[32], h.last_txid);
  PutLE64(&b[40], h.checksum_before);
  PutLE64(&b[48], h.checksum_after);
  PutLE32(&b[56], h.db_pages);
  PutLE32(&b[60], h.txn_count);
  PutLE64(&b[64], static_cast<uint64_t>(h.first_commit_us));
  PutLE64(&b[72], static_cast<uint64_t>(h.last_commit_us));
  PutLE32(&b[80], h.wal_salt1);
  PutLE32(&b[84], h.wal_salt2);
  PutLE64(&b[88], h.wal_frame);
  PutLE32(&b[96], h.wal_checksum.s0);
  PutLE32(&b[100], h.wal_checksum.s1);
  return b;
}

Result<SegmentHeader> DecodeSegmentHeader(std::span<const uint8_t> b) {
  if (b.size() < kSegmentHeaderSize || std::memcmp(b.data(), kSegmentMagic, 8) != 0) {
    return Corruption("not a WAL segment (bad magic)");
  }
  SegmentHeader h;
  h.page_size = GetLE32(&b[8]);
  h.flags = GetLE32(&b[12]);
  h.generation = GetLE64(&b[16]);
  h.first_txid = GetLE64(&b[24]);
  h.last_txid = GetLE64(&b[32]);
  h.checksum_before = GetLE64(&b[40]);
  h.checksum_after = GetLE64(&b[48]);
  h.db_pages = GetLE32(&b[56]);
  h.txn_count = GetLE32(&b[60]);
  h.first_commit_us = static_cast<int64_t>(GetLE64(&b[64]));
  h.last_commit_us = static_cast<int64_t>(GetLE64(&b[72]));
  h.wal_salt1 = GetLE32(&b[80]);
  h.wal_salt2 = GetLE32(&b[84]);
  h.wal_frame = GetLE64(&b[88]);
  h.wal_checksum = {GetLE32(&b[96]), GetLE32(&b[100])};
  if (h.page_size < 512 || h.page_size > 65536 || h.last_txid < h.first_txid) {
    return Corruption("WAL segment header has impossible values");
  }
  return h;
}

std::array<uint8_t, kTxnHeaderSize> EncodeTxnHeader(const TxnHeader& t) {
  std::array<uint8_t, kTxnHeaderSize> b{};
  PutLE64(&b[0], t.txid);
  PutLE64(&b[8], static_cast<uint64_t>(t.commit_us));
  PutLE32(&b[16], t.db_pages);
  PutLE32(&b[20], t.page_count);
  PutLE64(&b[24], t.checksum_after);
  return b;
}

TxnHeader DecodeTxnHeader(std::span<const uint8_t, kTxnHeaderSize> b) {
  TxnHeader t;
  t.txid = GetLE64(&b[0]);
  t.commit_us = static_cast<int64_t>(GetLE64(&b[8]));
  t.db_pages = GetLE32(&b[16]);
  t.page_count = GetLE32(&b[20]);
  t.checksum_after = GetLE64(&b[24]);
  return t;
}

size_t SegmentParser::Need() const {
  switch (state_) {
    case State::kHeader:
      return kSegmentHeaderSize;
    case State::kTxn:
      return kTxnHeaderSize;
    case State::kPage:
      return 4 + header_.page_size;
    case State::kDone:
      return 0;
  }
  return 0;
}

Status SegmentParser::Feed(std::span<const uint8_t> data) {
  while (!data.empty() && !stopped_) {
    if (state_ == State::kDone) return Corruption("WAL segment: bytes after the last transaction");
    size_t need = Need();
    if (buf_.empty() && data.size() >= need) {
      AURA_RETURN_IF_ERROR(Step(data.first(need)));
      data = data.subspan(need);
      continue;
    }
    size_t take = std::min(need - buf_.size(), data.size());
    buf_.insert(buf_.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (buf_.size() == need) {
      std::vector<uint8_t> record;
      record.swap(buf_);
      AURA_RETURN_IF_ERROR(Step(record));
    }
  }
  return Status::Ok();
}

Status SegmentParser::Step(std::span<const uint8_t> r) {
  switch (state_) {
    case State::kHeader: {
      AURA_ASSIGN_OR_RETURN(header_, DecodeSegmentHeader(r));
      if (header_.txn_count == 0) return Corruption("WAL segment holds no transaction");
      state_ = State::kTxn;
      return cb_.on_header ? cb_.on_header(header_) : Status::Ok();
    }
    case State::kTxn: {
      txn_ = DecodeTxnHeader(std::span<const uint8_t, kTxnHeaderSize>(r.data(), kTxnHeaderSize));
      uint64_t expected =
          header_.flags & kSegmentCompacted ? header_.last_txid : header_.first_txid + txns_seen_;
      if (txn_.txid != expected) {
        return Corruption("WAL segment: transaction " + std::to_string(txn_.txid) +
                          " out of sequence (expected " + std::to_string(expected) + ")");
      }
      ++txns_seen_;
      pages_left_ = txn_.page_count;
      state_ = pages_left_ > 0 ? State::kPage : State::kTxn;
      if (cb_.on_txn) AURA_RETURN_IF_ERROR(cb_.on_txn(txn_));
      break;
    }
    case State::kPage: {
      uint32_t pgno = GetLE32(r.data());
      if (pgno == 0 || pgno > txn_.db_pages) return Corruption("WAL segment: bad page number");
      if (cb_.on_page) AURA_RETURN_IF_ERROR(cb_.on_page(pgno, r.subspan(4)));
      if (--pages_left_ == 0) state_ = State::kTxn;
      break;
    }
    case State::kDone:
      return Corruption("WAL segment: bytes after the last transaction");
  }
  if (state_ == State::kTxn && pages_left_ == 0 && txns_seen_ > 0) {
    if (txns_seen_ == header_.txn_count) state_ = State::kDone;
    if (cb_.on_txn_end) AURA_RETURN_IF_ERROR(cb_.on_txn_end(txn_));
  }
  return Status::Ok();
}

Status SegmentParser::Finish() {
  if (!stopped_ && state_ != State::kDone) return Corruption("WAL segment ends early");
  return Status::Ok();
}

std::string SegmentFileName(uint64_t first_txid, uint64_t last_txid) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "-%016" PRIx64 ".seg", first_txid, last_txid);
  return buf;
}

bool ParseSegmentFileName(const std::string& name, uint64_t* first_txid, uint64_t* last_txid) {
  if (name.size() != 37 || name[16] != '-' || name.compare(33, 4, ".seg") != 0) return false;
  return ParseHex64(name.substr(0, 16), first_txid) && ParseHex64(name.substr(17, 16), last_txid);
}

std::string GenerationName(uint64_t generation) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, generation);
  return buf;
}

bool ParseGenerationName(const std::string& name, uint64_t* generation) {
  return ParseHex64(name, generation);
}

}  // namespace aura::backup
