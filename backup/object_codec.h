// The object codec: plaintext in, authenticated object bytes out (ObjectEncoder), and back
// (ObjectDecoder), streaming, in parallel, with bounded memory. The byte format is described in
// object_format.h.
//
// Memory: at most `threads * 2 + 2` blocks are in flight (block size 1 MiB by default), so an
// encoder or decoder uses a few MiB whatever the object size.
//
// Thread-safety: an encoder or decoder is driven by one thread; it runs its own workers.
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backup/keyring.h"
#include "backup/object_format.h"
#include "backup/storage/storage.h"
#include "common/clock.h"

namespace aura::backup {

struct ObjectSpec {
  ObjectKind kind = ObjectKind::kSnapshotData;
  std::string name;
  uint32_t block_size = 1u << 20;
  Compression compression = Compression::kZstd;
  int zstd_level = 1;
  uint64_t generation = 0;
  uint64_t first_position = 0;
  uint64_t last_position = 0;
  TimePoint created{};
  std::string public_metadata;
};

struct ObjectSummary {
  std::string name;
  uint64_t plaintext_size = 0;
  uint64_t stored_size = 0;
  uint64_t chunk_count = 0;
  Digest sha256{};
};

// Number of worker threads to use by default: the machine's cores.
int DefaultCodecThreads();

class ObjectEncoder {
 public:
  // Writes the header to `out` (which must outlive the encoder). `key` == nullptr means cipher
  // none: callers pass nullptr only when the operator chose `encryption = "none"`.
  static Result<std::unique_ptr<ObjectEncoder>> Start(ObjectWriter* out, const ObjectSpec& spec,
                                                      const Key* key, int threads);
  ~ObjectEncoder();

  // Appends plaintext.
  Status Write(std::span<const uint8_t> data);
  // Appends one whole block without copying. Only valid when the plaintext written so far is
  // a multiple of the block size; `block` holds at most block_size bytes.
  Status WriteBlock(std::vector<uint8_t>&& block);
  // Seals the trailer. The caller then commits `out`.
  Result<ObjectSummary> Finish();

  uint32_t block_size() const { return header_.block_size; }

 private:
  struct Impl;
  ObjectEncoder() = default;
  Status SubmitBlock(std::vector<uint8_t>&& block);

  ObjectHeader header_;
  std::unique_ptr<Impl> impl_;
};

class ObjectDecoder {
 public:
  // Reads and checks the header. `expected_name` (if not empty) must equal the name in the
  // header. kKeyError if the object is encrypted and `keys` lacks its key.
  static Result<std::unique_ptr<ObjectDecoder>> Open(std::unique_ptr<ObjectReader> in,
                                                     const Keyring& keys,
                                                     const std::string& expected_name, int threads);
  ~ObjectDecoder();

  const ObjectHeader& header() const { return header_; }

  // Streams the whole plaintext to `sink` in order, checking every tag, every block size, the
  // trailer's counts and SHA-256, and that nothing follows the trailer. On failure the sink may
  // have received a prefix of the plaintext; callers write into temp files for that reason.
  Result<ObjectSummary> ReadAll(const std::function<Status(std::span<const uint8_t>)>& sink);

 private:
  struct Impl;
  static Status CheckTrailer(Impl& impl, const ObjectHeader& h, uint64_t index,
                             const std::vector<uint8_t>& chunk, uint64_t blocks, uint64_t plain,
                             const Digest& actual);
  ObjectDecoder() = default;

  ObjectHeader header_;
  std::unique_ptr<Impl> impl_;
};

// Reads just the header (for listing without a key). `what` names the object in errors.
Result<ObjectHeader> ReadObjectHeader(ObjectReader& in, const std::string& what);

// Encodes a small in-memory plaintext as one object and commits it to `storage`.
Result<ObjectSummary> PutSealedObject(Storage& storage, const ObjectSpec& spec,
                                      std::span<const uint8_t> plaintext, const Key* key,
                                      const WriteOptions& options);
// Reads and verifies a small object whole.
Result<std::string> GetSealedObject(Storage& storage, const std::string& name, const Keyring& keys,
                                    ObjectHeader* header_out = nullptr);

}  // namespace aura::backup
