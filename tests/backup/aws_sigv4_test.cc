// The SigV4 signer against AWS's official test suite (../shared/testdata/aws-sig-v4-test-suite)
// and the S3 examples of AWS's "Signature Calculations for the Authorization Header" page.
#include "backup/storage/aws_sigv4.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/hashing.h"

namespace aura::backup {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// Parses a test-suite .req file into a request (path and query decoded as written).
SigV4Request ParseReq(const std::string& text) {
  SigV4Request r;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  size_t sp = line.find(' '), http = line.rfind(" HTTP/");
  r.method = line.substr(0, sp);
  std::string target = line.substr(sp + 1, http - sp - 1);
  size_t q = target.find('?');
  r.path = target.substr(0, q);
  if (q != std::string::npos) {
    std::string qs = target.substr(q + 1);
    size_t start = 0;
    while (start <= qs.size()) {
      size_t amp = qs.find('&', start);
      std::string pair =
          qs.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
      size_t eq = pair.find('=');
      r.query.emplace_back(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  std::string body;
  bool in_body = false;
  while (std::getline(in, line)) {
    if (in_body) {
      body += (body.empty() ? "" : "\n") + line;
    } else if (line.empty()) {
      in_body = true;
    } else if ((line[0] == ' ' || line[0] == '\t') && !r.headers.empty()) {
      r.headers.emplace_back(r.headers.back().first, line);  // folded continuation
    } else {
      size_t colon = line.find(':');
      r.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
    }
  }
  r.payload_sha256_hex = HexEncode(Sha256::Of(body));
  return r;
}

TEST(SigV4, PassesEveryCaseOfTheAwsTestSuite) {
  const fs::path suite = fs::path(AURA_SHARED_DIR) / "testdata/aws-sig-v4-test-suite";
  if (!fs::exists(suite)) {
    GTEST_SKIP() << "the AWS SigV4 vectors live in ../shared/testdata/aws-sig-v4-test-suite, "
                    "which is not beside this checkout";
  }
  SigV4Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  SigV4Options opts{"us-east-1", "service", false};
  int cases = 0;
  for (const auto& e : fs::recursive_directory_iterator(suite)) {
    if (e.path().extension() != ".req") continue;
    const std::string name = e.path().stem().string();
    const fs::path base = e.path().parent_path() / name;
    SigV4Request req = ParseReq(Slurp(e.path()));
    SigV4Result got = SignV4(req, creds, opts, "20150830T123600Z");
    EXPECT_EQ(got.canonical_request, Slurp(base.string() + ".creq")) << name;
    EXPECT_EQ(got.string_to_sign, Slurp(base.string() + ".sts")) << name;
    EXPECT_EQ(got.authorization, Slurp(base.string() + ".authz")) << name;
    ++cases;
  }
  EXPECT_GE(cases, 25);
}

// AWS's S3 examples ("Signature Calculations for the Authorization Header: Transferring Payload
// in a Single Chunk"): bucket examplebucket, 2013-05-24.
class S3Examples : public ::testing::Test {
 protected:
  SigV4Result Sign(const std::string& method, const std::string& path,
                   std::vector<std::pair<std::string, std::string>> query,
                   std::vector<std::pair<std::string, std::string>> extra,
                   const std::string& body) {
    SigV4Request r;
    r.method = method;
    r.path = path;
    r.query = std::move(query);
    r.payload_sha256_hex = HexEncode(Sha256::Of(body));
    r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"x-amz-date", "20130524T000000Z"},
                 {"x-amz-content-sha256", r.payload_sha256_hex}};
    r.headers.insert(r.headers.end(), extra.begin(), extra.end());
    return SignV4(r, creds_, {"us-east-1", "s3", true}, "20130524T000000Z");
  }
  SigV4Credentials creds_{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
};

TEST_F(S3Examples, GetObjectWithRange) {
  auto r = Sign("GET", "/test.txt", {}, {{"Range", "bytes=0-9"}}, "");
  EXPECT_EQ(r.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST_F(S3Examples, PutObject) {
  auto r = Sign(
      "PUT", "/test$file.text", {},
      {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
      "Welcome to Amazon S3.");
  EXPECT_EQ(r.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST_F(S3Examples, GetBucketLifecycle) {
  auto r = Sign("GET", "/", {{"lifecycle", ""}}, {}, "");
  EXPECT_EQ(r.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST_F(S3Examples, ListObjects) {
  auto r = Sign("GET", "/", {{"max-keys", "2"}, {"prefix", "J"}}, {}, "");
  EXPECT_EQ(r.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, UriEncodingOfAwkwardKeys) {
  EXPECT_EQ(UriEncode("a b+c=d:e/f", false), "a%20b%2Bc%3Dd%3Ae/f");
  EXPECT_EQ(UriEncode("a/b", true), "a%2Fb");
  EXPECT_EQ(UriEncode("\xc3\xa9", false), "%C3%A9");
  EXPECT_EQ(UriEncode("-_.~AZaz09", true), "-_.~AZaz09");
  EXPECT_EQ(CanonicalUri("/bucket//x/../y", true), "/bucket//x/../y") << "S3 keeps the key";
  EXPECT_EQ(CanonicalUri("/a//b/../c/", false), "/a/c/");
}

}  // namespace
}  // namespace aura::backup
