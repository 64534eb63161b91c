// BackgroundHasher: SHA-256 of a stream of blocks, computed on its own thread.
//
// SHA-256 cannot be split across cores, and at ~1.8 GB/s it is the longest sequential step of a
// snapshot or restore of a large database. Hashing on a dedicated thread takes it off the thread
// that reads, writes and feeds the compression workers, so the three overlap. Blocks are shared
// (read-only) with whoever else uses them; at most `max_queued` wait, bounding memory.
//
// Thread-safety: Update and Finish are called from one thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/hashing.h"

namespace aura {

class BackgroundHasher {
 public:
  using Block = std::shared_ptr<const std::vector<uint8_t>>;

  explicit BackgroundHasher(size_t max_queued = 8);
  ~BackgroundHasher();
  BackgroundHasher(const BackgroundHasher&) = delete;
  BackgroundHasher& operator=(const BackgroundHasher&) = delete;

  // Queues a block; blocks while max_queued are waiting.
  void Update(Block block);
  // Waits for every queued block and returns the digest. Call once.
  Digest Finish();

 private:
  void Run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Block> queue_;
  bool done_ = false;
  Sha256 sha_;
  std::thread thread_;
};

}  // namespace aura
