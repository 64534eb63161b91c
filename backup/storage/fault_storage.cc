#include "backup/storage/fault_storage.h"

#include <algorithm>
#include <thread>

namespace aura::backup {

namespace {

class FaultWriter final : public ObjectWriter {
 public:
  FaultWriter(FaultStorage* owner, std::unique_ptr<ObjectWriter> inner)
      : owner_(owner), inner_(std::move(inner)) {}

  Status Append(std::span<const uint8_t> data) override {
    Status s = owner_->Check(StorageOp::kAppend);
    if (s.ok()) s = owner_->ChargeBytes(data.size());
    if (!s.ok()) {
      inner_->Abort();
      return s;
    }
    return inner_->Append(data);
  }

  Status Commit() override {
    Status s = owner_->Check(StorageOp::kCommit);
    if (!s.ok()) {
      inner_->Abort();
      return s;
    }
    return inner_->Commit();
  }

  void Abort() override { inner_->Abort(); }
  uint64_t bytes_written() const override { return inner_->bytes_written(); }

 private:
  FaultStorage* owner_;
  std::unique_ptr<ObjectWriter> inner_;
};

class FaultReader final : public ObjectReader {
 public:
  FaultReader(FaultStorage* owner, std::unique_ptr<ObjectReader> inner, uint64_t limit)
      : owner_(owner), inner_(std::move(inner)), left_(limit) {}

  Result<size_t> Read(std::span<uint8_t> buf) override {
    AURA_RETURN_IF_ERROR(owner_->Check(StorageOp::kRead));
    if (left_ == 0) return size_t{0};
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), left_));
    AURA_ASSIGN_OR_RETURN(size_t n, inner_->Read(buf.first(want)));
    left_ -= n;
    return n;
  }

 private:
  FaultStorage* owner_;
  std::unique_ptr<ObjectReader> inner_;
  uint64_t left_;
};

}  // namespace

void FaultStorage::FailNth(StorageOp op, int n, Status error, bool persistent) {
  std::lock_guard<std::mutex> lock(mu_);
  faults_[op] = Fault{n, persistent, false, std::move(error)};
}

void FaultStorage::DiskFullAfter(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  space_left_ = bytes;
}

void FaultStorage::TruncateReadsAt(uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  read_limit_ = bytes;
}

void FaultStorage::SetDelay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(mu_);
  delay_ = delay;
}

void FaultStorage::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  faults_.clear();
  space_left_ = UINT64_MAX;
  read_limit_ = UINT64_MAX;
  delay_ = std::chrono::milliseconds(0);
}

int FaultStorage::Calls(StorageOp op) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = calls_.find(op);
  return it == calls_.end() ? 0 : it->second;
}

Status FaultStorage::Check(StorageOp op) {
  std::chrono::milliseconds delay;
  Status result;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[op];
    delay = delay_;
    auto it = faults_.find(op);
    if (it != faults_.end()) {
      Fault& f = it->second;
      if (f.fired && f.persistent) {
        result = f.error;
      } else if (!f.fired && --f.countdown <= 0) {
        f.fired = true;
        result = f.error;
      }
    }
  }
  if (delay.count() > 0) std::this_thread::sleep_for(delay);
  return result;
}

Status FaultStorage::ChargeBytes(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  if (space_left_ == UINT64_MAX) return Status::Ok();
  if (n > space_left_) {
    space_left_ = 0;
    return IOError("write " + inner_->Describe() +
                   ": No space left on device (disk full: free space or point the target "
                   "elsewhere)");
  }
  space_left_ -= n;
  return Status::Ok();
}

uint64_t FaultStorage::read_limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return read_limit_;
}

Result<std::unique_ptr<ObjectWriter>> FaultStorage::Create(const std::string& name,
                                                           const WriteOptions& options) {
  AURA_RETURN_IF_ERROR(Check(StorageOp::kCreate));
  AURA_ASSIGN_OR_RETURN(auto w, inner_->Create(name, options));
  return std::unique_ptr<ObjectWriter>(std::make_unique<FaultWriter>(this, std::move(w)));
}

Result<std::unique_ptr<ObjectReader>> FaultStorage::Open(const std::string& name, uint64_t offset,
                                                         uint64_t length) {
  AURA_RETURN_IF_ERROR(Check(StorageOp::kOpen));
  AURA_ASSIGN_OR_RETURN(auto r, inner_->Open(name, offset, length));
  return std::unique_ptr<ObjectReader>(
      std::make_unique<FaultReader>(this, std::move(r), read_limit()));
}

Result<ObjectInfo> FaultStorage::Stat(const std::string& name) {
  AURA_RETURN_IF_ERROR(Check(StorageOp::kStat));
  return inner_->Stat(name);
}

Result<std::vector<ObjectInfo>> FaultStorage::List(const std::string& prefix) {
  AURA_RETURN_IF_ERROR(Check(StorageOp::kList));
  return inner_->List(prefix);
}

Status FaultStorage::Delete(const std::string& name) {
  AURA_RETURN_IF_ERROR(Check(StorageOp::kDelete));
  return inner_->Delete(name);
}

Status FaultStorage::DeleteMany(const std::vector<std::string>& names) {
  AURA_RETURN_IF_ERROR(Check(StorageOp::kDeleteMany));
  return inner_->DeleteMany(names);
}

Result<int> FaultStorage::RemoveAbandonedWrites(std::chrono::seconds older_than,
                                                const std::string& under) {
  AURA_RETURN_IF_ERROR(Check(StorageOp::kRemoveAbandoned));
  return inner_->RemoveAbandonedWrites(older_than, under);
}

}  // namespace aura::backup
