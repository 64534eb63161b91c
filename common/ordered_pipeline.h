// OrderedPipeline: runs a transform on worker threads and hands results to a sink in submission
// order, with a bounded number of items in flight.
//
// This is how snapshots keep both cores busy with bounded memory: the producer thread reads and
// hashes blocks in order, workers compress and encrypt them in parallel, and the sink (run on the
// producer thread, inside Submit and Finish) writes them out in order. At most `max_in_flight`
// items exist at once, so memory is bounded by that times the block size, whatever the input.
//
// Errors: the first error (from the transform or the sink) sticks; later Submit calls return it
// without doing work, and Finish returns it. Workers are joined by Finish or the destructor.
//
// Thread-safety: Submit and Finish are called from one producer thread. The transform runs on
// workers concurrently and must be thread-safe; the sink runs on the producer thread only.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"

namespace aura {

template <typename In, typename Out>
class OrderedPipeline {
 public:
  using Transform = std::function<Result<Out>(In&&)>;
  using Sink = std::function<Status(Out&&)>;

  OrderedPipeline(Transform transform, Sink sink, int workers, int max_in_flight)
      : transform_(std::move(transform)),
        sink_(std::move(sink)),
        max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight) {
    if (workers < 1) workers = 1;
    for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { WorkerLoop(); });
  }

  ~OrderedPipeline() { Stop(); }

  OrderedPipeline(const OrderedPipeline&) = delete;
  OrderedPipeline& operator=(const OrderedPipeline&) = delete;

  // Queues `item`; blocks while max_in_flight items are pending, delivering finished results to
  // the sink in order meanwhile.
  Status Submit(In item) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      AURA_RETURN_IF_ERROR(DrainReadyLocked(lock));
      if (next_submit_ - next_deliver_ < static_cast<uint64_t>(max_in_flight_)) break;
      changed_.wait(lock);
    }
    queue_.emplace_back(next_submit_++, std::move(item));
    work_available_.notify_one();
    return Status::Ok();
  }

  // Waits for every submitted item to reach the sink, then stops the workers.
  Status Finish() {
    {
      std::unique_lock<std::mutex> lock(mu_);
      while (error_.ok() && next_deliver_ < next_submit_) {
        AURA_RETURN_IF_ERROR(DrainReadyLocked(lock));
        if (next_deliver_ < next_submit_) changed_.wait(lock);
      }
    }
    Stop();
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

 private:
  // Delivers finished items in order. Called with the lock held; releases it around the sink.
  Status DrainReadyLocked(std::unique_lock<std::mutex>& lock) {
    for (;;) {
      if (!error_.ok()) return error_;
      auto it = done_.find(next_deliver_);
      if (it == done_.end()) return Status::Ok();
      Result<Out> r = std::move(it->second);
      done_.erase(it);
      if (!r.ok()) {
        error_ = r.status();
        changed_.notify_all();
        return error_;
      }
      lock.unlock();
      Status s = sink_(std::move(r).value());
      lock.lock();
      ++next_deliver_;
      if (!s.ok() && error_.ok()) error_ = s;
      changed_.notify_all();
    }
  }

  void WorkerLoop() {
    for (;;) {
      std::pair<uint64_t, In> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_available_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      Result<Out> out = error_snapshot() ? Result<Out>(Cancelled("pipeline stopped"))
                                         : transform_(std::move(job.second));
      std::lock_guard<std::mutex> lock(mu_);
      done_.emplace(job.first, std::move(out));
      changed_.notify_all();
    }
  }

  bool error_snapshot() {
    std::lock_guard<std::mutex> lock(mu_);
    return !error_.ok();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      if (!error_.ok()) queue_.clear();
    }
    work_available_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  Transform transform_;
  Sink sink_;
  const int max_in_flight_;
  std::mutex mu_;
  std::condition_variable work_available_;
  std::condition_variable changed_;
  std::deque<std::pair<uint64_t, In>> queue_;
  std::map<uint64_t, Result<Out>> done_;
  uint64_t next_submit_ = 0;
  uint64_t next_deliver_ = 0;
  bool stopping_ = false;
  Status error_;
  std::vector<std::thread> threads_;
};

}  // namespace aura
