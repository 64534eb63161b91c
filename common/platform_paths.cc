// Every platform's default paths, as data: compiled everywhere so each is tested on Linux.
#include <cstdlib>
#include <string>

#include "common/platform.h"

namespace aura::platform {

DefaultPaths LinuxDefaults() {
  DefaultPaths p;
  p.config_file = "/etc/aura-agent/agent.toml";
  p.state_dir = "/var/lib/aura-agent";
  p.status_socket = "/run/aura-agent/agent.sock";
  p.log_dir = "/var/log/aura-agent";
  return p;
}

DefaultPaths MacDefaults() {
  const std::string base = "/Library/Application Support/Aura Agent";
  DefaultPaths p;
  p.config_file = base + "/agent.toml";
  p.state_dir = base + "/state";
  p.status_socket = base + "/state/agent.sock";
  p.log_dir = "/Library/Logs/Aura Agent";
  return p;
}

DefaultPaths WindowsDefaults(std::string_view program_data) {
  std::string root(program_data.empty() ? std::string_view("C:\\ProgramData") : program_data);
  while (!root.empty() && (root.back() == '\\' || root.back() == '/')) root.pop_back();
  const std::string base = root + "\\Aura Agent";
  DefaultPaths p;
  p.config_file = base + "\\agent.toml";
  p.state_dir = base + "\\state";
  p.status_tcp = "127.0.0.1:" + std::to_string(kDefaultStatusPort);
  p.status_token_file = base + "\\status.token";
  p.log_dir = base + "\\logs";
  return p;
}

DefaultPaths Defaults() {
#if defined(_WIN32)
  const char* pd = std::getenv("ProgramData");
  return WindowsDefaults(pd != nullptr ? pd : "");
#elif defined(__APPLE__)
  return MacDefaults();
#else
  return LinuxDefaults();
#endif
}

}  // namespace aura::platform
