// aura-repository.json, the repository marker: its fields and its JSON. The marker is read from
// the target before anything else, so its bytes are untrusted: ParseRepositoryInfo checks every
// field it returns (format, id, encryption, KDF salt and scrypt parameters in range) and never
// throws (tests/fuzz/repository_info_fuzz.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backup/keyring.h"
#include "common/status.h"

namespace aura::backup {

struct RepositoryInfo {
  int format = 1;
  std::string id;
  std::string created;
  std::string encryption;  // "aes-256-gcm" or "none"
  std::vector<uint8_t> kdf_salt;
  ScryptParams kdf;
};

std::string RepositoryInfoToJson(const RepositoryInfo& info);
// `where` names the file in errors. kUnsupported for a newer format, kCorruption for anything
// else that is not a marker this agent wrote.
Result<RepositoryInfo> ParseRepositoryInfo(const std::string& text, const std::string& where);

}  // namespace aura::backup
