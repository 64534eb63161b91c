// What the hostile-input suites (hostile_input_test.cc, cli_hostile_input_test.cc,
// hostile_bucket_test.cc) check after a command: that no raw control character reached the
// terminal, and which files a command left behind.
#pragma once

#include <filesystem>
#include <set>
#include <string>
#include <system_error>

namespace aura::testing {

// Whether `text` holds a control character other than a newline (ESC, NUL, DEL, ...).
inline bool HasRawControl(const std::string& text) {
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b < 0x20 && c != '\n') || b == 0x7f) return true;
  }
  return false;
}

// Every file and folder under `dir`, relative to it; empty when `dir` does not exist.
inline std::set<std::string> FilesUnder(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    out.insert(std::filesystem::relative(it->path(), dir).string());
  }
  return out;
}

}  // namespace aura::testing
