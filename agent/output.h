// Command output: human text by default, one JSON document with --json. Errors are one line on
// stderr ("aura-agent: error: <what failed>: <what to do>"), and with --json also a JSON object
// on stdout, so scripts never parse prose. The process exit code is the Status code number
// (docs/CLI.md lists them).
//
// Human text is escaped for the terminal (common/terminal_text.h): a name holding an escape
// sequence or a NUL is printed as "\e[31m", "\x00". JSON keeps names exact (the encoder
// escapes control characters as \u001b); bytes that are not UTF-8, which JSON cannot hold, are
// replaced by U+FFFD instead of failing the command.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/progress.h"
#include "common/status.h"

namespace aura::agent {

class Output {
 public:
  // `progress`: show a progress line on stderr during long work (ProgressWanted decides).
  explicit Output(bool json, bool progress = false)
      : json_(json), progress_(progress ? std::make_shared<TerminalProgress>() : nullptr) {}
  bool json() const { return json_; }
  // What long work reports to (SnapshotOptions::progress, ...): nullptr when no line is shown.
  // Every print below ends the line first, so it never runs into the command's output.
  Progress* progress() const { return progress_.get(); }

  // Prints a human line, escaped (nothing in JSON mode).
  void Line(const std::string& text) const;
  // Prints the JSON document (nothing in human mode).
  void Json(const nlohmann::json& doc) const;
  // Reports `status` and returns its exit code. On stderr each line of the message is escaped
  // (a config error lists one problem per line).
  int Fail(const Status& status) const { return Fail(status, nlohmann::json::object()); }
  // Same, with JSON mode printing `doc` (what the command did before it failed) plus "error".
  int Fail(const Status& status, nlohmann::json doc) const;

 private:
  void EndProgress() const {
    if (progress_) progress_->Finish();
  }

  bool json_;
  std::shared_ptr<Progress> progress_;
};

int ExitCode(const Status& status);

// `doc` as the agent prints it: indented by 2, invalid UTF-8 replaced rather than thrown on.
std::string JsonText(const nlohmann::json& doc);

// Table cells: `text` escaped for the terminal, then padded with spaces to `width` bytes (on the
// right, or on the left for numbers). Longer text is not cut.
std::string PadRight(std::string_view text, size_t width);
std::string PadLeft(std::string_view text, size_t width);

// "1011.2 MiB"
inline std::string HumanBytes(uint64_t bytes) { return FormatBytes(bytes); }

}  // namespace aura::agent
