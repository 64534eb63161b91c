#include "common/service_hooks.h"

namespace aura {

void ServiceHooks::RequestStop() {
  std::function<void()> stop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    requested_ = true;
    stop = stopper_;
  }
  if (stop) stop();
}

bool ServiceHooks::stop_requested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requested_;
}

void ServiceHooks::InstallStopper(const std::function<void()>& stop) {
  bool now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopper_ = stop;
    now = requested_;
  }
  if (now && stop) stop();
}

void ServiceHooks::RemoveStopper() {
  std::lock_guard<std::mutex> lock(mu_);
  stopper_ = nullptr;
}

}  // namespace aura
