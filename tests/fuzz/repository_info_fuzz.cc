// The repository marker aura-repository.json (backup/repository_info.h), the first thing read
// from a target. Any text gives a marker whose fields are all in range, or an error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "backup/repository_info.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto info = aura::backup::ParseRepositoryInfo(text, "fuzz/aura-repository.json");
  if (!info.ok()) return 0;
  const auto& k = info->kdf;
  if (k.n < 1024 || (k.n & (k.n - 1)) != 0 || k.r == 0 || k.p == 0) __builtin_trap();
  auto again =
      aura::backup::ParseRepositoryInfo(aura::backup::RepositoryInfoToJson(*info), "again");
  if (!again.ok() || again->id != info->id || again->kdf_salt != info->kdf_salt) __builtin_trap();
  return 0;
}
