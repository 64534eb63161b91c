// THE AURA OBJECT FORMAT, VERSION 1
//
// Every object the agent puts in a repository (snapshot data, snapshot manifests, and WAL
// segments) has the same outer form: a header that says what the object is and how it is
// sealed, then a run of chunks, the last of which is a trailer. Objects are immutable and
// self-describing: a reader needs nothing but the object (and, if encrypted, the key).
// docs/FORMAT.md holds the same text for readers who do not read C++.
//
// HEADER. Integers are little-endian.
//
//    Offset  Size  Field
//         0     8  Magic: 0x89 'A' 'U' 'R' 'A' 0x0D 0x0A 0x1A. The high byte and CR LF catch
//                  7-bit and newline-translating transfers, as PNG's signature does.
//         8     2  Format version: 1. A reader refuses a version it does not know.
//        10     1  Kind: 1 snapshot data, 2 snapshot manifest, 3 WAL segment, 4 page set.
//        11     1  Compression: 0 none, 1 zstd (each data chunk is one zstd frame).
//        12     1  Cipher: 0 none, 1 AES-256-GCM.
//        13     3  Reserved, zero.
//        16     4  Block size B: plaintext bytes per data chunk (only the last may be shorter).
//                  4096 <= B <= 64 MiB.
//        20     4  Header length H, including the digest that ends the header.
//        24     8  Key id of the sealing key (0 when the cipher is none). See keyring.h.
//        32    32  Salt: random per object. Input to the per-object key derivation.
//        64     8  Created: microseconds since 1970-01-01T00:00:00Z.
//        72     8  Generation (WAL lineage; 0 for objects outside one).
//        80     8  First position (transaction id) the object covers, or 0.
//        88     8  Last position the object covers, or 0.
//        96     2  Name length N, 1 <= N <= 1024.
//        98     N  Name: the object's own name in the repository (UTF-8). A reader that opened
//                  the object by one name and finds another here has a swapped or renamed object.
//      98+N     4  Public metadata length M, M <= 64 KiB.
//     102+N     M  Public metadata: JSON readable without the key: names, times, sizes, labels;
//                  never database content, hashes of content, or paths.
//      H-32    32  Header digest: SHA-256 of bytes [0, H-32).
//
// CHUNKS follow the header back to back. Chunk i (i = 0, 1, ...) is:
//
//    Offset  Size  Field
//         0     4  Length word: bit 31 is the final flag; bits 0-30 are L, the payload length.
//         4     L  Sealed payload.
//       4+L    16  Tag.
//
// Data chunks hold the plaintext in order, one block each, compressed as the header says. The
// final chunk (final flag set, exactly one, last in the object) holds the 48-byte trailer, not
// compressed:
//
//         0     8  Number of data chunks.
//         8     8  Plaintext size: the sum of all block sizes.
//        16    32  SHA-256 of the whole plaintext, so a restore proves byte equality.
//
// SEALING. For chunk i with final flag f, the associated data is
//     AD = header digest (32 bytes) || i (8 bytes, little-endian) || f (1 byte).
// Binding the header digest (hence the name and the random salt) and the index means that
// truncation (no final chunk), extension (bytes after it), reordering, and splicing chunks or
// headers between objects all fail authentication.
//   Cipher 1: object key = HKDF-SHA256(IKM = the 32-byte key, salt = header salt,
//     info = "aura-agent object v1"); nonce = 4 zero bytes || i (8 bytes, big-endian);
//     payload and tag are AES-256-GCM(object key, nonce, AD, plaintext). A fresh key per object
//     makes nonce reuse impossible however many objects a key seals.
//   Cipher 0: the payload is the plaintext; tag = the first 16 bytes of
//     SHA-256("aura-agent chunk v1" || AD || payload). This catches damage, not tampering.
//
// VALIDITY. A reader rejects the object unless: the magic matches; the version is known
// (otherwise kUnsupported); kind, compression and cipher are known and reserved bytes are zero;
// the header digest matches; the name is the expected one; chunk indexes run 0, 1, ... with
// every tag verifying; each data chunk decompresses to exactly B bytes (the last to 1..B); the
// final chunk is present, its counts and SHA-256 match what was read, and nothing follows it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backup/keyring.h"
#include "common/hashing.h"
#include "common/status.h"

namespace aura::backup {

inline constexpr uint8_t kObjectMagic[8] = {0x89, 'A', 'U', 'R', 'A', 0x0D, 0x0A, 0x1A};
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr size_t kFixedHeaderSize = 98;
inline constexpr size_t kHeaderDigestSize = 32;
inline constexpr size_t kTagSize = 16;
inline constexpr size_t kTrailerSize = 48;
inline constexpr uint32_t kFinalFlag = 0x80000000u;
inline constexpr uint32_t kMinBlockSize = 4096;
inline constexpr uint32_t kMaxBlockSize = 64u << 20;
inline constexpr size_t kMaxPublicMetadata = 64 * 1024;
inline constexpr size_t kMaxNameLength = 1024;
// Largest header a reader accepts.
inline constexpr size_t kMaxHeaderSize =
    kFixedHeaderSize + kMaxNameLength + 4 + kMaxPublicMetadata + kHeaderDigestSize;

enum class ObjectKind : uint8_t { kSnapshotData = 1, kManifest = 2, kWalSegment = 3, kPageSet = 4 };
enum class Compression : uint8_t { kNone = 0, kZstd = 1 };
enum class Cipher : uint8_t { kNone = 0, kAes256Gcm = 1 };

struct ObjectHeader {
  uint16_t version = kFormatVersion;
  ObjectKind kind = ObjectKind::kSnapshotData;
  Compression compression = Compression::kZstd;
  Cipher cipher = Cipher::kAes256Gcm;
  uint32_t block_size = 1u << 20;
  KeyId key_id = 0;
  std::array<uint8_t, 32> salt{};
  int64_t created_us = 0;
  uint64_t generation = 0;
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  std::string name;
  std::string public_metadata;

  // Set by Encode/Decode: SHA-256 of the header bytes before the digest.
  Digest digest{};
};

// Serializes `h` (and sets h.digest). kInvalidArgument if a field is out of range.
Result<std::vector<uint8_t>> EncodeHeader(ObjectHeader& h);

// Length of the header whose first kFixedHeaderSize+... bytes are in `prefix`, once enough bytes
// are there to know it (reads the header-length field). kCorruption/kUnsupported on a bad prefix.
Result<size_t> HeaderLength(std::span<const uint8_t> prefix);

// Parses and checks a complete header (exactly HeaderLength bytes). `what` names the object in
// messages.
Result<ObjectHeader> DecodeHeader(std::span<const uint8_t> bytes, const std::string& what);

struct Trailer {
  uint64_t chunk_count = 0;
  uint64_t plaintext_size = 0;
  Digest sha256{};
};

std::array<uint8_t, kTrailerSize> EncodeTrailer(const Trailer& t);
Trailer DecodeTrailer(std::span<const uint8_t, kTrailerSize> bytes);

// Seals and opens the chunks of one object. Immutable after construction; its methods are
// safe to call from several threads at once (the pipeline's workers do).
class ChunkSealer {
 public:
  // `key` must be non-null when h.cipher is kAes256Gcm.
  static Result<ChunkSealer> Create(const ObjectHeader& h, const Key* key);

  ChunkSealer() = default;
  ChunkSealer(const ChunkSealer&) = default;
  ChunkSealer& operator=(const ChunkSealer&) = default;
  ChunkSealer(ChunkSealer&&) = default;
  ChunkSealer& operator=(ChunkSealer&&) = default;
  ~ChunkSealer();  // wipes the object key

  // Length word + sealed payload + tag, ready to append to the object.
  Result<std::vector<uint8_t>> Seal(uint64_t index, bool final,
                                    std::span<const uint8_t> plaintext) const;
  // Verifies the tag and returns the plaintext payload. kCorruption on failure.
  Result<std::vector<uint8_t>> Open(uint64_t index, bool final, std::span<const uint8_t> sealed,
                                    std::span<const uint8_t> tag) const;

 private:
  std::array<uint8_t, 41> Ad(uint64_t index, bool final) const;

  Cipher cipher_ = Cipher::kNone;
  Digest header_digest_{};
  std::array<uint8_t, 32> object_key_{};
};

}  // namespace aura::backup
