// A real S3-compatible server for tests: moto_server started on 127.0.0.1, with an IAM user, an
// access key, an allow-all policy and a bucket created in its first (unchecked) requests, so that
// every later request is signature-checked (INITIAL_NO_AUTH_ACTION_COUNT, see
// ../shared/TESTING.md). Without signature checking (`check_signatures = false`) moto accepts any
// credentials, which the tests use for object keys moto's own check mishandles (+, =, : and
// non-ASCII).
#pragma once

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "backup/storage/s3_config.h"
#include "tests/support/test_env.h"

namespace aura::testing {

inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

inline bool PortOpen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

class MotoServer {
 public:
  // Empty string when moto_server is available, else why not.
  static std::string Missing() {
    ProcessResult r = RunProcess({"/bin/sh", "-c", "command -v moto_server"});
    return r.exit_code == 0 ? ""
                            : "moto_server is not installed (pip package moto[server]); "
                              "the S3 tests need a real S3-compatible server";
  }

  MotoServer(bool check_signatures, const std::string& bucket) : bucket_(bucket) {
    port_ = FreePort();
    std::vector<std::string> env;
    if (check_signatures) env.push_back("INITIAL_NO_AUTH_ACTION_COUNT=4");
    // moto logs every request: to a file, so a full pipe never stalls it.
    const char* tmp = std::getenv("TMPDIR");
    log_ = std::string(tmp && *tmp ? tmp : "/tmp") + "/aura-moto-" + std::to_string(port_) + ".log";
    // setpriv --pdeathsig: the server dies with the test process even if that crashes.
    proc_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/bin/sh", "-c",
                                 "P=$(command -v setpriv >/dev/null && echo 'setpriv --pdeathsig "
                                 "KILL'); exec $P moto_server -H 127.0.0.1 -p " +
                                     std::to_string(port_) + " > " + log_ + " 2>&1"},
        env);
    // Wait for the port without sending a request: every request counts as an action.
    for (int i = 0; i < 300 && !PortOpen(port_); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const std::string fake =
        "Authorization: AWS4-HMAC-SHA256 Credential=setup/20261124/us-east-1/"
        "iam/aws4_request, SignedHeaders=host, Signature=x";
    if (check_signatures) {
      Post("Action=CreateUser&UserName=aura&Version=2010-05-08", fake);
      std::string key = Post("Action=CreateAccessKey&UserName=aura&Version=2010-05-08", fake);
      access_key_ = Between(key, "<AccessKeyId>", "</AccessKeyId>");
      secret_key_ = Between(key, "<SecretAccessKey>", "</SecretAccessKey>");
      Post(
          "Action=PutUserPolicy&UserName=aura&PolicyName=all&Version=2010-05-08&PolicyDocument="
          "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow"
          "%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D",
          fake);
    } else {
      access_key_ = "anything";
      secret_key_ = "anything";
    }
    // moto routes by the service named in the credential scope.
    Request("PUT", "/" + bucket_, "",
            "Authorization: AWS4-HMAC-SHA256 Credential=setup/20261124/us-east-1/s3/aws4_request, "
            "SignedHeaders=host, Signature=x");
  }

  ~MotoServer() {
    if (proc_) proc_->Signal(SIGTERM);
    proc_.reset();
    ::unlink(log_.c_str());
  }

  bool ready() const { return !access_key_.empty() && !secret_key_.empty(); }

  // Requests moto has logged (its own request log), each as "KIND path": KIND is the HTTP
  // method, except LIST for a listing of the bucket (objects or multipart uploads) and DELETE for
  // a batch delete (POST ?delete), as an object store bills them. The setup requests are left
  // out.
  std::vector<std::string> Requests() const {
    std::vector<std::string> out;
    std::ifstream in(log_);
    std::string line;
    const std::string bucket_path = "/" + bucket_;
    while (std::getline(in, line)) {
      auto q = line.find('"');
      if (q == std::string::npos) continue;
      std::istringstream req(line.substr(q + 1));
      std::string method, path;
      req >> method >> path;
      if (method != "GET" && method != "PUT" && method != "POST" && method != "HEAD" &&
          method != "DELETE") {
        continue;
      }
      if (path == "/" || path.rfind("/?", 0) == 0) continue;  // IAM setup
      const std::string where = path.substr(0, path.find('?'));
      const bool on_bucket = where == bucket_path || where == bucket_path + "/";
      std::string kind = method;
      if (method == "GET" && on_bucket) kind = "LIST";
      if (method == "POST" && path.find("?delete") != std::string::npos) kind = "DELETE";
      if (method == "PUT" && on_bucket) continue;  // the bucket's creation
      out.push_back(kind + " " + path);
    }
    return out;
  }
  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  const std::string& access_key() const { return access_key_; }
  const std::string& secret_key() const { return secret_key_; }

  backup::S3Config Config(const std::string& prefix, int port_override = 0) const {
    backup::S3Config c;
    c.endpoint = "http://127.0.0.1:" + std::to_string(port_override ? port_override : port_);
    c.bucket = bucket_;
    c.prefix = prefix;
    c.credentials = {access_key_, secret_key_, ""};
    c.part_size = 5u << 20;
    c.max_attempts = 6;
    c.backoff_base_ms = 20;
    c.backoff_cap_ms = 500;
    c.list_top_prefix_only = true;  // moto mis-verifies list prefixes containing '/'
    return c;
  }

  // The environment the CLI reads for s3:// URLs.
  std::vector<std::string> Env(int port_override = 0) const {
    return {"AWS_ENDPOINT_URL=http://127.0.0.1:" +
                std::to_string(port_override ? port_override : port_),
            "AWS_ACCESS_KEY_ID=" + access_key_, "AWS_SECRET_ACCESS_KEY=" + secret_key_,
            "AWS_REGION=us-east-1", "AURA_S3_LIST_TOP_PREFIX_ONLY=1"};
  }

 private:
  static size_t Collect(char* p, size_t s, size_t n, void* ud) {
    static_cast<std::string*>(ud)->append(p, s * n);
    return s * n;
  }

  std::string Request(const std::string& method, const std::string& path, const std::string& body,
                      const std::string& auth) {
    CURL* h = curl_easy_init();
    std::string out, url = endpoint() + path;
    struct curl_slist* hl = curl_slist_append(nullptr, auth.c_str());
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty()) curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, Collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    curl_easy_perform(h);
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return out;
  }

  std::string Post(const std::string& form, const std::string& auth) {
    return Request("POST", "/", form, auth);
  }

  static std::string Between(const std::string& s, const std::string& a, const std::string& b) {
    auto i = s.find(a);
    if (i == std::string::npos) return "";
    i += a.size();
    return s.substr(i, s.find(b, i) - i);
  }

  std::string bucket_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> proc_;
  std::string log_;
  std::string access_key_, secret_key_;
};

}  // namespace aura::testing
