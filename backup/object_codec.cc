#include "backup/object_codec.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "common/background_hasher.h"
#include "common/bytes.h"
#include "common/ordered_pipeline.h"

namespace aura::backup {

namespace {

// One zstd context per worker thread, reused across blocks (creating one per block would
// allocate and fault in its workspace every megabyte).
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> ctx(ZSTD_createCCtx(),
                                                                        &ZSTD_freeCCtx);
  return ctx.get();
}

ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> ctx(ZSTD_createDCtx(),
                                                                        &ZSTD_freeDCtx);
  return ctx.get();
}

// A block shared read-only between the background hasher and a pipeline worker.
struct Block {
  uint64_t index = 0;
  std::shared_ptr<const std::vector<uint8_t>> data;
};

// Reads exactly buf.size() bytes unless the object ends first; returns the count.
Result<size_t> ReadUpTo(ObjectReader& in, std::span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    AURA_ASSIGN_OR_RETURN(size_t n, in.Read(buf.subspan(done)));
    if (n == 0) break;
    done += n;
  }
  return done;
}

size_t MaxSealedPayload(const ObjectHeader& h) {
  return h.compression == Compression::kZstd ? ZSTD_compressBound(h.block_size) : h.block_size;
}

}  // namespace

int DefaultCodecThreads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 2 : static_cast<int>(std::min(n, 8u));
}

// ---------------------------------------------------------------------------------------------
// Encoder

struct ObjectEncoder::Impl {
  ObjectWriter* out = nullptr;
  ChunkSealer sealer;
  int zstd_level = 1;
  BackgroundHasher sha;
  uint64_t plaintext_size = 0;
  uint64_t next_index = 0;
  std::vector<uint8_t> partial;
  std::unique_ptr<OrderedPipeline<Block, std::vector<uint8_t>>> pipeline;
};

Result<std::unique_ptr<ObjectEncoder>> ObjectEncoder::Start(ObjectWriter* out,
                                                            const ObjectSpec& spec, const Key* key,
                                                            int threads) {
  std::unique_ptr<ObjectEncoder> e(new ObjectEncoder());
  ObjectHeader& h = e->header_;
  h.kind = spec.kind;
  h.compression = spec.compression;
  h.cipher = key != nullptr ? Cipher::kAes256Gcm : Cipher::kNone;
  h.block_size = spec.block_size;
  h.key_id = key != nullptr ? key->id : 0;
  AURA_RETURN_IF_ERROR(RandomBytes(h.salt));
  h.created_us = ToUnixMicros(spec.created);
  h.generation = spec.generation;
  h.first_position = spec.first_position;
  h.last_position = spec.last_position;
  h.name = spec.name;
  h.public_metadata = spec.public_metadata;
  AURA_ASSIGN_OR_RETURN(std::vector<uint8_t> header_bytes, EncodeHeader(h));
  AURA_RETURN_IF_ERROR(out->Append(header_bytes));

  e->impl_ = std::make_unique<Impl>();
  Impl& impl = *e->impl_;
  impl.out = out;
  impl.zstd_level = spec.zstd_level;
  AURA_ASSIGN_OR_RETURN(impl.sealer, ChunkSealer::Create(h, key));
  const Compression compression = h.compression;
  Impl* ip = e->impl_.get();
  auto transform = [ip, compression](Block&& b) -> Result<std::vector<uint8_t>> {
    const std::vector<uint8_t>& in = *b.data;
    if (compression == Compression::kNone) return ip->sealer.Seal(b.index, false, in);
    std::vector<uint8_t> z(ZSTD_compressBound(in.size()));
    size_t n =
        ZSTD_compressCCtx(ThreadCCtx(), z.data(), z.size(), in.data(), in.size(), ip->zstd_level);
    if (ZSTD_isError(n)) return InternalError(std::string("zstd: ") + ZSTD_getErrorName(n));
    return ip->sealer.Seal(b.index, false, std::span<const uint8_t>(z.data(), n));
  };
  auto sink = [ip](std::vector<uint8_t>&& sealed) { return ip->out->Append(sealed); };
  impl.pipeline = std::make_unique<OrderedPipeline<Block, std::vector<uint8_t>>>(
      transform, sink, threads, threads * 2 + 2);
  return e;
}

ObjectEncoder::~ObjectEncoder() = default;

Status ObjectEncoder::SubmitBlock(std::vector<uint8_t>&& block) {
  impl_->plaintext_size += block.size();
  auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(block));
  impl_->sha.Update(shared);
  return impl_->pipeline->Submit(Block{impl_->next_index++, std::move(shared)});
}

Status ObjectEncoder::Write(std::span<const uint8_t> data) {
  const size_t bs = header_.block_size;
  while (!data.empty()) {
    if (impl_->partial.capacity() < bs) impl_->partial.reserve(bs);
    size_t take = std::min(bs - impl_->partial.size(), data.size());
    impl_->partial.insert(impl_->partial.end(), data.begin(), data.begin() + take);
    data = data.subspan(take);
    if (impl_->partial.size() == bs) {
      std::vector<uint8_t> full;
      full.swap(impl_->partial);
      AURA_RETURN_IF_ERROR(SubmitBlock(std::move(full)));
    }
  }
  return Status::Ok();
}

Status ObjectEncoder::WriteBlock(std::vector<uint8_t>&& block) {
  if (!impl_->partial.empty() || block.size() > header_.block_size || block.empty()) {
    return InternalError("WriteBlock needs block-aligned input");
  }
  return SubmitBlock(std::move(block));
}

Result<ObjectSummary> ObjectEncoder::Finish() {
  if (!impl_->partial.empty()) {
    AURA_RETURN_IF_ERROR(SubmitBlock(std::move(impl_->partial)));
    impl_->partial.clear();
  }
  AURA_RETURN_IF_ERROR(impl_->pipeline->Finish());
  Trailer t{impl_->next_index, impl_->plaintext_size, impl_->sha.Finish()};
  auto trailer = EncodeTrailer(t);
  AURA_ASSIGN_OR_RETURN(std::vector<uint8_t> sealed,
                        impl_->sealer.Seal(impl_->next_index, true, trailer));
  AURA_RETURN_IF_ERROR(impl_->out->Append(sealed));
  return ObjectSummary{header_.name, t.plaintext_size, impl_->out->bytes_written(), t.chunk_count,
                       t.sha256};
}

// ---------------------------------------------------------------------------------------------
// Decoder

struct ObjectDecoder::Impl {
  std::unique_ptr<ObjectReader> in;
  ChunkSealer sealer;
  int threads = 1;
};

Result<ObjectHeader> ReadObjectHeader(ObjectReader& in, const std::string& what) {
  std::vector<uint8_t> buf(kFixedHeaderSize);
  AURA_ASSIGN_OR_RETURN(size_t n, ReadUpTo(in, buf));
  if (n < 24) {
    return Corruption(what + ": truncated (" + std::to_string(n) + " bytes, no complete header)");
  }
  auto len = HeaderLength(std::span<const uint8_t>(buf.data(), n));
  if (!len.ok()) return len.status().WithContext(what);
  if (n < kFixedHeaderSize || *len < n) return Corruption(what + ": truncated header");
  buf.resize(*len);
  AURA_ASSIGN_OR_RETURN(size_t rest, ReadUpTo(in, std::span<uint8_t>(buf.data() + n, *len - n)));
  if (rest != *len - n) return Corruption(what + ": truncated header");
  return DecodeHeader(buf, what);
}

Result<std::unique_ptr<ObjectDecoder>> ObjectDecoder::Open(std::unique_ptr<ObjectReader> in,
                                                           const Keyring& keys,
                                                           const std::string& expected_name,
                                                           int threads) {
  const std::string what = expected_name.empty() ? std::string("object") : expected_name;
  AURA_ASSIGN_OR_RETURN(ObjectHeader h, ReadObjectHeader(*in, what));
  if (!expected_name.empty() && h.name != expected_name) {
    return Corruption(expected_name + ": holds the object named '" + h.name +
                      "' (swapped or renamed object)");
  }
  const Key* key = nullptr;
  if (h.cipher == Cipher::kAes256Gcm) {
    uint8_t idb[8];
    PutBE64(idb, h.key_id);
    std::string id = HexEncode(idb);
    if (keys.empty()) {
      return KeyError(what + " is encrypted (key id " + id + "); pass the key with --key-file");
    }
    key = keys.Find(h.key_id);
    if (key == nullptr) {
      return KeyError(what + " was encrypted with key id " + id +
                      ", which the given key file does not hold (it has " +
                      keys.WriteKey().IdHex() + "); use the key file that made this backup");
    }
  }
  std::unique_ptr<ObjectDecoder> d(new ObjectDecoder());
  d->impl_ = std::make_unique<Impl>();
  AURA_ASSIGN_OR_RETURN(d->impl_->sealer, ChunkSealer::Create(h, key));
  d->impl_->in = std::move(in);
  d->impl_->threads = threads;
  d->header_ = std::move(h);
  return d;
}

ObjectDecoder::~ObjectDecoder() = default;

namespace {

// Authenticates and (if compressed) decompresses one data chunk.
Result<std::vector<uint8_t>> OpenChunk(const ChunkSealer& sealer, const ObjectHeader& h,
                                       const Block& b) {
  const std::vector<uint8_t>& in = *b.data;
  size_t sealed_len = in.size() - kTagSize;
  AURA_ASSIGN_OR_RETURN(std::vector<uint8_t> opened,
                        sealer.Open(b.index, false, std::span<const uint8_t>(in.data(), sealed_len),
                                    std::span<const uint8_t>(in.data() + sealed_len, kTagSize)));
  if (h.compression == Compression::kNone) return opened;
  std::vector<uint8_t> out(h.block_size);
  size_t n =
      ZSTD_decompressDCtx(ThreadDCtx(), out.data(), out.size(), opened.data(), opened.size());
  if (ZSTD_isError(n)) {
    return Corruption("chunk " + std::to_string(b.index) + " does not decompress");
  }
  out.resize(n);
  return out;
}

}  // namespace

// The final chunk (`len` sealed bytes and a tag) authenticates the trailer, which must account
// for every chunk and byte delivered, and nothing may follow it.
Status ObjectDecoder::CheckTrailer(Impl& impl, const ObjectHeader& h, uint64_t index,
                                   const std::vector<uint8_t>& chunk, uint64_t blocks,
                                   uint64_t plain, const Digest& actual) {
  const size_t len = chunk.size() - kTagSize;
  auto opened = impl.sealer.Open(index, true, std::span<const uint8_t>(chunk.data(), len),
                                 std::span<const uint8_t>(chunk.data() + len, kTagSize));
  if (!opened.ok()) return opened.status().WithContext(h.name + " (trailer)");
  Trailer t = DecodeTrailer(std::span<const uint8_t, kTrailerSize>(opened->data(), kTrailerSize));
  if (t.chunk_count != blocks || t.plaintext_size != plain || t.sha256 != actual) {
    return Corruption(h.name + ": the trailer does not match the data (chunks missing or altered)");
  }
  uint8_t extra;
  AURA_ASSIGN_OR_RETURN(size_t more, ReadUpTo(*impl.in, std::span<uint8_t>(&extra, 1)));
  if (more != 0) return Corruption(h.name + ": bytes follow the final chunk");
  return Status::Ok();
}

Result<ObjectSummary> ObjectDecoder::ReadAll(
    const std::function<Status(std::span<const uint8_t>)>& sink) {
  const ObjectHeader& h = header_;
  const std::string& what = h.name;
  Impl& impl = *impl_;
  BackgroundHasher sha;
  uint64_t plain = 0, blocks = 0;
  bool short_seen = false;
  auto transform = [&](Block&& b) { return OpenChunk(impl.sealer, h, b); };
  auto deliver = [&](std::vector<uint8_t>&& data) -> Status {
    if (short_seen || data.empty()) {
      return Corruption("block " + std::to_string(blocks) + " has the wrong size");
    }
    if (data.size() < h.block_size) short_seen = true;
    plain += data.size();
    ++blocks;
    auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(data));
    sha.Update(shared);
    return sink(*shared);
  };
  OrderedPipeline<Block, std::vector<uint8_t>> pipeline(transform, deliver, impl.threads,
                                                        impl.threads * 2 + 2);
  const size_t max_payload = MaxSealedPayload(h);
  uint64_t index = 0;
  for (;;) {
    uint8_t word_bytes[4];
    AURA_ASSIGN_OR_RETURN(size_t n, ReadUpTo(*impl.in, word_bytes));
    if (n != 4) {
      Status s = pipeline.Finish();
      if (!s.ok()) return s.WithContext(what);
      return Corruption(what + ": truncated (the object ends before its final chunk)");
    }
    uint32_t word = GetLE32(word_bytes);
    bool final = (word & kFinalFlag) != 0;
    size_t len = word & ~kFinalFlag;
    if ((final && len != kTrailerSize) || (!final && (len == 0 || len > max_payload))) {
      (void)pipeline.Finish();
      return Corruption(what + ": chunk " + std::to_string(index) + " has a bad length word");
    }
    std::vector<uint8_t> chunk(len + kTagSize);
    AURA_ASSIGN_OR_RETURN(size_t got, ReadUpTo(*impl.in, chunk));
    if (got != chunk.size()) {
      (void)pipeline.Finish();
      return Corruption(what + ": truncated inside chunk " + std::to_string(index));
    }
    if (!final) {
      Status s = pipeline.Submit(
          Block{index++, std::make_shared<const std::vector<uint8_t>>(std::move(chunk))});
      if (!s.ok()) return s.WithContext(what);
      continue;
    }
    Status s = pipeline.Finish();
    if (!s.ok()) return s.WithContext(what);
    const Digest actual = sha.Finish();
    AURA_RETURN_IF_ERROR(CheckTrailer(impl, h, index, chunk, blocks, plain, actual));
    return ObjectSummary{h.name, plain, 0, blocks, actual};
  }
}

// ---------------------------------------------------------------------------------------------

Result<ObjectSummary> PutSealedObject(Storage& storage, const ObjectSpec& spec,
                                      std::span<const uint8_t> plaintext, const Key* key,
                                      const WriteOptions& options) {
  AURA_ASSIGN_OR_RETURN(auto writer, storage.Create(spec.name, options));
  AURA_ASSIGN_OR_RETURN(auto encoder, ObjectEncoder::Start(writer.get(), spec, key, 1));
  AURA_RETURN_IF_ERROR(encoder->Write(plaintext));
  AURA_ASSIGN_OR_RETURN(ObjectSummary summary, encoder->Finish());
  AURA_RETURN_IF_ERROR(writer->Commit());
  return summary;
}

Result<std::string> GetSealedObject(Storage& storage, const std::string& name, const Keyring& keys,
                                    ObjectHeader* header_out) {
  AURA_ASSIGN_OR_RETURN(auto reader, storage.Open(name));
  AURA_ASSIGN_OR_RETURN(auto decoder, ObjectDecoder::Open(std::move(reader), keys, name, 1));
  std::string out;
  AURA_RETURN_IF_ERROR(decoder
                           ->ReadAll([&](std::span<const uint8_t> d) {
                             out.append(reinterpret_cast<const char*>(d.data()), d.size());
                             return Status::Ok();
                           })
                           .status());
  if (header_out != nullptr) *header_out = decoder->header();
  return out;
}

}  // namespace aura::backup
