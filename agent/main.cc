// aura-agent: the CLI (agent/cli.h), with the daemon library's entry point for `run`.
#include <malloc.h>

#include "agent/cli.h"
#include "agent/daemon/daemon.h"

namespace {

int RunDaemonWithSystemClock(const std::string& config_path, aura::ServiceHooks* hooks) {
  return aura::agent::RunDaemon(config_path, aura::SystemClock::Instance(), hooks);
}

// Keeps the object codec's 1 MiB blocks (and their sealed and compressed copies) in malloc's
// heap for reuse. With glibc's defaults each freed block at the top of an arena's heap is handed
// back to the kernel and the next one is faulted in again as fresh zeroed pages: on the test VMs
// `verify` spent a third of its time in page faults and page clearing (perf: clear_page_erms),
// 6.2 s instead of 4.4 s for a 1 GiB snapshot and 100,000 WAL transactions, for 14 MiB more
// peak RSS (docs/PERFORMANCE.md, issue 10). Fixed values also turn off glibc's dynamic
// threshold, so memory use does not depend on the order of allocations.
void KeepCodecBuffersInTheHeap() {
  mallopt(M_MMAP_THRESHOLD, 4 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
}

}  // namespace

int main(int argc, char** argv) {
  KeepCodecBuffersInTheHeap();
  return aura::agent::RunCli(argc, argv, &RunDaemonWithSystemClock);
}
