#include "agent/daemon/status_server.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <list>
#include <optional>

#include "common/file_io.h"

namespace aura::agent {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr auto kRequestDeadline = std::chrono::seconds(10);
constexpr uint32_t kHeaderLimit = 8 * 1024;
constexpr uint64_t kBodyLimit = 64 * 1024;

// Compares without leaking the token's length-prefix through timing.
bool TokenMatches(std::string_view got, const std::string& want) {
  if (got.size() != want.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < got.size(); ++i) diff |= static_cast<unsigned char>(got[i] ^ want[i]);
  return diff == 0;
}

using Request = http::request<http::string_body>;

HttpResponse JsonError(int status, const std::string& what) {
  return {status, "application/json", "{\"error\":\"" + what + "\"}\n"};
}

// True unless `token` is set and the request does not carry it as its bearer token.
bool Authorized(const Request& req, const std::string* token) {
  if (token == nullptr) return true;
  auto auth = req[http::field::authorization];
  return auth.size() >= 7 && auth.substr(0, 7) == "Bearer " &&
         TokenMatches(std::string_view(auth.data() + 7, auth.size() - 7), *token);
}

// The answer to one read request, `ec` its parse outcome (not end of stream or a timeout):
// 400/413/431 for a malformed or oversized one, 401 without the token (TCP), else the handler's,
// 500 if the handler throws. Shared by the sessions and AnswerRequestBytes (the fuzzer's way in).
HttpResponse AnswerParsed(error_code ec, const Request& req, const std::string* token,
                          const HttpHandler& handler, ServerCounters& counters) {
  if (ec) {
    ++counters.bad_requests;
    if (ec == http::error::body_limit) return JsonError(413, "request body larger than 64 KiB");
    if (ec == http::error::header_limit) {
      return JsonError(431, "request headers larger than 8 KiB");
    }
    return JsonError(400, "malformed HTTP request (" + ec.message() + ")");
  }
  ++counters.requests;
  if (!Authorized(req, token)) {
    ++counters.bad_requests;
    return JsonError(401, "missing or wrong bearer token (see status_token_file)");
  }
  HttpRequest r{std::string(req.method_string()), std::string(req.target()), req.body()};
  try {
    return handler(r);
  } catch (const std::exception& e) {
    spdlog::error("status server: handler failed: {}", e.what());
    return JsonError(500, "internal error");
  }
}

}  // namespace

struct StatusServer::Impl {
  Impl(net::io_context& context, HttpHandler h, size_t max)
      : io(context), handler(std::move(h)), max_connections(max) {}
  net::io_context& io;
  HttpHandler handler;
  size_t max_connections;
  ServerCounters counters;
  std::string token;  // TCP only
  std::string socket_path;
  std::optional<net::local::stream_protocol::acceptor> unix_acceptor;
  std::optional<net::ip::tcp::acceptor> tcp_acceptor;
  std::list<std::function<void()>> closers;  // one per open session
  bool closed = false;
};

namespace {

template <class Protocol>
class Session : public std::enable_shared_from_this<Session<Protocol>> {
 public:
  Session(typename Protocol::socket socket, std::shared_ptr<StatusServer::Impl> impl, bool tcp)
      : stream_(std::move(socket)), impl_(std::move(impl)), tcp_(tcp) {
    ++impl_->counters.active;
  }
  ~Session() {
    --impl_->counters.active;
    impl_->closers.erase(closer_);
  }

  void Start() {
    std::weak_ptr<Session> weak = this->shared_from_this();
    closer_ = impl_->closers.insert(impl_->closers.end(), [weak] {
      if (auto s = weak.lock()) s->stream_.close();
    });
    Read();
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(kHeaderLimit);
    parser_->body_limit(kBodyLimit);
    stream_.expires_after(kRequestDeadline);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset || ec == net::error::operation_aborted) {
      return Shutdown();
    }
    if (ec == beast::error::timeout) {
      ++impl_->counters.bad_requests;
      return Shutdown();
    }
    const auto& req = parser_->get();
    const std::string* token = tcp_ ? &impl_->token : nullptr;
    HttpResponse answer = AnswerParsed(ec, req, token, impl_->handler, impl_->counters);
    // A malformed or unauthorized request closes the connection once answered.
    const bool keep_alive = !ec && req.keep_alive() && answer.status != 401;
    Respond(std::move(answer), keep_alive);
  }

  void Respond(HttpResponse r, bool keep_alive) {
    res_ = {};
    res_.version(11);
    res_.result(static_cast<http::status>(r.status));
    res_.set(http::field::server, "aura-agent");
    res_.set(http::field::content_type, r.content_type);
    res_.keep_alive(keep_alive);
    res_.body() = std::move(r.body);
    res_.prepare_payload();
    stream_.expires_after(kRequestDeadline);
    http::async_write(stream_, res_,
                      [self = this->shared_from_this(), keep_alive](error_code ec, size_t) {
                        if (ec || !keep_alive || self->impl_->closed) return self->Shutdown();
                        self->Read();
                      });
  }

  void Shutdown() {
    error_code ignored;
    stream_.socket().shutdown(Protocol::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::basic_stream<Protocol> stream_;
  beast::flat_buffer buffer_{kHeaderLimit};
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::shared_ptr<StatusServer::Impl> impl_;
  bool tcp_;
  std::list<std::function<void()>>::iterator closer_;
};

template <class Acceptor, class Protocol>
void Accept(std::shared_ptr<StatusServer::Impl> impl, Acceptor& acceptor, bool tcp) {
  acceptor.async_accept([impl, &acceptor, tcp](error_code ec, typename Protocol::socket socket) {
    if (impl->closed || ec == net::error::operation_aborted) return;
    if (!ec) {
      ++impl->counters.connections;
      if (impl->counters.active >= impl->max_connections) {
        ++impl->counters.rejected;
        error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session<Protocol>>(std::move(socket), impl, tcp)->Start();
      }
    } else if (ec == net::error::no_descriptors) {
      spdlog::warn("status server: out of file descriptors; refusing connections briefly");
    }
    Accept<Acceptor, Protocol>(impl, acceptor, tcp);
  });
}

}  // namespace

StatusServer::StatusServer(net::io_context& io, HttpHandler handler, size_t max_connections)
    : impl_(std::make_shared<Impl>(io, std::move(handler), max_connections)) {}

StatusServer::~StatusServer() { Close(); }

const ServerCounters& StatusServer::counters() const { return impl_->counters; }

Status StatusServer::ListenUnix(const std::string& path) {
  using net::local::stream_protocol;
  AURA_RETURN_IF_ERROR(CreateDirectories(DirName(path), 0750));
  error_code ec;
  if (PathExists(path)) {
    stream_protocol::socket probe(impl_->io);
    probe.connect(stream_protocol::endpoint(path), ec);
    if (!ec) {
      return AlreadyExists("another process answers on the status socket " + path +
                           " (is an agent already running?)");
    }
    if (::unlink(path.c_str()) != 0) return ErrnoStatus(errno, "remove stale socket", path);
  }
  impl_->unix_acceptor.emplace(impl_->io);
  auto& a = *impl_->unix_acceptor;
  a.open(stream_protocol(), ec);
  if (!ec) a.bind(stream_protocol::endpoint(path), ec);
  if (ec) return IOError("cannot bind the status socket " + path + ": " + ec.message());
  if (::chmod(path.c_str(), 0660) != 0) return ErrnoStatus(errno, "chmod", path);
  a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return IOError("cannot listen on " + path + ": " + ec.message());
  impl_->socket_path = path;
  Accept<stream_protocol::acceptor, stream_protocol>(impl_, a, false);
  return Status::Ok();
}

Status StatusServer::ListenTcp(const std::string& host, uint16_t port, const std::string& token) {
  using net::ip::tcp;
  const std::string where = host + " port " + std::to_string(port);
  error_code ec;
  auto addr = net::ip::make_address(host, ec);
  if (ec || !addr.is_loopback())
    return ConfigError("status_tcp " + where + " is not a loopback address");
  if (token.size() < 16) return ConfigError("the status token must be at least 16 characters");
  impl_->token = token;
  impl_->tcp_acceptor.emplace(impl_->io);
  auto& a = *impl_->tcp_acceptor;
  tcp::endpoint ep(addr, port);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return IOError("cannot listen on " + where + ": " + ec.message());
  Accept<tcp::acceptor, tcp>(impl_, a, true);
  return Status::Ok();
}

void StatusServer::Close() {
  if (impl_->closed) return;
  impl_->closed = true;
  error_code ignored;
  if (impl_->unix_acceptor) impl_->unix_acceptor->close(ignored);
  if (impl_->tcp_acceptor) impl_->tcp_acceptor->close(ignored);
  auto closers = impl_->closers;  // closing erases entries
  for (auto& c : closers) c();
  if (!impl_->socket_path.empty()) ::unlink(impl_->socket_path.c_str());
}

HttpResponse AnswerRequestBytes(std::string_view bytes, const HttpHandler& handler,
                                const std::string* token) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  error_code ec;
  size_t used = 0;
  while (!ec && !parser.is_done() && used < bytes.size()) {
    used += parser.put(net::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) break;
  }
  if (!ec && !parser.is_done()) {
    parser.put_eof(ec);
    if (!ec && !parser.is_done()) ec = http::error::partial_message;
  }
  ServerCounters counters;
  return AnswerParsed(ec, parser.get(), token, handler, counters);
}

}  // namespace aura::agent
