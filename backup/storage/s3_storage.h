// S3Storage: the Storage contract (storage.h) on an S3-compatible bucket.
//
// Object "a/b" is key "<prefix>/a/b". Writes are atomic by S3's nature: an object appears only
// when a single PUT or a CompleteMultipartUpload succeeds. Objects up to the part size (16 MiB by
// default) go in one PUT with x-amz-content-sha256; larger ones stream as a multipart upload with
// at most `upload_concurrency` parts in flight (memory: that many parts), and a writer destroyed or
// aborted before Commit aborts its upload, so no orphaned upload is left behind; uploads orphaned
// by a killed process are removed by RemoveAbandonedWrites. No-overwrite uses If-None-Match: * on
// PUT (412 = kAlreadyExists) and a HEAD before completing a multipart upload.
//
// Reads are ranged GETs of 8 MiB, so a reader holds at most that much whatever the object size,
// and a failed range is retried on its own. Listing pages through ListObjectsV2 continuation
// tokens. Optional Object Lock (GOVERNANCE/COMPLIANCE, days) is set on every write, with the
// Content-MD5 S3 requires for it.
//
// Thread-safety: safe for concurrent use; each writer/reader by one thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "backup/storage/s3_client.h"
#include "backup/storage/storage.h"

namespace aura::backup {

class S3Storage final : public Storage {
 public:
  explicit S3Storage(S3Config config);

  std::string Describe() const override { return client_->config().Describe(); }
  Result<std::unique_ptr<ObjectWriter>> Create(const std::string& name,
                                               const WriteOptions& options) override;
  Result<std::unique_ptr<ObjectReader>> Open(const std::string& name, uint64_t offset,
                                             uint64_t length) override;
  Result<ObjectInfo> Stat(const std::string& name) override;
  Result<std::vector<ObjectInfo>> List(const std::string& prefix) override;
  Status Delete(const std::string& name) override;

  // DeleteObjects, 1000 names a request.
  Status DeleteMany(const std::vector<std::string>& names) override;
  // Aborts the multipart uploads under the prefix (and `under`) initiated at least `older_than`
  // ago, which a killed process left open (and the bucket would bill for ever).
  Result<int> RemoveAbandonedWrites(std::chrono::seconds older_than,
                                    const std::string& under = "") override;

  const S3Config& config() const { return client_->config(); }

 private:
  std::string Key(const std::string& name) const;

  std::shared_ptr<S3Client> client_;
};

}  // namespace aura::backup
