// The repository marker (backup/repository_info.h), read from a target before anything else.
#include "backup/repository_info.h"

#include <gtest/gtest.h>

namespace aura::backup {
namespace {

std::string Marker(const std::string& kdf, const std::string& encryption = "aes-256-gcm") {
  return R"({"format":1,"id":"0123abcd","created":"2026-12-04T00:00:00Z","encryption":")" +
         encryption + R"(","kdf":{"algorithm":"scrypt","salt":"c2FsdA==",)" + kdf + "}}";
}

TEST(RepositoryInfo, MarkerPrintedBackParsesToTheSameFields) {
  RepositoryInfo i;
  i.id = "feedbeef";
  i.encryption = "none";
  i.kdf_salt = {1, 2, 3};
  auto back = ParseRepositoryInfo(RepositoryInfoToJson(i), "x");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, "feedbeef");
  EXPECT_EQ(back->kdf_salt, i.kdf_salt);
  EXPECT_EQ(back->kdf.n, i.kdf.n);
}

// A hostile marker's scrypt cost went straight to key derivation: N=2^40 failed as an internal
// error ("scrypt key derivation failed"), p=2^31 ran for hours.
TEST(RepositoryInfo, MarkerWithScryptCostOutOfRangeWentStraightToKeyDerivation) {
  for (const char* kdf : {R"("n":1099511627776,"r":8,"p":1)", R"("n":32768,"r":8,"p":2147483647)",
                          R"("n":1000,"r":8,"p":1)", R"("n":32768,"r":0,"p":1)"}) {
    auto info = ParseRepositoryInfo(Marker(kdf), "t/aura-repository.json");
    ASSERT_FALSE(info.ok()) << kdf;
    EXPECT_EQ(info.status().code(), Code::kCorruption) << kdf;
    EXPECT_NE(info.status().message().find("scrypt parameters out of range"), std::string::npos);
    EXPECT_NE(info.status().message().find("t/aura-repository.json"), std::string::npos);
  }
  EXPECT_TRUE(ParseRepositoryInfo(Marker(R"("n":32768,"r":8,"p":1)"), "t").ok());
}

TEST(RepositoryInfo, MarkerWithAnUnknownEncryptionIsRefused) {
  auto info = ParseRepositoryInfo(Marker(R"("n":32768,"r":8,"p":1)", "rot13"), "t");
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("rot13"), std::string::npos);
}

TEST(RepositoryInfo, MarkerThatIsNotJsonOrLacksFieldsIsCorruptionNotAnException) {
  for (const char* text : {"", "{", "[]", R"({"format":1})", R"({"format":"1"})",
                           R"({"format":1,"id":7,"encryption":"none","kdf":{}})"}) {
    auto info = ParseRepositoryInfo(text, "t");
    ASSERT_FALSE(info.ok()) << text;
    EXPECT_EQ(info.status().code(), Code::kCorruption) << text;
  }
  EXPECT_EQ(ParseRepositoryInfo(Marker(R"("n":3.5e21,"r":8,"p":1)"), "t").status().code(),
            Code::kCorruption)
      << "a float too large for the field is corruption, not undefined behaviour";
  EXPECT_EQ(ParseRepositoryInfo(Marker(R"("n":32768,"r":-8,"p":1)"), "t").status().code(),
            Code::kCorruption)
      << "a negative count is not wrapped";
  EXPECT_EQ(ParseRepositoryInfo(R"({"format":2})", "t").status().code(), Code::kUnsupported);
}

}  // namespace
}  // namespace aura::backup
