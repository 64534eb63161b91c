// Keys and the keyring: which 256-bit key encrypts new objects and which keys can read old ones.
//
// A key is 32 random bytes. Its id is the first 8 bytes of HMAC-SHA256(key, "aura-agent key id
// v1"), shown as 16 hex digits; every object header names the id of the key that sealed it, so a
// restore picks the right key and a wrong key is reported as such rather than as corruption.
//
// Key file format (text, created mode 0600 by `aura-agent key generate`; refused when its group or
// other users have any access to it, see common/secret_file.h):
//
//   # comment lines and blank lines are ignored
//   aura-key-v1 <base64 of 32 bytes>
//   aura-key-v1 <base64 of 32 bytes>      <- the last key is the newest: it seals new objects
//
// Rotation appends a key (`aura-agent key add`); older keys stay to read history, which rotation
// never re-encrypts. Retirement (`aura-agent key retire`, key_retirement.h) re-seals what one
// key sealed under the newest key, so that key can leave the file.
//
// Passphrases: a key is derived with scrypt (N=2^15, r=8, p=1) and a per-repository random salt
// kept in the repository's aura-repository.json, so the same passphrase gives different keys in
// different repositories.
//
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/secret_file.h"
#include "common/status.h"

namespace aura::backup {

using KeyId = uint64_t;

// Every copy of a key wipes its bytes when it is destroyed (secure_wipe.h).
struct Key {
  std::array<uint8_t, 32> bytes{};
  KeyId id = 0;

  Key() = default;
  Key(const Key&) = default;
  Key& operator=(const Key&) = default;
  Key(Key&&) = default;
  Key& operator=(Key&&) = default;
  ~Key();

  static Key FromBytes(const std::array<uint8_t, 32>& bytes);
  std::string IdHex() const;
};

struct ScryptParams {
  uint64_t n = 1 << 15;
  uint32_t r = 8;
  uint32_t p = 1;
};

// Derives a key from a passphrase. kKeyError if the passphrase is empty.
Result<Key> DeriveKeyFromPassphrase(const std::string& passphrase, const std::vector<uint8_t>& salt,
                                    const ScryptParams& params);

class Keyring {
 public:
  Keyring() = default;
  explicit Keyring(std::vector<Key> keys) : keys_(std::move(keys)) {}

  // Reads a key file. NotFound if missing; kKeyError naming the line if malformed, or naming the
  // mode if others may read it (ReadSecretFile).
  static Result<Keyring> LoadFile(const std::string& path);

  bool empty() const { return keys_.empty(); }
  // The newest key; must not be called on an empty keyring.
  const Key& WriteKey() const { return keys_.back(); }
  // The key with `id`, or nullptr.
  const Key* Find(KeyId id) const;
  const std::vector<Key>& keys() const { return keys_; }

 private:
  std::vector<Key> keys_;
};

// Generates a fresh random key.
Result<Key> GenerateKey();

// Text of a key file holding `keys` (oldest first).
std::string FormatKeyFile(const std::vector<Key>& keys);

// Creates a new key file with one fresh key, mode 0600. AlreadyExists if `path` exists.
Result<Key> CreateKeyFile(const std::string& path);

// Appends a fresh key to an existing key file (atomically rewritten, mode 0600, with the owner and
// group the file had: a key the agent's account owns stays readable to it when root rotates).
Result<Key> AddKeyToFile(const std::string& path);

}  // namespace aura::backup
