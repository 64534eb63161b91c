#include "backup/storage/s3_config.h"

#include <cstdlib>
#include <sstream>

#include "common/secret_file.h"
#include "common/url_credentials.h"

extern char** environ;

namespace aura::backup {

namespace {

std::string Get(const std::map<std::string, std::string>& env, const std::string& k) {
  auto it = env.find(k);
  return it == env.end() ? std::string() : it->second;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

}  // namespace

std::string S3Config::Describe() const {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix);
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return env;
}

Result<SigV4Credentials> ReadSharedCredentials(const std::string& path,
                                               const std::string& profile) {
  auto text = ReadSecretFile(path, 1 << 20, "AWS credentials file");
  if (!text.ok() && text.status().code() == Code::kKeyError) return text.status();
  if (!text.ok()) return NotFound("no AWS credentials file at " + path);
  std::istringstream in(*text);
  std::string line, section;
  SigV4Credentials c;
  bool found = false;
  while (std::getline(in, line)) {
    line = Trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(line.substr(1, line.size() - 2));
      continue;
    }
    if (section != profile) continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = Trim(line.substr(0, eq)), v = Trim(line.substr(eq + 1));
    found = true;
    if (k == "aws_access_key_id") c.access_key_id = v;
    if (k == "aws_secret_access_key") c.secret_access_key = v;
    if (k == "aws_session_token") c.session_token = v;
  }
  if (!found || c.access_key_id.empty()) {
    return NotFound("profile [" + profile + "] with aws_access_key_id not found in " + path);
  }
  return c;
}

Result<S3Config> S3ConfigFromUrl(const std::string& url,
                                 const std::map<std::string, std::string>& env) {
  if (url.rfind("s3://", 0) != 0 || url.size() <= 5 || UrlHasCredentials(url)) {
    return InvalidArgument("'" + RedactUrlCredentials(url) + "' is not an s3://bucket/prefix URL");
  }
  S3Config c;
  std::string rest = url.substr(5);
  auto slash = rest.find('/');
  c.bucket = rest.substr(0, slash);
  c.prefix = slash == std::string::npos ? "" : rest.substr(slash + 1);
  while (!c.prefix.empty() && c.prefix.back() == '/') c.prefix.pop_back();
  if (c.bucket.size() < 3) {
    return InvalidArgument("'" + url + "': bucket names have at least 3 characters");
  }
  std::string region = Get(env, "AWS_REGION");
  if (region.empty()) region = Get(env, "AWS_DEFAULT_REGION");
  if (!region.empty()) c.region = region;
  c.endpoint = Get(env, "AWS_ENDPOINT_URL_S3");
  if (c.endpoint.empty()) c.endpoint = Get(env, "AWS_ENDPOINT_URL");
  if (c.endpoint.empty()) {
    c.endpoint = "https://s3." + c.region + ".amazonaws.com";
    c.path_style = false;
  }
  while (!c.endpoint.empty() && c.endpoint.back() == '/') c.endpoint.pop_back();
  c.ca_bundle = Get(env, "AWS_CA_BUNDLE");
  c.list_top_prefix_only = Get(env, "AURA_S3_LIST_TOP_PREFIX_ONLY") == "1";
  c.credentials.access_key_id = Get(env, "AWS_ACCESS_KEY_ID");
  c.credentials.secret_access_key = Get(env, "AWS_SECRET_ACCESS_KEY");
  c.credentials.session_token = Get(env, "AWS_SESSION_TOKEN");
  if (c.credentials.access_key_id.empty() || c.credentials.secret_access_key.empty()) {
    std::string file = Get(env, "AWS_SHARED_CREDENTIALS_FILE");
    if (file.empty()) file = Get(env, "HOME") + "/.aws/credentials";
    std::string profile = Get(env, "AWS_PROFILE");
    if (profile.empty()) profile = "default";
    auto creds = ReadSharedCredentials(file, profile);
    if (!creds.ok() && creds.status().code() == Code::kKeyError) return creds.status();
    if (!creds.ok()) {
      return KeyError(
          "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
          "profile [" +
          profile + "] in " + file + " (" + creds.status().message() + ")");
    }
    c.credentials = *creds;
  }
  return c;
}

Status ValidateS3Config(const S3Config& c) {
  const std::string endpoint = RedactUrlCredentials(c.endpoint);
  if (c.endpoint.rfind("http://", 0) != 0 && c.endpoint.rfind("https://", 0) != 0) {
    return ConfigError("S3 endpoint '" + endpoint + "' must start with http:// or https://");
  }
  if (UrlHasCredentials(c.endpoint)) {
    return ConfigError("S3 endpoint '" + endpoint +
                       "' holds credentials; remove them from the URL and give S3 keys by "
                       "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file");
  }
  if (c.part_size < (5u << 20) || c.part_size > (5ull << 30)) {
    return ConfigError("S3 part size must be between 5 MiB and 5 GiB");
  }
  if (c.upload_concurrency < 1 || c.upload_concurrency > 64) {
    return ConfigError("S3 upload concurrency must be between 1 and 64");
  }
  if (!c.object_lock_mode.empty() && c.object_lock_mode != "GOVERNANCE" &&
      c.object_lock_mode != "COMPLIANCE") {
    return ConfigError("object lock mode must be GOVERNANCE or COMPLIANCE");
  }
  if (!c.object_lock_mode.empty() && c.object_lock_days < 1) {
    return ConfigError("object lock needs object_lock_days >= 1");
  }
  return Status::Ok();
}

}  // namespace aura::backup
