// SHA-256 (incremental, OpenSSL EVP), hex and base64 encoding, and secure random bytes.
//
// Thread-safety: a Sha256 object is used by one thread at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace aura {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;

  void Update(std::span<const uint8_t> data);
  void Update(std::string_view data) {
    Update({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  }
  // Returns the digest; the object must not be updated afterwards.
  Digest Finish();

  static Digest Of(std::span<const uint8_t> data);
  static Digest Of(std::string_view data) {
    return Of({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HMAC-SHA256(key, data).
Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data);

std::string HexEncode(std::span<const uint8_t> data);
// Fails with kInvalidArgument on odd length or a non-hex character.
Result<std::vector<uint8_t>> HexDecode(std::string_view hex);
std::string Base64Encode(std::span<const uint8_t> data);
Result<std::vector<uint8_t>> Base64Decode(std::string_view text);

// Fills `out` from the OS CSPRNG (OpenSSL RAND_bytes). kInternal if the generator fails.
Status RandomBytes(std::span<uint8_t> out);

inline std::span<const uint8_t> AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace aura
