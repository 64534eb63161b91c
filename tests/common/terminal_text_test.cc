// Text made safe for terminals and logs (common/terminal_text.h), and credentials kept out of
// URLs in messages (common/url_credentials.h).
#include "common/terminal_text.h"

#include <gtest/gtest.h>

#include "common/url_credentials.h"

namespace aura {
namespace {

using namespace std::string_literals;

TEST(EscapeForTerminal, ControlCharactersBecomeVisibleEscapes) {
  EXPECT_EQ(EscapeForTerminal("db\x1b[31mred"), "db\\e[31mred");
  EXPECT_EQ(EscapeForTerminal("a\nb\tc\rd"), "a\\nb\\tc\\rd");
  EXPECT_EQ(EscapeForTerminal("a\0b"s), "a\\x00b");
  EXPECT_EQ(EscapeForTerminal("\x07\x7f\x1f"), "\\x07\\x7f\\x1f");
}

TEST(EscapeForTerminal, ValidUtf8IsKeptAndC1ControlsAreEscapedEitherWay) {
  EXPECT_EQ(EscapeForTerminal("Zürich €  𝄞 日本"), "Zürich €  𝄞 日本");
  EXPECT_EQ(EscapeForTerminal("a\x9b\x32Jb"), "a\\x9b2Jb");         // raw C1 CSI, then "2Jb"
  EXPECT_EQ(EscapeForTerminal("a\xc2\x9b\x32J"), "a\\xc2\\x9b2J");  // U+009B, encoded
  EXPECT_EQ(EscapeForTerminal("\xc2\xa0"), "\xc2\xa0");             // U+00A0 is printable
}

TEST(EscapeForTerminal, InvalidUtf8BytesAreEscapedOneByOne) {
  EXPECT_EQ(EscapeForTerminal("caf\xe9"), "caf\\xe9");                       // Latin-1
  EXPECT_EQ(EscapeForTerminal("\xc0\xaf"), "\\xc0\\xaf");                    // overlong '/'
  EXPECT_EQ(EscapeForTerminal("\xed\xa0\x80"), "\\xed\\xa0\\x80");           // a surrogate
  EXPECT_EQ(EscapeForTerminal("\xe2\x82"), "\\xe2\\x82");                    // truncated
  EXPECT_EQ(EscapeForTerminal("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // > U+10FFFF
}

TEST(EscapeForTerminal, IsValidUtf8AgreesWithWhatIsKept) {
  EXPECT_TRUE(IsValidUtf8("Zürich € 𝄞 \x1b[31m"));
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_FALSE(IsValidUtf8("caf\xe9"));
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));
}

TEST(EscapeForTerminal, EscapingTwiceChangesNothing) {
  const std::string once = EscapeForTerminal("x\x1b]0;title\x07\0\xff"s);
  EXPECT_EQ(EscapeForTerminal(once), once);
}

TEST(EscapeForTerminal, LinesKeepTheirBreaksAndNothingElse) {
  EXPECT_EQ(EscapeLinesForTerminal("f:1: bad \x1b[2J\nf:2: worse\t"),
            "f:1: bad \\e[2J\nf:2: worse\\t");
  EXPECT_EQ(EscapeLinesForTerminal("one\n"), "one\n");
}

TEST(RedactUrlCredentials, TheWholeUserinfoGoes) {
  EXPECT_EQ(RedactUrlCredentials("http://user:secret@127.0.0.1:1"), "http://***@127.0.0.1:1");
  EXPECT_EQ(RedactUrlCredentials("https://token@host/path?q=a@b"), "https://***@host/path?q=a@b");
  EXPECT_EQ(RedactUrlCredentials("http://u:p@ss@host"), "http://***@host");
  EXPECT_TRUE(UrlHasCredentials("http://user:secret@host"));
  EXPECT_TRUE(UrlHasCredentials("http://@host"));
}

TEST(RedactUrlCredentials, UrlsWithoutCredentialsAreUnchanged) {
  for (const char* url : {"http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com",
                          "http://host/a@b", "s3://bucket/prefix", "/var/backups", ""}) {
    EXPECT_EQ(RedactUrlCredentials(url), url);
    EXPECT_FALSE(UrlHasCredentials(url)) << url;
  }
}

}  // namespace
}  // namespace aura
