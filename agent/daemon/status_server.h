// StatusServer: the agent's local HTTP/1.1 endpoint (Boost.Beast), on a Unix domain socket
// (mode 0660, so only the service's user and group can talk to it) or, where Unix sockets are
// not available, on a loopback TCP port with a bearer token read from a file.
//
// Robustness is the point: an admin's script, a monitoring probe or garbage from a fuzzer must
// never disturb the backups. Every connection has a deadline (10 s per request), headers are
// capped at 8 KiB and bodies at 64 KiB (413), malformed requests get 400 and a closed
// connection, and at most `max_connections` are open at once (more are closed at once). The
// handler runs on the io_context's thread and must not block.
//
// Thread-safety: all methods on the io_context's thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace aura::agent {

struct HttpRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct ServerCounters {
  uint64_t connections = 0;  // accepted so far
  uint64_t active = 0;
  uint64_t requests = 0;
  uint64_t bad_requests = 0;  // malformed, oversized, unauthorized or timed out
  uint64_t rejected = 0;      // closed because max_connections were open
};

class StatusServer {
 public:
  StatusServer(boost::asio::io_context& io, HttpHandler handler, size_t max_connections = 512);
  ~StatusServer();

  // Listens on a Unix socket at `path` (mode 0660), replacing a stale socket file.
  // kAlreadyExists if another process answers on it.
  Status ListenUnix(const std::string& path);
  // Listens on loopback "127.0.0.1:PORT"; requests need "Authorization: Bearer <token>".
  Status ListenTcp(const std::string& host, uint16_t port, const std::string& token);
  // Stops accepting and closes open connections; removes the socket file.
  void Close();

  const ServerCounters& counters() const;

  struct Impl;  // shared with the sessions (status_server.cc)

 private:
  std::shared_ptr<Impl> impl_;
};

// What the server answers to `bytes` received as one request on a connection: parsed with the
// server's limits, the bearer `token` checked when not null (TCP), then `handler`. The fuzzer's
// way in (tests/fuzz/status_http_fuzz.cc); the sessions answer through the same code.
HttpResponse AnswerRequestBytes(std::string_view bytes, const HttpHandler& handler,
                                const std::string* token);

}  // namespace aura::agent
