// Manifests read back from a target (backup/manifest.h): JSON whoever holds the bucket can
// change. The fuzzer (tests/fuzz/manifest_fuzz.cc) found the first two; its inputs are in
// tests/fuzz/regressions/manifest/.
#include "backup/manifest.h"

#include <gtest/gtest.h>

#include <string>

namespace aura::backup {
namespace {

Manifest Sample() {
  Manifest m;
  m.summary.database = "aura";
  m.summary.snapshot = "20261204T100000Z-0001";
  m.summary.created = *ParseRfc3339("2026-12-04T10:00:00Z");
  m.summary.page_size = 4096;
  m.summary.page_count = 2;
  m.summary.size = 8192;
  m.summary.generation = 7;
  m.sha256 = std::string(64, 'a');
  m.objects.push_back({"aura/snapshots/x.data", "data", 10, 8192, 1, std::string(64, 'b')});
  return m;
}

// `field` set to `value` (raw JSON) in the sample's JSON.
std::string With(const std::string& field, const std::string& value) {
  std::string text = ManifestToJson(Sample());
  const std::string key = "\"" + field + "\": ";
  const size_t at = text.find(key) + key.size();
  const size_t end = text.find_first_of(",\n", at);
  return text.substr(0, at) + value + text.substr(end);
}

TEST(Manifest, PrintedManifestParsesBackToTheSameJson) {
  const std::string text = ManifestToJson(Sample());
  auto m = ManifestFromJson(text, "x");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(ManifestToJson(*m), text);
}

// UBSan: "3.46661e+21 is outside the range of representable values of type 'unsigned long'".
TEST(Manifest, FloatTooLargeForAnIntegerFieldWasUndefinedBehaviour) {
  auto m =
      ManifestFromJson(With("generation", "3466612800000000000000"), "db/snapshots/x.manifest");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Code::kCorruption);
  EXPECT_NE(m.status().message().find("generation"), std::string::npos) << m.status().ToString();
  EXPECT_NE(m.status().message().find("db/snapshots/x.manifest"), std::string::npos);
}

// UBSan: "signed integer overflow" converting year 8084 to the nanosecond clock.
TEST(Manifest, CreatedTimeBeyondTheClocksRangeOverflowedIt) {
  auto m = ManifestFromJson(With("created", "\"8084-12-04T10:00:00.000Z\""), "x");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("1970 to 2261"), std::string::npos) << m.status().ToString();
}

TEST(Manifest, NegativeOrOversizedCountsWereWrappedSilently) {
  for (const auto& [field, value] : {std::pair{"size", "-1"},
                                     {"page_size", "4294967296"},
                                     {"txid", "1.5"},
                                     {"page_count", "\"2\""}}) {
    auto m = ManifestFromJson(With(field, value), "x");
    ASSERT_FALSE(m.ok()) << field << "=" << value;
    EXPECT_EQ(m.status().code(), Code::kCorruption) << field << "=" << value;
  }
}

}  // namespace
}  // namespace aura::backup
