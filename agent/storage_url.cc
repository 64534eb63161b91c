#include "agent/storage_url.h"

#include "backup/storage/local_storage.h"
#include "backup/storage/s3_storage.h"

namespace aura::agent {

Result<std::shared_ptr<backup::Storage>> OpenStorageUrl(const std::string& url) {
  if (url.empty()) return InvalidArgument("empty target URL");
  if (url.rfind("s3://", 0) == 0) {
    AURA_ASSIGN_OR_RETURN(backup::S3Config c,
                          backup::S3ConfigFromUrl(url, backup::ProcessEnvironment()));
    AURA_RETURN_IF_ERROR(backup::ValidateS3Config(c));
    return std::shared_ptr<backup::Storage>(std::make_shared<backup::S3Storage>(std::move(c)));
  }
  auto scheme = url.find("://");
  if (scheme != std::string::npos) {
    if (url.rfind("file://", 0) == 0) {
      return std::shared_ptr<backup::Storage>(
          std::make_shared<backup::LocalStorage>(url.substr(7)));
    }
    return InvalidArgument("unsupported target URL '" + url +
                           "': use a folder path or s3://bucket/prefix");
  }
  return std::shared_ptr<backup::Storage>(std::make_shared<backup::LocalStorage>(url));
}

}  // namespace aura::agent
