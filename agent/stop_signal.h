// SIGINT/SIGTERM as a stop request for the foreground commands (replicate, restore --follow).
//
// Thread-safety: the flag is atomic; install once from the main thread.
#pragma once

#include <atomic>

namespace aura::agent {

// Installs handlers that set the flag StopRequested() returns.
void InstallStopHandlers();
const std::atomic<bool>& StopRequested();

}  // namespace aura::agent
