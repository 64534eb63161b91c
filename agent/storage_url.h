// Turns a target URL from the command line or config into a Storage: a folder path (absolute or
// relative, or file:///path) gives LocalStorage; s3://bucket/prefix gives the S3 storage.
#pragma once

#include <memory>
#include <string>

#include "backup/storage/storage.h"

namespace aura::agent {

Result<std::shared_ptr<backup::Storage>> OpenStorageUrl(const std::string& url);

}  // namespace aura::agent
