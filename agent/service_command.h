// `aura-agent service install|uninstall|start|stop|run`: the agent as a Windows service
// (windows-service/service.h). On Linux and macOS every one of them is refused with exit 11
// (unsupported) and the platform's way: systemd, launchd (docs/INSTALL.md).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>

#include "agent/cli.h"
#include "agent/output.h"

namespace aura::agent {

class ServiceCommand {
 public:
  // Adds the "service" command group to `app`; `add_json` adds the CLI's --json flag.
  void Add(CLI::App& app, const std::function<void(CLI::App*)>& add_json);
  bool parsed() const;
  // `service run`: what the Service Control Manager starts; runs the daemon until STOP.
  bool run_parsed() const { return run_->parsed(); }
  int Run(DaemonEntry run_daemon) const;
  // install, uninstall, start, stop.
  int Manage(const Output& out) const;

 private:
  CLI::App* group_ = nullptr;
  CLI::App *install_ = nullptr, *uninstall_ = nullptr, *start_ = nullptr, *stop_ = nullptr,
           *run_ = nullptr;
  std::string config_;
  std::string account_;
  int64_t wait_s_ = 90;
};

}  // namespace aura::agent
