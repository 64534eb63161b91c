// The aura-agent command line (CLI11). Returns the process exit code; docs/CLI.md documents the
// commands and the exit codes.
#pragma once

#include <string>

#include "common/service_hooks.h"

namespace aura::agent {

// How `aura-agent run --config FILE` starts the daemon: main.cc passes the daemon library's
// entry point (agent/daemon/daemon.h), so this library never links the daemon itself.
// `hooks` is the Windows service's (`aura-agent service run`), null for `run`.
using DaemonEntry = int (*)(const std::string& config_path, ServiceHooks* hooks);

int RunCli(int argc, char** argv, DaemonEntry run_daemon);

}  // namespace aura::agent
