// Turns a target URL from the command line or config into a Storage: a folder path (absolute or
// relative, or file:///path) gives LocalStorage; s3://bucket/prefix gives the S3 storage, with the
// endpoint, region and credentials read from the environment as the AWS CLI reads them
// (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE, AWS_CA_BUNDLE).
#pragma once

#include <memory>
#include <string>

#include "backup/storage/storage.h"

namespace aura::agent {

Result<std::shared_ptr<backup::Storage>> OpenStorageUrl(const std::string& url);

struct TargetConfig;
// A configured target: its URL as above, with the target's S3 settings applied on top.
Result<std::shared_ptr<backup::Storage>> OpenTarget(const TargetConfig& target);

}  // namespace aura::agent
