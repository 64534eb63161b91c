#include "backup/spool.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace aura::backup {

namespace {
constexpr size_t kBufferSize = 1 << 20;

}  // namespace

Result<std::vector<SpooledSegment>> ListSpool(const std::string& spool_dir, bool clean) {
  std::vector<SpooledSegment> out;
  for (const std::string& g : ListDirectory(spool_dir)) {
    uint64_t gen;
    if (!ParseGenerationName(g, &gen)) continue;  // "lock", "compaction"
    std::string gdir = spool_dir + "/" + g;
    for (const std::string& f : ListDirectory(gdir)) {
      std::string path = gdir + "/" + f;
      if (f[0] == '.') {
        if (clean) (void)RemoveFile(path);
        continue;
      }
      SpooledSegment s;
      if (!ParseSegmentFileName(f, &s.first_txid, &s.last_txid)) continue;
      struct stat st;
      if (::stat(path.c_str(), &st) != 0) continue;
      s.generation = gen;
      s.path = path;
      s.size = static_cast<uint64_t>(st.st_size);
      out.push_back(s);
    }
  }
  std::sort(out.begin(), out.end(), [](const SpooledSegment& a, const SpooledSegment& b) {
    return a.generation != b.generation ? a.generation < b.generation : a.first_txid < b.first_txid;
  });
  return out;
}

uint64_t SpoolBytes(const std::vector<SpooledSegment>& segments) {
  uint64_t total = 0;
  for (const auto& s : segments) total += s.size;
  return total;
}

Result<SegmentHeader> ReadSpooledHeader(const std::string& path) {
  AURA_ASSIGN_OR_RETURN(File f, File::OpenForRead(path));
  std::vector<uint8_t> b(kSegmentHeaderSize);
  AURA_ASSIGN_OR_RETURN(size_t n, f.ReadAt(0, b));
  if (n != b.size()) return Corruption(path + ": truncated segment header");
  auto h = DecodeSegmentHeader(b);
  if (!h.ok()) return h.status().WithContext(path);
  return h;
}

Result<std::unique_ptr<SegmentBuilder>> SegmentBuilder::Start(const std::string& spool_dir,
                                                              uint64_t generation,
                                                              uint32_t page_size,
                                                              uint64_t first_txid,
                                                              uint64_t checksum_before) {
  std::unique_ptr<SegmentBuilder> b(new SegmentBuilder());
  b->dir_ = spool_dir + "/" + GenerationName(generation);
  AURA_RETURN_IF_ERROR(CreatePrivateDirectories(spool_dir));
  if (!PathExists(b->dir_)) {
    AURA_RETURN_IF_ERROR(CreateDirectories(b->dir_, 0700));
    AURA_RETURN_IF_ERROR(SyncDirectory(spool_dir));
  }
  // The final name depends on the last txid, so the temp name uses the first only.
  AURA_ASSIGN_OR_RETURN(
      b->temp_, TempFile::Create(b->dir_ + "/" + SegmentFileName(first_txid, first_txid), 0600));
  b->header_.page_size = page_size;
  b->header_.generation = generation;
  b->header_.first_txid = first_txid;
  b->header_.checksum_before = checksum_before;
  b->buffer_.reserve(kBufferSize);
  auto placeholder = EncodeSegmentHeader(b->header_);
  AURA_RETURN_IF_ERROR(b->Write(placeholder));
  return b;
}

SegmentBuilder::~SegmentBuilder() = default;

Status SegmentBuilder::Write(std::span<const uint8_t> data) {
  if (buffer_.size() + data.size() > kBufferSize) AURA_RETURN_IF_ERROR(Flush());
  if (data.size() >= kBufferSize) return temp_.file().WriteAll(data);
  buffer_.insert(buffer_.end(), data.begin(), data.end());
  return Status::Ok();
}

Status SegmentBuilder::Flush() {
  if (buffer_.empty()) return Status::Ok();
  Status s = temp_.file().WriteAll(buffer_);
  buffer_.clear();
  return s;
}

Status SegmentBuilder::BeginTxn(const TxnHeader& txn) {
  if (pages_left_ != 0) return InternalError("segment: previous transaction incomplete");
  if (header_.txn_count == 0) header_.first_commit_us = txn.commit_us;
  ++header_.txn_count;
  pages_left_ = txn.page_count;
  auto b = EncodeTxnHeader(txn);
  bytes_ += b.size();
  return Write(b);
}

Status SegmentBuilder::AddPage(uint32_t pgno, std::span<const uint8_t> page) {
  if (pages_left_ == 0 || page.size() != header_.page_size) {
    return InternalError("segment: unexpected page");
  }
  --pages_left_;
  uint8_t pg[4];
  pg[0] = uint8_t(pgno);
  pg[1] = uint8_t(pgno >> 8);
  pg[2] = uint8_t(pgno >> 16);
  pg[3] = uint8_t(pgno >> 24);
  AURA_RETURN_IF_ERROR(Write(pg));
  bytes_ += 4 + page.size();
  return Write(page);
}

Result<SpooledSegment> SegmentBuilder::Finish(const SegmentHeader& tail) {
  if (pages_left_ != 0 || header_.txn_count == 0) {
    return InternalError("segment: finishing an empty or incomplete segment");
  }
  SegmentHeader h = tail;
  h.page_size = header_.page_size;
  h.generation = header_.generation;
  h.first_txid = header_.first_txid;
  h.checksum_before = header_.checksum_before;
  h.txn_count = header_.txn_count;
  h.first_commit_us = header_.first_commit_us;
  AURA_RETURN_IF_ERROR(Flush());
  auto bytes = EncodeSegmentHeader(h);
  AURA_RETURN_IF_ERROR(temp_.file().WriteAt(0, bytes).WithContext("segment header"));
  // Rename to the name that carries the whole txid range.
  std::string final_path = dir_ + "/" + SegmentFileName(h.first_txid, h.last_txid);
  AURA_ASSIGN_OR_RETURN(uint64_t size, temp_.file().Size());
  AURA_RETURN_IF_ERROR(temp_.CommitTo(final_path, /*no_replace=*/true));
  return SpooledSegment{h.generation, h.first_txid, h.last_txid, final_path, size};
}

}  // namespace aura::backup
