// Snapshot manifests and their public summaries (backup/manifest.h): JSON from a target. Any
// text gives a Manifest or a kCorruption naming the object; never a crash or an escaped
// exception. A manifest that parses prints back to JSON that parses to the same manifest.
#include <cstddef>
#include <cstdint>
#include <string>

#include "backup/manifest.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)aura::backup::SummaryFromJson(text, "fuzz.manifest");
  auto m = aura::backup::ManifestFromJson(text, "fuzz.manifest");
  if (!m.ok()) return 0;
  const std::string again = aura::backup::ManifestToJson(*m);
  auto m2 = aura::backup::ManifestFromJson(again, "fuzz.manifest (printed back)");
  if (!m2.ok() || aura::backup::ManifestToJson(*m2) != again) __builtin_trap();
  return 0;
}
