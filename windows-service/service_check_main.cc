// aura-service-check.exe: the Windows service glue (service_win32.cc) around a stand-in daemon
// that waits for its stop. scripts/windows-check builds it with mingw-w64 to prove the Windows
// units compile and link; on a Windows machine it is a way to try the SCM integration
// (install, start, stop from services.msc, event log entries) without the whole agent:
//   aura-service-check service install | start | stop | uninstall
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>

#include "windows-service/service.h"

namespace {

// Stands in for RunDaemon: ready at once, returns 0 when the service's stop arrives.
int StandInDaemon(aura::ServiceHooks& hooks) {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  hooks.InstallStopper([&] {
    std::lock_guard<std::mutex> lock(mu);
    stop = true;
    cv.notify_all();
  });
  hooks.Ready();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return stop; });
  hooks.Stopping(std::chrono::seconds(1));
  lock.unlock();
  hooks.RemoveStopper();
  return 0;
}

int Report(const aura::Status& s) {
  if (s.ok()) return 0;
  std::fprintf(stderr, "aura-service-check: error: %s\n", s.message().c_str());
  return static_cast<int>(s.code());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string verb = argc >= 3 && std::string(argv[1]) == "service" ? argv[2] : "";
  using std::chrono::seconds;
  if (verb == "install") return Report(aura::winsvc::Install({}));
  if (verb == "uninstall") return Report(aura::winsvc::Uninstall());
  if (verb == "start") return Report(aura::winsvc::Start(seconds(60)));
  if (verb == "stop") return Report(aura::winsvc::Stop(seconds(90)));
  if (verb == "run") return aura::winsvc::RunUnderServiceManager("(stand-in)", &StandInDaemon);
  std::fprintf(stderr, "usage: aura-service-check service install|uninstall|start|stop|run\n");
  return 2;
}
