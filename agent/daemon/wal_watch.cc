#include "agent/daemon/wal_watch.h"

#ifdef __linux__
#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstring>
#include <set>
#include <vector>
#endif

#include "common/file_io.h"

namespace aura::agent {

#ifdef __linux__
namespace {

class InotifyWatch final : public WalWatch {
 public:
  InotifyWatch(const boost::asio::any_io_executor& ex, int fd, std::set<std::string> names)
      : state_(std::make_shared<State>(ex, fd, std::move(names))) {
    Read(state_);
  }
  ~InotifyWatch() override {
    state_->on_change = nullptr;
    boost::system::error_code ignored;
    state_->stream.close(ignored);
  }

  void AsyncWait(std::function<void()> on_change) override {
    state_->on_change = std::move(on_change);
  }
  void Cancel() override { state_->on_change = nullptr; }

 private:
  // Shared with the pending read, which may complete after the watch is destroyed.
  struct State {
    State(const boost::asio::any_io_executor& ex, int fd, std::set<std::string> n)
        : stream(ex, fd), names(std::move(n)), buf(16 * 1024) {}
    boost::asio::posix::stream_descriptor stream;
    std::set<std::string> names;
    std::vector<char> buf;
    std::function<void()> on_change;
  };

  static bool Relevant(const State& s, const char* data, size_t n) {
    for (size_t off = 0; off + sizeof(inotify_event) <= n;) {
      inotify_event e;
      std::memcpy(&e, data + off, sizeof(e));
      if ((e.mask & IN_Q_OVERFLOW) != 0) return true;
      if (e.len > 0) {
        std::string name(data + off + sizeof(inotify_event),
                         ::strnlen(data + off + sizeof(e), e.len));
        if (s.names.count(name) != 0) return true;
      }
      off += sizeof(inotify_event) + e.len;
    }
    return false;
  }

  static void Read(const std::shared_ptr<State>& s) {
    s->stream.async_read_some(boost::asio::buffer(s->buf),
                              [s](boost::system::error_code ec, size_t n) {
                                if (ec) return;  // closed
                                if (s->on_change && Relevant(*s, s->buf.data(), n)) {
                                  auto call = std::move(s->on_change);
                                  s->on_change = nullptr;
                                  call();
                                }
                                Read(s);
                              });
  }

  std::shared_ptr<State> state_;
};

}  // namespace

std::unique_ptr<WalWatch> WalWatch::Open(const boost::asio::any_io_executor& executor,
                                         const std::string& db_path) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return nullptr;
  const uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE;
  if (::inotify_add_watch(fd, DirName(db_path).c_str(), mask) < 0) {
    ::close(fd);
    return nullptr;
  }
  const std::string base = BaseName(db_path);
  return std::make_unique<InotifyWatch>(
      std::move(executor), fd, std::set<std::string>{base, base + "-wal", base + "-journal"});
}
#else
std::unique_ptr<WalWatch> WalWatch::Open(const boost::asio::any_io_executor&, const std::string&) {
  return nullptr;
}
#endif

}  // namespace aura::agent
