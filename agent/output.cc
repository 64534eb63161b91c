#include "agent/output.h"

#include <cstdio>
#include <iostream>

namespace aura::agent {

void Output::Line(const std::string& text) const {
  EndProgress();
  if (!json_) std::cout << text << "\n";
}

void Output::Json(const nlohmann::json& doc) const {
  EndProgress();
  if (json_) std::cout << doc.dump(2) << "\n";
}

int ExitCode(const Status& status) { return static_cast<int>(status.code()); }

int Output::Fail(const Status& status, nlohmann::json doc) const {
  EndProgress();
  std::cout.flush();
  std::cerr << "aura-agent: error: " << status.message() << "\n";
  if (json_) {
    doc["error"] = {{"code", std::string(CodeName(status.code()))},
                    {"exit_code", ExitCode(status)},
                    {"message", status.message()}};
    std::cout << doc.dump(2) << "\n";
  }
  return ExitCode(status);
}

}  // namespace aura::agent
