// The aura-agent command line (CLI11). Returns the process exit code; docs/CLI.md documents the
// commands and the exit codes.
#pragma once

namespace aura::agent {

int RunCli(int argc, char** argv);

}  // namespace aura::agent
