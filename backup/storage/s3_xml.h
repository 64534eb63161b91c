// The S3 answers the agent reads, parsed from their XML into plain values: ListObjectsV2 pages,
// ListMultipartUploads, CreateMultipartUpload. The bytes come from the network, so every field
// may be missing, empty or not what it claims: a missing field gets its default; a malformed
// document, a Size that is not a number or a truncated listing without a continuation token is
// an error naming the request, never an exception nor a silently partial listing
// (tests/fuzz/s3_xml_fuzz.cc feeds it arbitrary bytes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace aura::backup {

struct S3ListedObject {
  std::string key;  // decoded (the listing is asked for with encoding-type=url)
  uint64_t size = 0;
  TimePoint modified{};  // the epoch when the server sent none or an unreadable one
};

struct S3ListPage {
  std::vector<S3ListedObject> objects;
  std::string next_token;  // empty: the last page
};

struct S3ListedUpload {
  std::string key;
  std::string upload_id;
  bool initiated_known = false;
  TimePoint initiated{};
};

Result<S3ListPage> ParseListObjectsPage(const std::string& body);
Result<std::vector<S3ListedUpload>> ParseMultipartUploads(const std::string& body);
// The UploadId of a CreateMultipartUpload answer; kIOError when there is none.
Result<std::string> ParseUploadId(const std::string& body, const std::string& key);

// A key of a listing asked for with encoding-type=url: percent-encoded, '+' for a space.
std::string DecodeListedKey(const std::string& key);

}  // namespace aura::backup
