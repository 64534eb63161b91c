// S3 answers (backup/storage/s3_xml.h): listings, multipart-upload listings, upload ids. A
// server, a proxy or a man in the middle without TLS chooses these bytes; any of them gives a
// value or an error, never an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "backup/storage/s3_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  auto page = aura::backup::ParseListObjectsPage(body);
  if (page.ok()) {
    for (const auto& o : page->objects) (void)o.key.size();
  }
  (void)aura::backup::ParseMultipartUploads(body);
  (void)aura::backup::ParseUploadId(body, "fuzz-key");
  (void)aura::backup::DecodeListedKey(body);
  return 0;
}
