// A TCP proxy of our own between the agent and an HTTP server, injecting the faults a real
// server cannot produce on demand: refused connections, connection resets, 503 SlowDown answers
// stalls and slow answers (each request held `delay` before it is forwarded), for every request or
// for the next N requests whose request line contains a string.
// One request per connection (it asks the server for Connection: close), which keeps it simple
// and makes every request visible.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace aura::testing {

class FaultProxy {
 public:
  enum class Mode { kPass, kRefuse, kReset, kSlowDown, kStall, kDelay };

  explicit FaultProxy(int upstream_port) : upstream_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(listen_fd_, 64);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~FaultProxy() {
    stop_ = true;
    acceptor_.join();
    ::close(listen_fd_);
    // Joined without the lock: a handler still deciding on its request takes it (holding it here
    // deadlocked a test under ThreadSanitizer, whose slowness let a late request arrive).
    std::vector<std::thread> handlers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      handlers.swap(handlers_);
    }
    for (auto& t : handlers) t.join();
  }

  int port() const { return port_; }
  void SetMode(Mode m) { mode_ = m; }
  // How long kDelay holds each request before forwarding it.
  void SetDelay(std::chrono::milliseconds d) { delay_ms_ = static_cast<int>(d.count()); }
  // The next `n` requests whose request line contains `match` get `m`; others pass.
  void FailNext(int n, Mode m, const std::string& match = "") {
    std::lock_guard<std::mutex> lock(mu_);
    fail_left_ = n;
    fail_mode_ = m;
    fail_match_ = match;
  }
  int requests() const { return requests_; }
  int faults() const { return faults_; }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(listen_fd_, nullptr, nullptr);
      if (c < 0) continue;
      if (mode_ == Mode::kRefuse) {
        ++faults_;
        ::close(c);
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      handlers_.emplace_back([this, c] { Handle(c); });
    }
  }

  static bool ReadRequest(int fd, std::string& head, std::string& body) {
    char buf[65536];
    std::string data;
    size_t end;
    while ((end = data.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      data.append(buf, static_cast<size_t>(n));
    }
    head = data.substr(0, end + 4);
    body = data.substr(end + 4);
    size_t length = 0;
    std::string lower = head;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (auto at = lower.find("content-length:"); at != std::string::npos) {
      length = std::stoull(lower.substr(at + 15));
    }
    while (body.size() < length) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      body.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  static void WriteAll(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      // MSG_NOSIGNAL: a peer that went away (a killed client) must not kill the test with SIGPIPE.
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

  Mode Decide(const std::string& head) {
    std::string line = head.substr(0, head.find("\r\n"));
    std::lock_guard<std::mutex> lock(mu_);
    if (fail_left_ > 0 && line.find(fail_match_) != std::string::npos) {
      --fail_left_;
      return fail_mode_;
    }
    return mode_ == Mode::kRefuse ? Mode::kPass : mode_.load();
  }

  void Handle(int c) {
    std::string head, body;
    if (!ReadRequest(c, head, body)) {
      ::close(c);
      return;
    }
    ++requests_;
    Mode m = Decide(head);
    if (m != Mode::kPass) ++faults_;
    if (m == Mode::kReset) {
      linger l{1, 0};
      ::setsockopt(c, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    } else if (m == Mode::kSlowDown) {
      std::string xml =
          "<Error><Code>SlowDown</Code><Message>Reduce your request rate."
          "</Message></Error>";
      WriteAll(c, "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: " +
                      std::to_string(xml.size()) + "\r\nConnection: close\r\n\r\n" + xml);
    } else if (m == Mode::kStall) {
      for (int i = 0; i < 600 && !stop_ && mode_ == Mode::kStall; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    } else {
      if (m == Mode::kDelay) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      Forward(c, head, body);
    }
    ::close(c);
  }

  void Forward(int c, std::string head, const std::string& body) {
    int u = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(upstream_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(u);
      return;
    }
    head.insert(head.size() - 2, "Connection: close\r\n");
    WriteAll(u, head + body);
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(u, buf, sizeof buf);
      if (n <= 0) break;
      WriteAll(c, std::string(buf, static_cast<size_t>(n)));
    }
    ::close(u);
  }

  int upstream_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<Mode> mode_{Mode::kPass};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> handlers_;
  int fail_left_ = 0;
  Mode fail_mode_ = Mode::kPass;
  std::string fail_match_;
  std::atomic<int> delay_ms_{500};
  std::atomic<int> requests_{0};
  std::atomic<int> faults_{0};
};

}  // namespace aura::testing
