#include "agent/cli.h"

int main(int argc, char** argv) { return aura::agent::RunCli(argc, argv); }
