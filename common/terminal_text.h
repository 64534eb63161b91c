// Text that is safe to print on a terminal or write to a log line.
//
// Names come from places the agent does not control: a folder in a target, an object key an S3
// server lists, a TOML string, a manifest's label. Printed raw, an ESC byte in one of them is a
// terminal control sequence (colour, cursor movement, a rewritten title, on some terminals
// worse), a line break forges a line of its own, and a NUL cuts the rest of a C string short.
// Every human output and every log line passes through EscapeForTerminal; JSON output does not
// (the JSON encoder escapes control characters itself, so names round-trip there exactly).
//
// What is escaped, and how:
//   - C0 controls 0x00-0x1f and DEL 0x7f: "\e" (ESC), "\n", "\r", "\t", otherwise "\xNN"
//     (so a NUL is "\x00");
//   - C1 controls U+0080-U+009F (8-bit terminals act on the raw bytes 0x80-0x9f, some UTF-8
//     terminals on the encoded code points): each byte as "\xNN";
//   - every byte that is not part of valid UTF-8 (overlong forms, surrogates, truncated
//     sequences, stray continuation bytes): "\xNN", so the result is always valid UTF-8.
// Everything else, valid multi-byte UTF-8 included, is kept as is. A backslash is not escaped:
// the result is for reading, not for parsing back, and escaping is idempotent (escaping
// escaped text changes nothing), so text escaped early may pass through a sink that escapes
// again.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace aura {

std::string EscapeForTerminal(std::string_view text);

// true when `text` is valid UTF-8 (RFC 3629), what JSON documents such as a manifest can hold.
bool IsValidUtf8(std::string_view text);

// The same for text that is several lines by design (a config error lists one problem per
// line): each line is escaped, the '\n' between lines are kept.
std::string EscapeLinesForTerminal(std::string_view text);

}  // namespace aura
