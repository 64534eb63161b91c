#include "backup/object_format.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <cstring>
#include <memory>

#include "common/bytes.h"
#include "common/secure_wipe.h"

namespace aura::backup {

namespace {

constexpr char kHkdfInfo[] = "aura-agent object v1";
constexpr char kPlainTagLabel[] = "aura-agent chunk v1";

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

Status DeriveObjectKey(const Key& key, const std::array<uint8_t, 32>& salt,
                       std::array<uint8_t, 32>& out) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) return InternalError("OpenSSL has no HKDF");
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.bytes.data()),
                                        key.bytes.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(kHkdfInfo),
                                        sizeof(kHkdfInfo) - 1),
      OSSL_PARAM_construct_end()};
  int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) return InternalError("HKDF derivation failed");
  return Status::Ok();
}

std::array<uint8_t, 12> Nonce(uint64_t index) {
  std::array<uint8_t, 12> n{};
  PutBE64(n.data() + 4, index);
  return n;
}

bool KnownKind(uint8_t k) { return k >= 1 && k <= 4; }

}  // namespace

Result<std::vector<uint8_t>> EncodeHeader(ObjectHeader& h) {
  if (h.name.empty() || h.name.size() > kMaxNameLength) {
    return InvalidArgument("object name must be 1 to 1024 bytes");
  }
  if (h.public_metadata.size() > kMaxPublicMetadata) {
    return InvalidArgument("public metadata larger than 64 KiB");
  }
  if (h.block_size < kMinBlockSize || h.block_size > kMaxBlockSize) {
    return InvalidArgument("block size out of range");
  }
  size_t total =
      kFixedHeaderSize + h.name.size() + 4 + h.public_metadata.size() + kHeaderDigestSize;
  std::vector<uint8_t> b(total, 0);
  std::memcpy(b.data(), kObjectMagic, 8);
  PutLE16(&b[8], h.version);
  b[10] = static_cast<uint8_t>(h.kind);
  b[11] = static_cast<uint8_t>(h.compression);
  b[12] = static_cast<uint8_t>(h.cipher);
  PutLE32(&b[16], h.block_size);
  PutLE32(&b[20], static_cast<uint32_t>(total));
  PutLE64(&b[24], h.key_id);
  std::memcpy(&b[32], h.salt.data(), 32);
  PutLE64(&b[64], static_cast<uint64_t>(h.created_us));
  PutLE64(&b[72], h.generation);
  PutLE64(&b[80], h.first_position);
  PutLE64(&b[88], h.last_position);
  PutLE16(&b[96], static_cast<uint16_t>(h.name.size()));
  size_t p = kFixedHeaderSize;
  std::memcpy(&b[p], h.name.data(), h.name.size());
  p += h.name.size();
  PutLE32(&b[p], static_cast<uint32_t>(h.public_metadata.size()));
  p += 4;
  std::memcpy(&b[p], h.public_metadata.data(), h.public_metadata.size());
  p += h.public_metadata.size();
  h.digest = Sha256::Of(std::span<const uint8_t>(b.data(), p));
  std::memcpy(&b[p], h.digest.data(), 32);
  return b;
}

Result<size_t> HeaderLength(std::span<const uint8_t> prefix) {
  if (prefix.size() < 24) return Corruption("shorter than an object header");
  if (std::memcmp(prefix.data(), kObjectMagic, 8) != 0) {
    return Corruption("not an Aura object (bad magic)");
  }
  uint16_t version = GetLE16(&prefix[8]);
  if (version != kFormatVersion) {
    return Unsupported("object format version " + std::to_string(version) +
                       " is not supported by this agent (it reads version " +
                       std::to_string(kFormatVersion) + "); upgrade aura-agent");
  }
  uint32_t len = GetLE32(&prefix[20]);
  if (len < kFixedHeaderSize + 1 + 4 + kHeaderDigestSize || len > kMaxHeaderSize) {
    return Corruption("object header length " + std::to_string(len) + " is out of range");
  }
  return static_cast<size_t>(len);
}

Result<ObjectHeader> DecodeHeader(std::span<const uint8_t> b, const std::string& what) {
  auto fail = [&](const std::string& why) { return Corruption(what + ": " + why); };
  auto len = HeaderLength(b);
  if (!len.ok()) return len.status().WithContext(what);
  if (b.size() != *len) return fail("truncated header");
  Digest d = Sha256::Of(b.first(*len - kHeaderDigestSize));
  if (std::memcmp(d.data(), &b[*len - kHeaderDigestSize], 32) != 0) {
    return fail("header checksum mismatch (the header is damaged)");
  }
  ObjectHeader h;
  h.version = GetLE16(&b[8]);
  if (!KnownKind(b[10]) || b[11] > 1 || b[12] > 1 || b[13] || b[14] || b[15]) {
    return Unsupported(what + ": unknown object kind, compression or cipher; upgrade aura-agent");
  }
  h.kind = static_cast<ObjectKind>(b[10]);
  h.compression = static_cast<Compression>(b[11]);
  h.cipher = static_cast<Cipher>(b[12]);
  h.block_size = GetLE32(&b[16]);
  if (h.block_size < kMinBlockSize || h.block_size > kMaxBlockSize) return fail("bad block size");
  h.key_id = GetLE64(&b[24]);
  std::memcpy(h.salt.data(), &b[32], 32);
  h.created_us = static_cast<int64_t>(GetLE64(&b[64]));
  h.generation = GetLE64(&b[72]);
  h.first_position = GetLE64(&b[80]);
  h.last_position = GetLE64(&b[88]);
  size_t name_len = GetLE16(&b[96]);
  size_t p = kFixedHeaderSize;
  if (name_len == 0 || p + name_len + 4 + kHeaderDigestSize > *len) return fail("bad name length");
  h.name.assign(reinterpret_cast<const char*>(&b[p]), name_len);
  p += name_len;
  size_t meta_len = GetLE32(&b[p]);
  p += 4;
  if (p + meta_len + kHeaderDigestSize != *len) return fail("bad metadata length");
  h.public_metadata.assign(reinterpret_cast<const char*>(&b[p]), meta_len);
  h.digest = d;
  return h;
}

std::array<uint8_t, kTrailerSize> EncodeTrailer(const Trailer& t) {
  std::array<uint8_t, kTrailerSize> b{};
  PutLE64(&b[0], t.chunk_count);
  PutLE64(&b[8], t.plaintext_size);
  std::memcpy(&b[16], t.sha256.data(), 32);
  return b;
}

Trailer DecodeTrailer(std::span<const uint8_t, kTrailerSize> b) {
  Trailer t;
  t.chunk_count = GetLE64(&b[0]);
  t.plaintext_size = GetLE64(&b[8]);
  std::memcpy(t.sha256.data(), &b[16], 32);
  return t;
}

ChunkSealer::~ChunkSealer() { SecureWipe(object_key_); }

Result<ChunkSealer> ChunkSealer::Create(const ObjectHeader& h, const Key* key) {
  ChunkSealer s;
  s.cipher_ = h.cipher;
  s.header_digest_ = h.digest;
  if (h.cipher == Cipher::kAes256Gcm) {
    if (key == nullptr) return KeyError("a key is needed for an encrypted object");
    AURA_RETURN_IF_ERROR(DeriveObjectKey(*key, h.salt, s.object_key_));
  }
  return s;
}

std::array<uint8_t, 41> ChunkSealer::Ad(uint64_t index, bool final) const {
  std::array<uint8_t, 41> ad{};
  std::memcpy(ad.data(), header_digest_.data(), 32);
  PutLE64(&ad[32], index);
  ad[40] = final ? 1 : 0;
  return ad;
}

Result<std::vector<uint8_t>> ChunkSealer::Seal(uint64_t index, bool final,
                                               std::span<const uint8_t> plaintext) const {
  if (plaintext.size() >= kFinalFlag) return InvalidArgument("chunk too large");
  std::vector<uint8_t> out(4 + plaintext.size() + kTagSize);
  PutLE32(out.data(), static_cast<uint32_t>(plaintext.size()) | (final ? kFinalFlag : 0));
  auto ad = Ad(index, final);
  uint8_t* payload = out.data() + 4;
  uint8_t* tag = payload + plaintext.size();
  if (cipher_ == Cipher::kNone) {
    std::memcpy(payload, plaintext.data(), plaintext.size());
    Sha256 h;
    h.Update(std::string_view(kPlainTagLabel));
    h.Update(ad);
    h.Update(plaintext);
    Digest d = h.Finish();
    std::memcpy(tag, d.data(), kTagSize);
    return out;
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  auto nonce = Nonce(index);
  int n = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, object_key_.data(), nonce.data()) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &n, ad.data(), static_cast<int>(ad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), payload, &n, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), payload + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) != 1) {
    return InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

Result<std::vector<uint8_t>> ChunkSealer::Open(uint64_t index, bool final,
                                               std::span<const uint8_t> sealed,
                                               std::span<const uint8_t> tag) const {
  auto ad = Ad(index, final);
  std::vector<uint8_t> out(sealed.size());
  if (cipher_ == Cipher::kNone) {
    Sha256 h;
    h.Update(std::string_view(kPlainTagLabel));
    h.Update(ad);
    h.Update(sealed);
    Digest d = h.Finish();
    if (std::memcmp(d.data(), tag.data(), kTagSize) != 0) {
      return Corruption("chunk " + std::to_string(index) + " checksum mismatch");
    }
    std::memcpy(out.data(), sealed.data(), sealed.size());
    return out;
  }
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  auto nonce = Nonce(index);
  int n = 0;
  uint8_t tag_copy[kTagSize];
  std::memcpy(tag_copy, tag.data(), kTagSize);
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, object_key_.data(), nonce.data()) !=
          1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, ad.data(), static_cast<int>(ad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &n, sealed.data(),
                        static_cast<int>(sealed.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag_copy) != 1) {
    return InternalError("AES-256-GCM decryption setup failed");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &final_len) != 1) {
    return Corruption("chunk " + std::to_string(index) +
                      " failed authentication (damaged, truncated, reordered or tampered)");
  }
  return out;
}

}  // namespace aura::backup
