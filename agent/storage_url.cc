#include "agent/storage_url.h"

#include "agent/config.h"
#include "backup/storage/local_storage.h"
#include "backup/storage/s3_storage.h"
#include "common/url_credentials.h"

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
    return InvalidArgument("unsupported target URL '" + RedactUrlCredentials(url) +
                           "': use a folder path or s3://bucket/prefix");
  }
  return std::shared_ptr<backup::Storage>(std::make_shared<backup::LocalStorage>(url));
}

Result<std::shared_ptr<backup::Storage>> OpenTarget(const TargetConfig& t) {
  if (t.url.rfind("s3://", 0) != 0) return OpenStorageUrl(t.url);
  const S3TargetOptions& o = t.s3;
  std::map<std::string, std::string> env = backup::ProcessEnvironment();
  if (o.endpoint) env["AWS_ENDPOINT_URL_S3"] = *o.endpoint;
  if (o.region) env["AWS_REGION"] = *o.region;
  if (o.profile || o.credentials_file) {
    // A named profile wins over credentials in the environment.
    env.erase("AWS_ACCESS_KEY_ID");
    env.erase("AWS_SECRET_ACCESS_KEY");
    env.erase("AWS_SESSION_TOKEN");
    if (o.profile) env["AWS_PROFILE"] = *o.profile;
    if (o.credentials_file) env["AWS_SHARED_CREDENTIALS_FILE"] = *o.credentials_file;
  }
  auto c = backup::S3ConfigFromUrl(t.url, env);
  if (!c.ok()) return c.status().WithContext("target '" + t.name + "'");
  if (o.ca_bundle) c->ca_bundle = *o.ca_bundle;
  if (o.storage_class) c->storage_class = *o.storage_class;
  if (o.object_lock_mode) c->object_lock_mode = *o.object_lock_mode;
  if (o.object_lock_days) c->object_lock_days = static_cast<int>(*o.object_lock_days);
  if (o.path_style) c->path_style = *o.path_style;
  if (o.verify_tls) c->verify_tls = *o.verify_tls;
  if (o.list_top_prefix_only) c->list_top_prefix_only = *o.list_top_prefix_only;
  if (o.connect_timeout_ms) c->connect_timeout_ms = static_cast<int>(*o.connect_timeout_ms);
  if (o.stall_timeout_s) c->stall_timeout_s = static_cast<int>(*o.stall_timeout_s);
  if (o.part_size_mb) c->part_size = static_cast<uint64_t>(*o.part_size_mb) << 20;
  if (o.upload_concurrency) c->upload_concurrency = static_cast<int>(*o.upload_concurrency);
  if (o.bandwidth_limit_kib) c->max_bandwidth = static_cast<uint64_t>(*o.bandwidth_limit_kib) << 10;
  if (o.max_attempts) c->max_attempts = static_cast<int>(*o.max_attempts);
  Status valid = backup::ValidateS3Config(*c);
  if (!valid.ok()) return valid.WithContext("target '" + t.name + "'");
  return std::shared_ptr<backup::Storage>(
      std::make_shared<backup::S3Storage>(std::move(c).value()));
}

}  // namespace aura::agent
