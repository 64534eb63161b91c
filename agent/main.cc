// aura-agent: the CLI (agent/cli.h), with the daemon library's entry point for `run`.
#include "agent/cli.h"
#include "agent/daemon/daemon.h"

namespace {

int RunDaemonWithSystemClock(const std::string& config_path) {
  return aura::agent::RunDaemon(config_path);
}

}  // namespace

int main(int argc, char** argv) {
  return aura::agent::RunCli(argc, argv, &RunDaemonWithSystemClock);
}
