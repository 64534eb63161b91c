// `aura-agent service install|uninstall|start|stop|run`: the agent as a Windows service.
//
// On Windows (service_win32.cc) these talk to the Service Control Manager; `run` is what the SCM
// starts (StartServiceCtrlDispatcherW), reporting START_PENDING, RUNNING and STOP_PENDING with
// wait hints, and turning STOP and PRESHUTDOWN into the daemon's graceful stop. Elsewhere
// (service_other.cc) every command is kUnsupported with the platform's own way (systemd,
// launchd; docs/INSTALL.md).
//
// Thread-safety: called from main's thread; run's control handler runs on the SCM's thread and
// only calls ServiceHooks::RequestStop.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/service_hooks.h"
#include "common/status.h"

namespace aura::winsvc {

struct InstallOptions {
  std::string config_file;  // empty: platform::Defaults().config_file
  std::string account;      // empty: "NT SERVICE\AuraAgent" (service_model.h); "LocalSystem"
};

// Registers the service (automatic start, recovery actions, pre-shutdown time, the event log
// source), creates %ProgramData%\Aura Agent with access for the service's account only, writes a
// status token and a config template when there are none. Does not start it.
Status Install(const InstallOptions& options);
// Stops the service if it runs and removes it and its event source. Never touches the data
// folder: state, spool and local backups stay.
Status Uninstall();
Status Start(std::chrono::seconds wait);
Status Stop(std::chrono::seconds wait);

// What the SCM starts. Calls `run` with hooks the SCM's controls reach; returns its exit code.
// kUnsupported's exit code (with a message on stderr) when not started by the SCM.
int RunUnderServiceManager(const std::string& config_file,
                           const std::function<int(ServiceHooks&)>& run);

}  // namespace aura::winsvc
