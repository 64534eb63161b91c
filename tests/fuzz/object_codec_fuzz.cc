// Sealed objects (backup/object_format.h, object_codec.h) as read back from a target: a header,
// chunks, a trailer, possibly truncated or with bytes after it. Whatever the bytes, reading the
// header and decoding the whole object ends in a value or an error; never a crash, a read out of
// bounds or an allocation sized by the input beyond the format's limits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "backup/object_codec.h"

namespace {

using aura::Result;

class MemoryReader final : public aura::backup::ObjectReader {
 public:
  explicit MemoryReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  Result<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = std::min(buf.size(), bytes_.size() - at_);
    if (n > 0) std::memcpy(buf.data(), bytes_.data() + at_, n);
    at_ += n;
    return n;
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t at_ = 0;
};

// The key of the seed corpus's encrypted objects (32 bytes of 0x11), so the fuzzer reaches the
// authenticated-decryption path as well as the key-lookup failure.
const aura::backup::Keyring& FuzzKeys() {
  static const aura::backup::Keyring keys = [] {
    std::array<uint8_t, 32> raw{};
    raw.fill(0x11);
    std::vector<aura::backup::Key> v;
    v.push_back(aura::backup::Key::FromBytes(raw));
    return aura::backup::Keyring(std::move(v));
  }();
  return keys;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  {
    MemoryReader in(bytes);
    (void)aura::backup::ReadObjectHeader(in, "fuzz.data");
  }
  auto decoder =
      aura::backup::ObjectDecoder::Open(std::make_unique<MemoryReader>(bytes), FuzzKeys(), "", 1);
  if (!decoder.ok()) return 0;
  uint64_t seen = 0;
  auto summary = (*decoder)->ReadAll([&seen](std::span<const uint8_t> plain) {
    seen += plain.size();
    return aura::Status::Ok();
  });
  if (summary.ok() && summary->plaintext_size != seen) __builtin_trap();
  return 0;
}
