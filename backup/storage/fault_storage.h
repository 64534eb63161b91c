// FaultStorage: a forwarding Storage that injects faults a real backend cannot produce on demand:
// fail the Nth call of an operation (transient or persistent), run out of space after N bytes,
// hand back truncated reads, or slow every call down. Used by tests and by the contract suite.
//
// Faults by countdown, as in SQLite's test_vfs.c: FailNth(op, n, status, persistent) makes the
// n-th call of `op` from now fail with `status`; with persistent=true every later call fails too.
// A failed Append/Commit leaves the wrapped writer aborted, so the inner storage keeps its
// contract (nothing partial visible).
//
// Thread-safety: safe for concurrent use (one mutex guards the plan and counters).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>

#include "backup/storage/storage.h"

namespace aura::backup {

enum class StorageOp {
  kCreate,
  kAppend,
  kCommit,
  kOpen,
  kRead,
  kStat,
  kList,
  kDelete,
  kDeleteMany,       // one call of DeleteMany, whatever its size
  kRemoveAbandoned,  // one call of RemoveAbandonedWrites
};

class FaultStorage final : public Storage {
 public:
  explicit FaultStorage(std::shared_ptr<Storage> inner) : inner_(std::move(inner)) {}

  // The n-th (1-based) call of `op` from now fails with `error`; persistent: and every later one.
  void FailNth(StorageOp op, int n, Status error, bool persistent = false);
  // After `bytes` more bytes have been appended (over all writers), Append fails with a
  // disk-full kIOError, like ENOSPC on a full disk.
  void DiskFullAfter(uint64_t bytes);
  // Every reader opened from now returns end-of-data after `bytes` bytes.
  void TruncateReadsAt(uint64_t bytes);
  // Every call sleeps this long first.
  void SetDelay(std::chrono::milliseconds delay);
  // Removes every fault.
  void Clear();
  // How many times `op` was called.
  int Calls(StorageOp op) const;

  std::string Describe() const override { return inner_->Describe(); }
  Result<std::unique_ptr<ObjectWriter>> Create(const std::string& name,
                                               const WriteOptions& options) override;
  Result<std::unique_ptr<ObjectReader>> Open(const std::string& name, uint64_t offset,
                                             uint64_t length) override;
  Result<ObjectInfo> Stat(const std::string& name) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& name) override;
  // The optional capabilities go to the wrapped storage's own, so a wrapped S3 target still
  // deletes in batches and aborts stale uploads.
  Status DeleteMany(const std::vector<std::string>& names) override;
  Result<int> RemoveAbandonedWrites(std::chrono::seconds older_than,
                                    const std::string& under = "") override;
  Status MakeDurable(const std::string& prefix) override { return inner_->MakeDurable(prefix); }

  // Used by the wrapped writers and readers.
  Status Check(StorageOp op);
  Status ChargeBytes(uint64_t n);
  uint64_t read_limit() const;

 private:
  struct Fault {
    int countdown = 0;
    bool persistent = false;
    bool fired = false;
    Status error;
  };

  std::shared_ptr<Storage> inner_;
  mutable std::mutex mu_;
  std::map<StorageOp, Fault> faults_;
  std::map<StorageOp, int> calls_;
  uint64_t space_left_ = UINT64_MAX;
  uint64_t read_limit_ = UINT64_MAX;
  std::chrono::milliseconds delay_{0};
};

}  // namespace aura::backup
