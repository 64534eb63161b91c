// The service manager's notification protocol (systemd's sd_notify(3)), spoken directly: one
// datagram per message to the AF_UNIX socket named by NOTIFY_SOCKET (a path, or an abstract
// name written "@name"), no libsystemd. Messages are newline-separated KEY=VALUE lines:
// READY=1 once the databases are opened and the status socket listens, STATUS=<one line> saying
// what the agent does, WATCHDOG=1 every half of WATCHDOG_USEC (only when WATCHDOG_PID is unset or
// this process's pid), RELOADING=1 around SIGHUP (READY=1 again after), STOPPING=1 on shutdown.
// Without NOTIFY_SOCKET (not under systemd, or Type=simple) every call is a no-op, as with
// libsystemd. A failed send is logged once and otherwise ignored: the service manager's
// bookkeeping never stops the agent's work.
//
// Thread-safety: Send may be called from any thread (one sendto per message).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace aura::agent {

class ServiceNotifier {
 public:
  // From NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID of this process's environment.
  static ServiceNotifier FromEnvironment();
  // For tests: explicit values (empty socket: disabled).
  ServiceNotifier(std::string socket, std::optional<std::chrono::microseconds> watchdog);

  bool enabled() const { return !socket_.empty(); }
  // How often to send WATCHDOG=1 (half the manager's timeout); nullopt when no watchdog is
  // asked of this process.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  // Sends `message` ("READY=1\nSTATUS=..."); OK when disabled.
  Status Send(std::string_view message) const;

 private:
  std::string socket_;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace aura::agent
