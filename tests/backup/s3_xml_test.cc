// The S3 answers the agent parses (backup/storage/s3_xml.h), as a hostile or broken server could
// send them. The fuzzer (tests/fuzz/s3_xml_fuzz.cc) covers arbitrary bytes; these pin the
// decisions.
#include "backup/storage/s3_xml.h"

#include <gtest/gtest.h>

namespace aura::backup {
namespace {

TEST(S3Xml, ListingPageGivesDecodedKeysSizesAndTheNextToken) {
  auto page = ParseListObjectsPage(
      "<ListBucketResult><IsTruncated>true</IsTruncated>"
      "<NextContinuationToken>abc</NextContinuationToken>"
      "<Contents><Key>db/a%20b+c</Key><Size>42</Size>"
      "<LastModified>2026-12-04T10:00:00.000Z</LastModified></Contents>"
      "<Contents><Key>db/x</Key></Contents></ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->objects.size(), 2u);
  EXPECT_EQ(page->objects[0].key, "db/a b c");
  EXPECT_EQ(page->objects[0].size, 42u);
  EXPECT_NE(page->objects[0].modified, TimePoint{});
  EXPECT_EQ(page->objects[1].size, 0u) << "a missing Size is 0";
  EXPECT_EQ(page->next_token, "abc");
}

// The old parser read an unreadable Size as 0, so prune and verify saw an empty object.
TEST(S3Xml, ListingWhoseSizeIsNotANumberWasReadAsAnEmptyObject) {
  auto page = ParseListObjectsPage(
      "<ListBucketResult><Contents><Key>db/a</Key><Size>12x</Size></Contents>"
      "</ListBucketResult>");
  ASSERT_FALSE(page.ok());
  EXPECT_NE(page.status().message().find("Size"), std::string::npos) << page.status().ToString();
}

// The old loop stopped at a truncated page without a token and returned half a listing as all.
TEST(S3Xml, TruncatedListingWithoutAContinuationTokenWasTakenAsComplete) {
  auto page = ParseListObjectsPage(
      "<ListBucketResult><IsTruncated>true</IsTruncated>"
      "<Contents><Key>db/a</Key><Size>1</Size></Contents></ListBucketResult>");
  ASSERT_FALSE(page.ok());
  EXPECT_NE(page.status().message().find("continuation token"), std::string::npos);
}

TEST(S3Xml, UnreadableXmlIsAnErrorNamingTheRequest) {
  auto page = ParseListObjectsPage("<ListBucketResult><Contents>");
  ASSERT_FALSE(page.ok());
  EXPECT_NE(page.status().message().find("ListObjectsV2"), std::string::npos);
  EXPECT_FALSE(ParseMultipartUploads("\x01\x02").ok());
  auto id = ParseUploadId("<InitiateMultipartUploadResult/>", "k");
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("upload id for k"), std::string::npos);
}

TEST(S3Xml, MultipartUploadsListKeyIdAndStartOnlyWhenReadable) {
  auto ups = ParseMultipartUploads(
      "<ListMultipartUploadsResult><Upload><Key>p/a</Key><UploadId>1</UploadId>"
      "<Initiated>2026-12-04T10:00:00Z</Initiated></Upload>"
      "<Upload><Key>p/b</Key><UploadId>2</UploadId><Initiated>yesterday</Initiated></Upload>"
      "</ListMultipartUploadsResult>");
  ASSERT_TRUE(ups.ok()) << ups.status().ToString();
  ASSERT_EQ(ups->size(), 2u);
  EXPECT_TRUE((*ups)[0].initiated_known);
  EXPECT_FALSE((*ups)[1].initiated_known) << "an unreadable start is never old enough to abort";
  EXPECT_EQ((*ups)[1].upload_id, "2");
}

TEST(S3Xml, PercentThatIsNotAnEscapeStaysAsItIs) {
  EXPECT_EQ(DecodeListedKey("a%2"), "a%2");
  EXPECT_EQ(DecodeListedKey("a%zz%41"), "a%zzA");
}

}  // namespace
}  // namespace aura::backup
