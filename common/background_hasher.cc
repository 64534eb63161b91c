#include "common/background_hasher.h"

namespace aura {

BackgroundHasher::BackgroundHasher(size_t max_queued)
    : max_queued_(max_queued < 1 ? 1 : max_queued), thread_([this] { Run(); }) {}

BackgroundHasher::~BackgroundHasher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundHasher::Update(Block block) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.size() < max_queued_; });
  queue_.push_back(std::move(block));
  cv_.notify_all();
}

Digest BackgroundHasher::Finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
  return sha_.Finish();
}

void BackgroundHasher::Run() {
  for (;;) {
    Block b;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return done_ || !queue_.empty(); });
      if (queue_.empty()) return;
      b = std::move(queue_.front());
      queue_.pop_front();
    }
    cv_.notify_all();
    sha_.Update(*b);
  }
}

}  // namespace aura
