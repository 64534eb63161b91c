// The daemon, `aura-agent run --config FILE`: everything on schedule, for every configured
// database, until SIGTERM. See docs/DAEMON.md for the operator's view.
//
// Threads and ownership:
//   - one io_context, run by the main thread: signals, the scheduler's timer, the status server,
//     the 1 s sampler; all of the daemon's bookkeeping lives on this thread;
//   - a step pool (`workers` threads): WAL polling for continuous databases, one strand per
//     (database, target), timers on the strand;
//   - an upload pool (`max_concurrent_uploads` threads): segment uploads and compaction, one
//     strand per (database, target);
//   - a heavy pool (`max_concurrent_snapshots` threads): snapshots, integrity checks, restore
//     drills and prunes, one strand per database, so at most one heavy job runs per database
//     and at most that many run in all, whatever the number of databases.
// Jobs report back by posting to the io_context.
#pragma once

#include <string>

namespace aura::agent {

// Runs until SIGTERM/SIGINT; returns the process exit code (0 after a clean stop).
int RunDaemon(const std::string& config_path);

}  // namespace aura::agent
