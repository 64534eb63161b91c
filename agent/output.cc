#include "agent/output.h"

#include <cstdio>
#include <iostream>

namespace aura::agent {

void Output::Line(const std::string& text) const {
  if (!json_) std::cout << text << "\n";
}

void Output::Json(const nlohmann::json& doc) const {
  if (json_) std::cout << doc.dump(2) << "\n";
}

int ExitCode(const Status& status) { return static_cast<int>(status.code()); }

int Output::Fail(const Status& status) const {
  std::cout.flush();
  std::cerr << "aura-agent: error: " << status.message() << "\n";
  if (json_) {
    nlohmann::json doc = {{"error",
                           {{"code", std::string(CodeName(status.code()))},
                            {"exit_code", ExitCode(status)},
                            {"message", status.message()}}}};
    std::cout << doc.dump(2) << "\n";
  }
  return ExitCode(status);
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace aura::agent
