// `aura-agent service ...` where there is no Windows Service Control Manager.
#include <cstdio>

#include "windows-service/service.h"

namespace aura::winsvc {

namespace {

Status NotHere(const char* what) {
#ifdef __APPLE__
  const char* how =
      "on macOS the agent runs under launchd: sudo launchd/install.sh (docs/INSTALL.md)";
#else
  const char* how =
      "on Linux the agent runs under systemd: install the .deb, or systemd/aura-agent.service, "
      "then systemctl enable --now aura-agent (docs/INSTALL.md)";
#endif
  return Unsupported(std::string("aura-agent service ") + what + " is for Windows; " + how);
}

}  // namespace

Status Install(const InstallOptions& options) {
  (void)options;
  return NotHere("install");
}
Status Uninstall() { return NotHere("uninstall"); }
Status Start(std::chrono::seconds wait) {
  (void)wait;
  return NotHere("start");
}
Status Stop(std::chrono::seconds wait) {
  (void)wait;
  return NotHere("stop");
}

int RunUnderServiceManager(const std::string& config_file,
                           const std::function<int(ServiceHooks&)>& run) {
  (void)config_file;
  (void)run;
  Status s = NotHere("run");
  std::fprintf(stderr, "aura-agent: error: %s\n", s.message().c_str());
  return static_cast<int>(s.code());
}

}  // namespace aura::winsvc
