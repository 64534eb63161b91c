// S3Client: signed HTTP requests to an S3-compatible endpoint over libcurl (transport only; the
// signature is aws_sigv4.h), with retries.
//
// Retries (exponential backoff with full jitter: sleep a random time in
// [0, min(cap, base * 2^attempt)]): connection failures, timeouts and stalls, HTTP 500, 502, 503,
// 504, 429, and S3's SlowDown / RequestTimeout / InternalError codes. Never on other 4xx: they
// cannot succeed by repeating. Every request the storage layer sends is idempotent (immutable
// objects under deterministic names), so repeating one whose outcome is unknown is safe.
//
// Errors: 403 SignatureDoesNotMatch / InvalidAccessKeyId / AccessDenied are kPermissionDenied with
// what to check; 404 is kNotFound (NoSuchBucket says so); 412 is kAlreadyExists; retries
// exhausted is kUnavailable (transient: callers spool and try later).
//
// Connections are reused: idle curl handles are pooled. Thread-safety: Send may be called from
// several threads at once.
#pragma once

#include <curl/curl.h>

#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backup/storage/s3_config.h"
#include "common/status.h"

namespace aura::backup {

struct S3Request {
  std::string method = "GET";
  std::string key;  // object key (prefix included); empty: the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::span<const uint8_t> body;
};

struct S3Response {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lowercase names
};

class S3Client {
 public:
  explicit S3Client(S3Config config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const S3Config& config() const { return config_; }

  // Sends with retries. A non-2xx final status becomes an error Status, except where the caller
  // lists it in `accept` (e.g. 404 for "does it exist").
  Result<S3Response> Send(const S3Request& req, std::vector<long> accept = {});

  struct Attempt;  // one try of a request (used by the curl callbacks)

 private:
  Result<S3Response> SendOnce(const S3Request& req, Attempt& attempt);
  void SetOptions(CURL* h, const std::string& url, curl_slist* headers, const S3Request& req,
                  Attempt& a) const;
  CURL* Acquire();
  void Release(CURL* h);

  S3Config config_;
  std::string scheme_host_;  // "http://127.0.0.1:9000"
  std::string host_header_;  // "127.0.0.1:9000" or "bucket.s3.amazonaws.com"
  // The endpoint as messages name it: without credentials (common/url_credentials.h).
  std::string endpoint_shown_;
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

// "20261124T201405Z" for now.
std::string AmzDate();

}  // namespace aura::backup
