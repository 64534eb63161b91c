// The TOML config (agent/config.h): whatever the file holds, ParseConfig returns a Config or an
// error naming the line; it never crashes, throws or hangs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = aura::agent::ParseConfig(text, "fuzz.toml");
  if (config.ok()) (void)config->databases.size();
  return 0;
}
