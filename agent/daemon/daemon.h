// The daemon, `aura-agent run --config FILE`: everything on schedule, for every configured
// database, until SIGTERM. See docs/DAEMON.md for the operator's view.
//
// This header is the daemon library's (aura_daemon) one entry point: the CLI reaches the daemon
// only through the function main.cc hands it (agent/cli.h), so agent/ cannot call into the
// daemon's pieces, and the link lists enforce it.
#pragma once

#include <string>

#include "common/clock.h"
#include "common/service_hooks.h"

namespace aura::agent {

// Runs until SIGTERM/SIGINT (or `hooks`' RequestStop, the Windows service's stop); returns the
// process exit code (0 after a clean stop). Every schedule, timer and timestamp follows `clock`,
// so a test can run a week of it on a FakeClock.
int RunDaemon(const std::string& config_path, const Clock& clock = SystemClock::Instance(),
              ServiceHooks* hooks = nullptr);

}  // namespace aura::agent
