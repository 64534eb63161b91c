// Migration scripts (migrations/migration_source.h): per-migration files, down files and
// `dotnet ef migrations script` output, from the operator's folder or a release. Any text gives
// migrations or a kRefused "FILE:LINE: ..." error; never a crash, a hang or an escaped exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "migrations/migration_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)aura::migrations::ParseMigrationFile(text, "20260101000000_Fuzz.sql");
  (void)aura::migrations::ParseDownFile(text, "20260101000000_Fuzz.down.sql",
                                        "20260101000000_Fuzz");
  (void)aura::migrations::ParseEfScript(text, "script.sql");
  return 0;
}
