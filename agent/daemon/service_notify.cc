#include "agent/daemon/service_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace aura::agent {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

// Half of WATCHDOG_USEC when it is meant for this process (WATCHDOG_PID unset or ours).
std::optional<std::chrono::microseconds> WatchdogFromEnvironment() {
  const std::string usec = Env("WATCHDOG_USEC");
  const std::string pid = Env("WATCHDOG_PID");
  if (usec.empty()) return std::nullopt;
  if (!pid.empty() && pid != std::to_string(::getpid())) return std::nullopt;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(usec.c_str(), &end, 10);
  if (end == usec.c_str() || *end != '\0' || v == 0) return std::nullopt;
  return std::chrono::microseconds(v / 2);
}

}  // namespace

ServiceNotifier ServiceNotifier::FromEnvironment() {
  return ServiceNotifier(Env("NOTIFY_SOCKET"), WatchdogFromEnvironment());
}

ServiceNotifier::ServiceNotifier(std::string socket,
                                 std::optional<std::chrono::microseconds> watchdog)
    : socket_(std::move(socket)), watchdog_(watchdog) {
  // Only absolute paths and abstract names are valid, as sd_notify(3) accepts them.
  if (!socket_.empty() && socket_[0] != '/' && socket_[0] != '@') socket_.clear();
}

Status ServiceNotifier::Send(std::string_view message) const {
  if (socket_.empty()) return Status::Ok();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument("NOTIFY_SOCKET is longer than a socket path may be: " + socket_);
  }
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return ErrnoStatus(errno, "socket for NOTIFY_SOCKET", socket_);
  const ssize_t n = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  ::close(fd);
  if (n < 0) return ErrnoStatus(err, "notify the service manager at", socket_);
  return Status::Ok();
}

}  // namespace aura::agent
