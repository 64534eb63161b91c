// Where and how to reach an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2,
// Backblaze B2), and how the agent finds credentials the way the AWS CLI does.
//
// Credentials, in order: explicit values (config), AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
// AWS_SESSION_TOKEN, then the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
// ~/.aws/credentials) section AWS_PROFILE (default "default"). Endpoint: AWS_ENDPOINT_URL_S3,
// AWS_ENDPOINT_URL, else https://s3.<region>.amazonaws.com. Region: AWS_REGION,
// AWS_DEFAULT_REGION, else us-east-1. CA bundle: AWS_CA_BUNDLE. Secrets never appear in
// Describe() or in error messages.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "backup/storage/aws_sigv4.h"
#include "common/status.h"

namespace aura::backup {

struct S3Config {
  std::string endpoint;  // scheme://host[:port], no path
  std::string region = "us-east-1";
  std::string bucket;
  std::string prefix;  // without leading or trailing '/'
  bool path_style = true;
  SigV4Credentials credentials;
  std::string ca_bundle;
  bool verify_tls = true;
  int connect_timeout_ms = 10000;
  int stall_timeout_s = 60;        // abort a transfer making no progress for this long
  uint64_t part_size = 16u << 20;  // multipart part size (>= 5 MiB)
  int upload_concurrency = 2;      // parts in flight per upload
  uint64_t max_bandwidth = 0;      // bytes/s per transfer, 0: unlimited
  std::string storage_class;       // e.g. STANDARD_IA; empty: bucket default
  std::string object_lock_mode;    // "", "GOVERNANCE" or "COMPLIANCE"
  int object_lock_days = 0;
  // Compatibility: send ListObjectsV2 prefixes only up to their first '/', filtering the rest
  // locally. For servers that mis-verify signatures of list requests whose prefix contains '/'
  // (moto, used by the tests, and botocore fails against it the same way). Costs a longer
  // listing on real S3, so it is off by default.
  bool list_top_prefix_only = false;
  int max_attempts = 8;  // per request, with exponential backoff and full jitter
  int backoff_base_ms = 100;
  int backoff_cap_ms = 20000;

  // "s3://bucket/prefix" for messages.
  std::string Describe() const;
};

// Parses "s3://bucket[/prefix]" and fills the rest from `env` (normally the process
// environment) as the AWS CLI would. kInvalidArgument for a malformed URL; kKeyError when no
// credentials can be found (saying where it looked).
Result<S3Config> S3ConfigFromUrl(const std::string& url,
                                 const std::map<std::string, std::string>& env);

// The process environment as a map (for S3ConfigFromUrl).
std::map<std::string, std::string> ProcessEnvironment();

// Reads one profile of an AWS shared credentials file (INI). kNotFound if the file or the profile
// is missing; kKeyError naming the mode and the fix when the file's group or other users may use
// it (ReadSecretFile; S3ConfigFromUrl passes that error on as is).
Result<SigV4Credentials> ReadSharedCredentials(const std::string& path, const std::string& profile);

// Checks ranges (part size >= 5 MiB, lock mode, ...). kConfig naming the field.
Status ValidateS3Config(const S3Config& c);

}  // namespace aura::backup
