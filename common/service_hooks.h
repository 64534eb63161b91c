// How a service manager that is not spoken to by datagrams (the Windows Service Control
// Manager; systemd has agent/daemon/service_notify.h) hears from the daemon and stops it.
//
// The daemon calls Ready() once its databases are opened and its status endpoint listens, and
// Stopping() when a shutdown begins. The service side calls RequestStop() from its control
// handler's thread: the daemon's stopper (installed while its event loop runs) posts a graceful
// shutdown onto that loop, exactly what SIGTERM does. A stop requested before the stopper is
// installed is remembered and happens as soon as it is.
//
// Thread-safety: RequestStop, InstallStopper and RemoveStopper from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace aura {

class ServiceHooks {
 public:
  virtual ~ServiceHooks() = default;

  virtual void Ready() {}
  // Shutdown began; the daemon is done within `within` (its shutdown_timeout).
  virtual void Stopping(std::chrono::seconds within) { (void)within; }
  // The daemon could not start (bad config, state directory in use, status endpoint taken):
  // what it printed to stderr, for a manager without one.
  virtual void Failed(const std::string& why) { (void)why; }

  void RequestStop();
  bool stop_requested() const;

  // The daemon's side: `stop` must be callable from any thread and must not block.
  void InstallStopper(const std::function<void()>& stop);
  void RemoveStopper();

 private:
  mutable std::mutex mu_;
  std::function<void()> stopper_;
  bool requested_ = false;
};

}  // namespace aura
