#include "backup/keyring.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string_view>

#include "common/bytes.h"
#include "common/file_io.h"
#include "common/hashing.h"
#include "common/platform.h"
#include "common/secret_file.h"
#include "common/secure_wipe.h"

namespace aura::backup {

namespace {
constexpr char kKeyLinePrefix[] = "aura-key-v1 ";
constexpr char kKeyIdLabel[] = "aura-agent key id v1";
}  // namespace

Key::~Key() { SecureWipe(bytes); }

Key Key::FromBytes(const std::array<uint8_t, 32>& bytes) {
  Key k;
  k.bytes = bytes;
  Digest d = HmacSha256(k.bytes, AsBytes(kKeyIdLabel));
  k.id = GetBE64(d.data());
  return k;
}

std::string Key::IdHex() const {
  uint8_t b[8];
  PutBE64(b, id);
  return HexEncode(b);
}

Result<Key> DeriveKeyFromPassphrase(const std::string& passphrase, const std::vector<uint8_t>& salt,
                                    const ScryptParams& params) {
  if (passphrase.empty()) return KeyError("the backup passphrase is empty");
  std::array<uint8_t, 32> out{};
  WipeOnExit wipe_out(out);
  if (EVP_PBE_scrypt(passphrase.data(), passphrase.size(), salt.data(), salt.size(), params.n,
                     params.r, params.p, 256ull << 20, out.data(), out.size()) != 1) {
    return InternalError("scrypt key derivation failed");
  }
  return Key::FromBytes(out);
}

const Key* Keyring::Find(KeyId id) const {
  for (const Key& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

namespace {

// One key from a line "aura-key-v1 <base64>"; nullopt if the line is not one. Every buffer the
// key passed through is wiped.
std::optional<Key> ParseKeyLine(std::string_view line) {
  if (line.rfind(kKeyLinePrefix, 0) != 0) return std::nullopt;
  auto raw = Base64Decode(line.substr(std::strlen(kKeyLinePrefix)));
  if (!raw.ok()) return std::nullopt;
  WipeOnExit wipe_raw(*raw);
  if (raw->size() != 32) return std::nullopt;
  std::array<uint8_t, 32> bytes{};
  WipeOnExit wipe_bytes(bytes);
  std::memcpy(bytes.data(), raw->data(), 32);
  return Key::FromBytes(bytes);
}

// The keys of a key file's text, read in place (no copy of a line is made).
Result<std::vector<Key>> ParseKeyLines(std::string_view text, const std::string& path) {
  std::vector<Key> keys;
  int line_no = 0;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    std::optional<Key> k = ParseKeyLine(line);
    if (!k) {
      return KeyError(path + ":" + std::to_string(line_no) +
                      ": not a key line (expected 'aura-key-v1 <base64 of 32 bytes>')");
    }
    keys.push_back(*k);
  }
  return keys;
}

}  // namespace

Result<Keyring> Keyring::LoadFile(const std::string& path) {
  auto text = ReadSecretFile(path, 1 << 20, "key file");
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return NotFound("key file " + path +
                      " does not exist; create one with 'aura-agent key generate --out " + path +
                      "'");
    }
    if (text.status().code() == Code::kKeyError) return text.status();
    return text.status().WithContext("key file");
  }
  WipeOnExit wipe_text(*text);
  AURA_ASSIGN_OR_RETURN(std::vector<Key> keys, ParseKeyLines(*text, path));
  if (keys.empty()) return KeyError("key file " + path + " holds no key");
  return Keyring(std::move(keys));
}

Result<Key> GenerateKey() {
  std::array<uint8_t, 32> bytes{};
  WipeOnExit wipe_bytes(bytes);
  AURA_RETURN_IF_ERROR(RandomBytes(bytes));
  return Key::FromBytes(bytes);
}

std::string FormatKeyFile(const std::vector<Key>& keys) {
  std::string out =
      "# Aura Sync Agent backup keys. Keep this file secret and keep a copy off this host:\n"
      "# without it, encrypted backups cannot be restored. The last key seals new objects.\n";
  for (const Key& k : keys) {
    out += "# key id " + k.IdHex() + "\n";
    std::string encoded = Base64Encode(k.bytes);
    WipeOnExit wipe_encoded(encoded);
    out.reserve(out.size() + std::strlen(kKeyLinePrefix) + encoded.size() + 1);
    out += kKeyLinePrefix;
    out += encoded;
    out += "\n";
  }
  return out;
}

Result<Key> CreateKeyFile(const std::string& path) {
  if (PathExists(path)) {
    return AlreadyExists("key file " + path +
                         " already exists; refusing to overwrite a key (use 'aura-agent key add' "
                         "to rotate)");
  }
  AURA_ASSIGN_OR_RETURN(Key k, GenerateKey());
  std::string text = FormatKeyFile({k});
  WipeOnExit wipe_text(text);
  AURA_RETURN_IF_ERROR(WriteFileAtomic(path, text, 0600, /*no_replace=*/true));
  AURA_RETURN_IF_ERROR(platform::RestrictToOwner(path));  // Windows: mode 0600 means nothing
  return k;
}

Result<Key> AddKeyToFile(const std::string& path) {
  AURA_ASSIGN_OR_RETURN(Keyring ring, Keyring::LoadFile(path));
  AURA_ASSIGN_OR_RETURN(Key k, GenerateKey());
  std::vector<Key> keys = ring.keys();
  keys.push_back(k);
  std::string text = FormatKeyFile(keys);
  WipeOnExit wipe_text(text);
  AURA_ASSIGN_OR_RETURN(TempFile t, TempFile::Create(path, 0600));
  AURA_RETURN_IF_ERROR(t.KeepAttributesOf(path, TempFile::Keep::kOwner));
  AURA_RETURN_IF_ERROR(t.file().WriteAll(AsBytes(text)));
  AURA_RETURN_IF_ERROR(t.Commit(/*no_replace=*/false));
  AURA_RETURN_IF_ERROR(platform::RestrictToOwner(path));
  return k;
}

}  // namespace aura::backup
