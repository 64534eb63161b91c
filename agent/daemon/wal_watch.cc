#include "agent/daemon/wal_watch.h"

#ifdef __linux__
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>
#endif

#include "common/file_io.h"

namespace aura::agent {

#ifdef __linux__
namespace {

// One subscriber: a database's names in its folder and its pending callback.
struct Subscriber {
  boost::asio::any_io_executor executor;
  std::set<std::string> names;
  std::mutex mu;
  std::function<void()> on_change;

  void Fire() {
    std::function<void()> call;
    {
      std::lock_guard lock(mu);
      call = std::move(on_change);
      on_change = nullptr;
    }
    if (call) boost::asio::post(executor, std::move(call));
  }
};

// The process's one inotify descriptor, read by one thread, for every watched database: the
// kernel's limit on inotify instances per user (fs.inotify.max_user_instances, 128 by default)
// would otherwise cap a fleet at about a hundred databases. Folders shared by several databases
// are one watch (inotify returns the same descriptor for the same folder). Never destroyed.
class InotifyHub {
 public:
  static InotifyHub* Instance() {
    static InotifyHub* hub = [] {
      int fd = ::inotify_init1(IN_CLOEXEC);
      return fd < 0 ? nullptr : new InotifyHub(fd);
    }();
    return hub;
  }

  // -1 when the folder cannot be watched.
  int Add(const std::string& dir, const std::shared_ptr<Subscriber>& sub) {
    const uint32_t mask = IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE;
    std::lock_guard lock(mu_);
    int wd = ::inotify_add_watch(fd_, dir.c_str(), mask);
    if (wd >= 0) subs_[wd].push_back(sub);
    return wd;
  }

  void Remove(int wd, const std::shared_ptr<Subscriber>& sub) {
    std::lock_guard lock(mu_);
    auto& list = subs_[wd];
    list.erase(std::remove(list.begin(), list.end(), sub), list.end());
    if (list.empty()) {
      subs_.erase(wd);
      ::inotify_rm_watch(fd_, wd);
    }
  }

 private:
  explicit InotifyHub(int fd) : fd_(fd) {
    std::thread([this] { ReadLoop(); }).detach();
  }

  void ReadLoop() {
    std::vector<char> buf(64 * 1024);
    for (;;) {
      ssize_t n = ::read(fd_, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      Dispatch(buf.data(), static_cast<size_t>(n));
    }
  }

  void Dispatch(const char* data, size_t n) {
    std::lock_guard lock(mu_);
    for (size_t off = 0; off + sizeof(inotify_event) <= n;) {
      inotify_event e;
      std::memcpy(&e, data + off, sizeof(e));
      if ((e.mask & IN_Q_OVERFLOW) != 0) {  // events were lost: everyone looks
        for (auto& [wd, list] : subs_)
          for (auto& sub : list) sub->Fire();
      } else if (e.len > 0) {
        std::string name(data + off + sizeof(inotify_event),
                         ::strnlen(data + off + sizeof(e), e.len));
        auto it = subs_.find(e.wd);
        if (it != subs_.end()) {
          for (auto& sub : it->second)
            if (sub->names.count(name) != 0) sub->Fire();
        }
      }
      off += sizeof(inotify_event) + e.len;
    }
  }

  int fd_;
  std::mutex mu_;
  std::map<int, std::vector<std::shared_ptr<Subscriber>>> subs_;  // watch descriptor -> databases
};

class InotifyWatch final : public WalWatch {
 public:
  InotifyWatch(InotifyHub* hub, int wd, std::shared_ptr<Subscriber> sub)
      : hub_(hub), wd_(wd), sub_(std::move(sub)) {}
  ~InotifyWatch() override {
    Cancel();
    hub_->Remove(wd_, sub_);
  }

  void AsyncWait(std::function<void()> on_change) override {
    std::lock_guard lock(sub_->mu);
    sub_->on_change = std::move(on_change);
  }
  void Cancel() override {
    std::lock_guard lock(sub_->mu);
    sub_->on_change = nullptr;
  }

 private:
  InotifyHub* hub_;
  int wd_;
  std::shared_ptr<Subscriber> sub_;
};

}  // namespace

std::unique_ptr<WalWatch> WalWatch::Open(const boost::asio::any_io_executor& executor,
                                         const std::string& db_path) {
  InotifyHub* hub = InotifyHub::Instance();
  if (hub == nullptr) return nullptr;
  auto sub = std::make_shared<Subscriber>();
  sub->executor = executor;
  const std::string base = BaseName(db_path);
  sub->names = {base, base + "-wal", base + "-journal"};
  int wd = hub->Add(DirName(db_path), sub);
  if (wd < 0) return nullptr;
  return std::make_unique<InotifyWatch>(hub, wd, std::move(sub));
}
#else
std::unique_ptr<WalWatch> WalWatch::Open(const boost::asio::any_io_executor&, const std::string&) {
  return nullptr;
}
#endif

}  // namespace aura::agent
