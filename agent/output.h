// Command output: human text by default, one JSON document with --json. Errors are one line on
// stderr ("aura-agent: error: <what failed>: <what to do>"), and with --json also a JSON object
// on stdout, so scripts never parse prose. The process exit code is the Status code number
// (docs/CLI.md lists them).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace aura::agent {

class Output {
 public:
  explicit Output(bool json) : json_(json) {}
  bool json() const { return json_; }

  // Prints a human line (nothing in JSON mode).
  void Line(const std::string& text) const;
  // Prints the JSON document (nothing in human mode).
  void Json(const nlohmann::json& doc) const;
  // Reports `status` and returns its exit code.
  int Fail(const Status& status) const;

 private:
  bool json_;
};

int ExitCode(const Status& status);

// "1011.2 MiB"
std::string HumanBytes(uint64_t bytes);

}  // namespace aura::agent
