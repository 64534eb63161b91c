#include "backup/storage/s3_xml.h"

#include <boost/property_tree/ptree.hpp>
#include <boost/property_tree/xml_parser.hpp>
#include <charconv>
#include <sstream>

namespace aura::backup {

namespace pt = boost::property_tree;

namespace {

Result<pt::ptree> ParseXml(const std::string& body, const std::string& what) {
  try {
    std::istringstream in(body);
    pt::ptree tree;
    pt::read_xml(in, tree);
    return tree;
  } catch (const pt::ptree_error& e) {
    return IOError("S3 returned unreadable XML for " + what + " (" + e.what() + ")");
  }
}

// The text of child `name`, empty when there is none.
std::string Text(const pt::ptree& node, const char* name) {
  auto child = node.get_child_optional(name);
  return child ? child->data() : std::string();
}

Result<uint64_t> Number(const pt::ptree& node, const char* name, const std::string& what) {
  const std::string text = Text(node, name);
  if (text.empty()) return uint64_t{0};
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return IOError("S3 returned " + what + " with a " + name + " that is not a number");
  }
  return v;
}

}  // namespace

// A '%' not followed by two hex digits stays as it is (how botocore decodes it too).
std::string DecodeListedKey(const std::string& key) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
  };
  std::string out;
  out.reserve(key.size());
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '+') {
      out += ' ';
    } else if (key[i] == '%' && i + 2 < key.size() && hex(key[i + 1]) >= 0 &&
               hex(key[i + 2]) >= 0) {
      out += static_cast<char>(hex(key[i + 1]) * 16 + hex(key[i + 2]));
      i += 2;
    } else {
      out += key[i];
    }
  }
  return out;
}

Result<S3ListPage> ParseListObjectsPage(const std::string& body) {
  AURA_ASSIGN_OR_RETURN(pt::ptree t, ParseXml(body, "ListObjectsV2"));
  const pt::ptree none;
  const pt::ptree& result = t.get_child("ListBucketResult", none);
  S3ListPage page;
  for (const auto& [tag, node] : result) {
    if (tag != "Contents") continue;
    S3ListedObject o;
    o.key = DecodeListedKey(Text(node, "Key"));
    AURA_ASSIGN_OR_RETURN(o.size, Number(node, "Size", "a listing"));
    auto when = ParseRfc3339(Text(node, "LastModified"));
    if (when.ok()) o.modified = *when;
    page.objects.push_back(std::move(o));
  }
  if (Text(result, "IsTruncated") == "true") {
    page.next_token = Text(result, "NextContinuationToken");
    if (page.next_token.empty()) {
      return IOError("S3 returned a truncated listing without a continuation token");
    }
  }
  return page;
}

Result<std::vector<S3ListedUpload>> ParseMultipartUploads(const std::string& body) {
  AURA_ASSIGN_OR_RETURN(pt::ptree t, ParseXml(body, "ListMultipartUploads"));
  const pt::ptree none;
  std::vector<S3ListedUpload> out;
  for (const auto& [tag, node] : t.get_child("ListMultipartUploadsResult", none)) {
    if (tag != "Upload") continue;
    S3ListedUpload u;
    u.key = Text(node, "Key");
    u.upload_id = Text(node, "UploadId");
    auto started = ParseRfc3339(Text(node, "Initiated"));
    u.initiated_known = started.ok();
    if (started.ok()) u.initiated = *started;
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::string> ParseUploadId(const std::string& body, const std::string& key) {
  AURA_ASSIGN_OR_RETURN(pt::ptree t, ParseXml(body, "CreateMultipartUpload"));
  const pt::ptree none;
  std::string id = Text(t.get_child("InitiateMultipartUploadResult", none), "UploadId");
  if (id.empty()) return IOError("S3 did not return an upload id for " + key);
  return id;
}

}  // namespace aura::backup
