#include "backup/storage/aws_sigv4.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "common/hashing.h"

namespace aura::backup {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Trims and collapses runs of spaces (the "trimall" of the SigV4 specification).
std::string TrimAll(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

std::string NormalizePath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!seg.empty() && seg != ".") {
      parts.push_back(seg);
    }
    start = end + 1;
  }
  std::string out;
  for (const std::string& p : parts) out += "/" + p;
  bool trailing = path.size() > 1 && path.back() == '/' && !parts.empty();
  if (out.empty() || trailing) out += "/";
  return out;
}

std::string SigningKeyDigest(const SigV4Credentials& c, const std::string& date,
                             const SigV4Options& o, const std::string& string_to_sign) {
  std::string k = "AWS4" + c.secret_access_key;
  Digest d = HmacSha256(AsBytes(k), AsBytes(date));
  d = HmacSha256(d, AsBytes(o.region));
  d = HmacSha256(d, AsBytes(o.service));
  d = HmacSha256(d, AsBytes("aws4_request"));
  return HexEncode(HmacSha256(d, AsBytes(string_to_sign)));
}

}  // namespace

std::string UriEncode(std::string_view s, bool encode_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    bool unreserved = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  for (const auto& [k, v] : query) enc.emplace_back(UriEncode(k, true), UriEncode(v, true));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) out += (out.empty() ? "" : "&") + k + "=" + v;
  return out;
}

std::string CanonicalUri(const std::string& path, bool s3) {
  std::string p = path.empty() ? "/" : path;
  return UriEncode(s3 ? p : NormalizePath(p), false);
}

SigV4Result SignV4(const SigV4Request& req, const SigV4Credentials& creds, const SigV4Options& opts,
                   const std::string& amz_date) {
  std::map<std::string, std::string> headers;  // sorted by lowercase name
  for (const auto& [name, value] : req.headers) {
    std::string& slot = headers[Lower(name)];
    slot += (slot.empty() ? "" : ",") + TrimAll(value);
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    signed_headers += (signed_headers.empty() ? "" : ";") + name;
  }
  SigV4Result r;
  r.canonical_request = req.method + "\n" + CanonicalUri(req.path, opts.s3) + "\n" +
                        CanonicalQuery(req.query) + "\n" + canonical_headers + "\n" +
                        signed_headers + "\n" + req.payload_sha256_hex;
  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + opts.region + "/" + opts.service + "/aws4_request";
  r.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" +
                     HexEncode(Sha256::Of(r.canonical_request));
  r.signature = SigningKeyDigest(creds, date, opts, r.string_to_sign);
  r.authorization = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + "/" + scope +
                    ", SignedHeaders=" + signed_headers + ", Signature=" + r.signature;
  return r;
}

}  // namespace aura::backup
