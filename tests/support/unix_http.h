// A small HTTP/1.1 client over a Unix domain socket or loopback TCP (Boost.Beast), for talking to
// the agent's status endpoint in tests, plus raw byte access for garbage-input tests.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstring>
#include <string>

namespace aura::testing {

struct HttpReply {
  int status = 0;  // 0: no answer (connection refused, closed, timeout)
  std::string body;
  std::string error;
};

// One request over any Asio stream protocol (Unix or TCP). `bearer`: an Authorization token.
template <typename Protocol>
HttpReply HttpOver(const typename Protocol::endpoint& endpoint, const std::string& method,
                   const std::string& target, const std::string& body, const std::string& bearer) {
  namespace net = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  HttpReply out;
  try {
    net::io_context io;
    beast::basic_stream<Protocol> stream(io);
    stream.expires_after(std::chrono::seconds(20));
    stream.connect(endpoint);
    http::request<http::string_body> req(http::string_to_verb(method), target, 11);
    req.set(http::field::host, "localhost");
    if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    http::read(stream, buf, parser);
    out.status = static_cast<int>(parser.get().result_int());
    out.body = parser.get().body();
  } catch (const boost::system::system_error& e) {
    out.error = e.code().message();
  }
  return out;
}

inline HttpReply UnixHttp(const std::string& socket, const std::string& method,
                          const std::string& target, const std::string& body = "") {
  using P = boost::asio::local::stream_protocol;
  return HttpOver<P>(P::endpoint(socket), method, target, body, "");
}

inline HttpReply TcpHttp(uint16_t port, const std::string& method, const std::string& target,
                         const std::string& bearer = "") {
  using P = boost::asio::ip::tcp;
  return HttpOver<P>(P::endpoint(boost::asio::ip::make_address("127.0.0.1"), port), method, target,
                     "", bearer);
}

// Sends `bytes` as they are and returns whatever comes back until the server closes (or 10 s).
inline std::string UnixRaw(const std::string& socket, const std::string& bytes,
                           bool half_close = true) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, socket.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  if (half_close) ::shutdown(fd, SHUT_WR);
  std::string reply;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return reply;
}

}  // namespace aura::testing
