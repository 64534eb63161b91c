// AWS Signature Version 4, our own implementation (curl's built-in signer in Debian 12's 7.88
// signs query strings unsorted and omits x-amz-content-sha256; fixed only in 8.3).
//
// Canonical request = method \n canonical URI \n canonical query \n canonical headers \n
// signed headers \n payload hash. The URI path and query are given decoded and encoded here
// (RFC 3986, unreserved A-Z a-z 0-9 - _ . ~ kept, everything else %XX); query pairs are sorted
// by encoded name then value; header names are lowercased, values trimmed with inner runs of
// spaces collapsed, repeated headers joined with ',' in order, sorted by name. Generic services
// normalize the path ("." and ".." segments, repeated slashes); S3 does not. String to sign =
// "AWS4-HMAC-SHA256\n" date \n scope \n hex(SHA-256(canonical request)); signing key =
// HMAC chain of "AWS4"+secret, date, region, service, "aws4_request".
//
// A session token is sent as the x-amz-security-token header; the caller adds it to the headers
// before signing so it is signed (S3 requires that).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aura::backup {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;
};

struct SigV4Request {
  std::string method;
  std::string path;                                          // decoded, e.g. "/bucket/my key.data"
  std::vector<std::pair<std::string, std::string>> query;    // decoded name/value pairs
  std::vector<std::pair<std::string, std::string>> headers;  // as sent; must include Host
  std::string payload_sha256_hex;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Options {
  std::string region;
  std::string service;
  bool s3 = false;  // S3: the path is not normalized
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;
  std::string authorization;  // value of the Authorization header
};

// `amz_date` is "YYYYMMDDTHHMMSSZ" (the x-amz-date header's value).
SigV4Result SignV4(const SigV4Request& req, const SigV4Credentials& creds, const SigV4Options& opts,
                   const std::string& amz_date);

// RFC 3986 percent-encoding as SigV4 requires; '/' is kept unless encode_slash.
std::string UriEncode(std::string_view s, bool encode_slash);

// The canonical (encoded, sorted) query string; also what goes on the wire.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

// The encoded path as sent on the wire and signed (normalized unless `s3`).
std::string CanonicalUri(const std::string& path, bool s3);

}  // namespace aura::backup
