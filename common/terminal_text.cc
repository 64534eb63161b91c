#include "common/terminal_text.h"

#include <cstdint>

namespace aura {

namespace {

bool InRange(uint8_t b, uint8_t lo, uint8_t hi) { return b >= lo && b <= hi; }

// The length of the valid UTF-8 sequence of two to four bytes starting at text[i], or 0 (RFC
// 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(text[i + k]); };
  const uint8_t b0 = at(0);
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (InRange(b0, 0xc2, 0xdf)) {
    n = 2;
  } else if (InRange(b0, 0xe0, 0xef)) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (InRange(b0, 0xf0, 0xf4)) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  }
  if (n == 0 || text.size() - i < n || !InRange(at(1), lo, hi)) return 0;
  for (size_t k = 2; k < n; ++k) {
    if (!InRange(at(k), 0x80, 0xbf)) return 0;
  }
  return n;
}

void AppendHex(std::string& out, uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 0xf];
}

void AppendControl(std::string& out, uint8_t b) {
  switch (b) {
    case 0x1b:
      out += "\\e";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      AppendHex(out, b);
  }
}

}  // namespace

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<uint8_t>(text[i]);
    if (b < 0x20 || b == 0x7f) {
      AppendControl(out, b);
      ++i;
    } else if (b < 0x80) {
      out += static_cast<char>(b);
      ++i;
    } else if (size_t n = Utf8SequenceLength(text, i); n == 0) {
      AppendHex(out, b);  // not UTF-8: a raw C1 control, Latin-1, a broken sequence
      ++i;
    } else if (b == 0xc2 && static_cast<uint8_t>(text[i + 1]) < 0xa0) {
      AppendHex(out, b);  // U+0080..U+009F: a C1 control, encoded
      AppendHex(out, static_cast<uint8_t>(text[i + 1]));
      i += 2;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    if (static_cast<uint8_t>(text[i]) < 0x80) {
      ++i;
    } else if (size_t n = Utf8SequenceLength(text, i); n > 0) {
      i += n;
    } else {
      return false;
    }
  }
  return true;
}

std::string EscapeLinesForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (;;) {
    const size_t end = text.find('\n');
    out += EscapeForTerminal(text.substr(0, end));
    if (end == std::string_view::npos) return out;
    out += '\n';
    text.remove_prefix(end + 1);
  }
}

}  // namespace aura
