#include "agent/output.h"

#include <cstdio>
#include <iostream>

#include "common/terminal_text.h"

namespace aura::agent {

void Output::Line(const std::string& text) const {
  EndProgress();
  if (!json_) std::cout << EscapeForTerminal(text) << "\n";
}

void Output::Json(const nlohmann::json& doc) const {
  EndProgress();
  if (json_) std::cout << JsonText(doc) << "\n";
}

int ExitCode(const Status& status) { return static_cast<int>(status.code()); }

int Output::Fail(const Status& status, nlohmann::json doc) const {
  EndProgress();
  std::cout.flush();
  std::cerr << "aura-agent: error: " << EscapeLinesForTerminal(status.message()) << "\n";
  if (json_) {
    doc["error"] = {{"code", std::string(CodeName(status.code()))},
                    {"exit_code", ExitCode(status)},
                    {"message", status.message()}};
    std::cout << JsonText(doc) << "\n";
  }
  return ExitCode(status);
}

std::string JsonText(const nlohmann::json& doc) {
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string PadRight(std::string_view text, size_t width) {
  std::string s = EscapeForTerminal(text);
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string PadLeft(std::string_view text, size_t width) {
  std::string s = EscapeForTerminal(text);
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

}  // namespace aura::agent
