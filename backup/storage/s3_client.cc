#include "backup/storage/s3_client.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>

#include "backup/storage/aws_sigv4.h"
#include "common/hashing.h"
#include "common/url_credentials.h"

namespace aura::backup {

namespace {

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string XmlField(const std::string& xml, const std::string& tag) {
  auto a = xml.find("<" + tag + ">");
  if (a == std::string::npos) return "";
  a += tag.size() + 2;
  auto b = xml.find("</" + tag + ">", a);
  return b == std::string::npos ? "" : xml.substr(a, b - a);
}

bool RetryableCurl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool RetryableHttp(long status, const std::string& code) {
  return status == 500 || status == 502 || status == 503 || status == 504 || status == 429 ||
         code == "SlowDown" || code == "RequestTimeout" || code == "InternalError";
}

}  // namespace

struct S3Client::Attempt {
  const S3Request* req = nullptr;
  size_t read_offset = 0;
  S3Response resp;
};

namespace {

size_t OnWrite(char* p, size_t size, size_t n, void* ud) {
  auto* a = static_cast<S3Client::Attempt*>(ud);
  a->resp.body.append(p, size * n);
  return size * n;
}

size_t OnHeader(char* p, size_t size, size_t n, void* ud) {
  auto* a = static_cast<S3Client::Attempt*>(ud);
  std::string line(p, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    a->resp.headers.clear();  // a new response (after 100 Continue)
  } else if (auto colon = line.find(':'); colon != std::string::npos) {
    std::string v = line.substr(colon + 1);
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.pop_back();
    while (!v.empty() && v.front() == ' ') v.erase(v.begin());
    a->resp.headers[Lower(line.substr(0, colon))] = v;
  }
  return size * n;
}

size_t OnRead(char* buf, size_t size, size_t n, void* ud) {
  auto* a = static_cast<S3Client::Attempt*>(ud);
  std::span<const uint8_t> body = a->req->body;
  size_t take = std::min(size * n, body.size() - a->read_offset);
  std::memcpy(buf, body.data() + a->read_offset, take);
  a->read_offset += take;
  return take;
}

}  // namespace

std::string AmzDate() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

S3Client::S3Client(S3Config config) : config_(std::move(config)) {
  GlobalInit();
  auto scheme_end = config_.endpoint.find("://");
  std::string scheme = config_.endpoint.substr(0, scheme_end + 3);
  std::string host = config_.endpoint.substr(scheme_end + 3);
  host_header_ = config_.path_style ? host : config_.bucket + "." + host;
  scheme_host_ = scheme + host_header_;
  endpoint_shown_ = RedactUrlCredentials(config_.endpoint);
}

S3Client::~S3Client() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

CURL* S3Client::Acquire() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      curl_easy_reset(h);
      return h;
    }
  }
  return curl_easy_init();
}

void S3Client::Release(CURL* h) {
  std::lock_guard<std::mutex> lock(mu_);
  idle_.push_back(h);
}

// Everything curl needs for one try: URL, headers, callbacks, timeouts, TLS, bandwidth and the
// method with its body.
void S3Client::SetOptions(CURL* h, const std::string& url, curl_slist* headers,
                          const S3Request& req, Attempt& a) const {
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &a);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &a);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(config_.stall_timeout_s));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, config_.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, config_.verify_tls ? 2L : 0L);
  if (!config_.ca_bundle.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_bundle.c_str());
  if (config_.max_bandwidth > 0) {
    curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE,
                     static_cast<curl_off_t>(config_.max_bandwidth));
    curl_easy_setopt(h, CURLOPT_MAX_RECV_SPEED_LARGE,
                     static_cast<curl_off_t>(config_.max_bandwidth));
  }
  if (req.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(h, CURLOPT_READDATA, &a);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, reinterpret_cast<const char*>(req.body.data()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
}

Result<S3Response> S3Client::SendOnce(const S3Request& req, Attempt& a) {
  a.req = &req;
  const std::string path = config_.path_style
                               ? "/" + config_.bucket + (req.key.empty() ? "" : "/" + req.key)
                               : "/" + req.key;
  const std::string query = CanonicalQuery(req.query);
  const std::string url =
      scheme_host_ + CanonicalUri(path, true) + (query.empty() ? "" : "?" + query);
  SigV4Request sr;
  sr.method = req.method;
  sr.path = path;
  sr.query = req.query;
  sr.payload_sha256_hex = HexEncode(Sha256::Of(req.body));
  const std::string date = AmzDate();
  sr.headers = {{"host", host_header_},
                {"x-amz-date", date},
                {"x-amz-content-sha256", sr.payload_sha256_hex}};
  if (!config_.credentials.session_token.empty()) {
    sr.headers.emplace_back("x-amz-security-token", config_.credentials.session_token);
  }
  sr.headers.insert(sr.headers.end(), req.headers.begin(), req.headers.end());
  SigV4Result sig = SignV4(sr, config_.credentials, {config_.region, "s3", true}, date);

  CURL* h = Acquire();
  struct curl_slist* list = nullptr;
  for (const auto& [k, v] : sr.headers) {
    if (k != "host") list = curl_slist_append(list, (k + ": " + v).c_str());
  }
  list = curl_slist_append(list, ("Authorization: " + sig.authorization).c_str());
  list = curl_slist_append(list, "Expect:");
  bool has_type = false;
  for (const auto& kv : req.headers) has_type = has_type || Lower(kv.first) == "content-type";
  if (!has_type) list = curl_slist_append(list, "Content-Type:");
  SetOptions(h, url, list, req, a);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.resp.status);
  curl_slist_free_all(list);
  Release(h);
  if (rc != CURLE_OK) {
    std::string what = std::string(curl_easy_strerror(rc)) + " (" +
                       RedactUrlCredentials(url.substr(0, url.find('?'))) + ")";
    return RetryableCurl(rc) ? Unavailable(what) : IOError(what);
  }
  return std::move(a.resp);
}

Result<S3Response> S3Client::Send(const S3Request& req, std::vector<long> accept) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  Status last;
  for (int attempt = 0; attempt < config_.max_attempts; ++attempt) {
    if (attempt > 0) {
      int64_t cap = std::min<int64_t>(config_.backoff_cap_ms,
                                      int64_t{config_.backoff_base_ms} << std::min(attempt, 20));
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % (cap + 1)));
    }
    Attempt a;
    auto r = SendOnce(req, a);
    if (!r.ok()) {
      last = r.status();
      if (r.status().code() != Code::kUnavailable) return r.status();
      continue;
    }
    const long st = r->status;
    if ((st >= 200 && st < 300) || std::find(accept.begin(), accept.end(), st) != accept.end()) {
      return r;
    }
    std::string code = XmlField(r->body, "Code");
    if (st == 403 && req.method == "HEAD") {
      // HEAD answers carry no error document: ask again with a one-byte GET to learn why.
      S3Request probe = req;
      probe.method = "GET";
      probe.headers.emplace_back("range", "bytes=0-0");
      Attempt b;
      auto again = SendOnce(probe, b);
      if (again.ok()) code = XmlField(again->body, "Code");
    }
    const std::string where = config_.Describe() + (req.key.empty() ? "" : " key " + req.key);
    if (RetryableHttp(st, code)) {
      last = Unavailable("S3 " + std::to_string(st) + (code.empty() ? "" : " " + code) + " on " +
                         where);
      continue;
    }
    if (code == "SignatureDoesNotMatch") {
      return PermissionDenied("S3 signature mismatch at " + endpoint_shown_ +
                              ": check the secret "
                              "key for access key " +
                              config_.credentials.access_key_id +
                              " (AWS_SECRET_ACCESS_KEY or the credentials file) and the clock");
    }
    if (code == "InvalidAccessKeyId") {
      return PermissionDenied("S3 at " + endpoint_shown_ + " does not know access key " +
                              config_.credentials.access_key_id + "; check AWS_ACCESS_KEY_ID");
    }
    if (st == 403)
      return PermissionDenied("S3 denied " + req.method + " on " + where + " (" + code + ")");
    if (code == "NoSuchBucket") {
      return NotFound("bucket " + config_.bucket + " does not exist at " + endpoint_shown_);
    }
    if (st == 404) return NotFound("object " + req.key + " not found in " + config_.Describe());
    if (st == 412) return AlreadyExists(where + " already exists");
    return IOError("S3 " + req.method + " on " + where + " failed: HTTP " + std::to_string(st) +
                   (code.empty() ? "" : " " + code + ": " + XmlField(r->body, "Message")));
  }
  return Unavailable("S3 at " + endpoint_shown_ + " is unavailable after " +
                     std::to_string(config_.max_attempts) + " attempts: " + last.message());
}

}  // namespace aura::backup
