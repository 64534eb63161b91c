#include "agent/cli_errors.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace aura::agent {

namespace {

// The commands the parse got into, from the top: {"migrate", "list"} for `aura-agent migrate
// list ...`; empty when it did not get past the top level.
std::vector<CLI::App*> ParsedPath(CLI::App& app) {
  std::vector<CLI::App*> path;
  CLI::App* at = &app;
  while (!at->get_subcommands().empty()) {
    at = at->get_subcommands().front();
    path.push_back(at);
  }
  return path;
}

std::string CommandName(const std::vector<CLI::App*>& path) {
  std::string name = "aura-agent";
  for (const CLI::App* a : path) name += " " + a->get_name();
  return name;
}

std::string HelpHint(const std::vector<CLI::App*>& path) {
  return "run `" + CommandName(path) + " --help`";
}

// The first word (not an option) the command at the end of `path` did not take.
std::string FirstStrayWord(CLI::App& at) {
  for (const std::string& w : at.remaining()) {
    if (!w.empty() && w[0] != '-') return w;
  }
  return "";
}

Status MissingCommand(CLI::App& at, const std::vector<CLI::App*>& path) {
  std::string word = FirstStrayWord(at);
  std::string prefix;
  for (const CLI::App* a : path) prefix += a->get_name() + " ";
  if (!word.empty()) {
    return InvalidArgument("unknown command '" + prefix + word + "': " + HelpHint(path) +
                           " for the list");
  }
  return InvalidArgument(CommandName(path) + " needs a command: " + HelpHint(path) +
                         " for the list");
}

Status Unexpected(CLI::App& at, const std::vector<CLI::App*>& path) {
  std::vector<std::string> extras = at.remaining();
  std::string words;
  for (const std::string& w : extras) words += (words.empty() ? "'" : " '") + w + "'";
  const bool option = !extras.empty() && !extras.front().empty() && extras.front()[0] == '-';
  return InvalidArgument(std::string(option ? "unknown option " : "unexpected argument ") + words +
                         " for `" + CommandName(path) + "`: " + HelpHint(path) +
                         " for what it takes");
}

}  // namespace

Status UsageError(const CLI::ParseError& e, CLI::App& app) {
  std::vector<CLI::App*> path = ParsedPath(app);
  CLI::App& at = path.empty() ? app : *path.back();
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
      at.get_require_subcommand_min() > 0 && at.get_subcommands().empty()) {
    return MissingCommand(at, path);
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) return Unexpected(at, path);
  std::string what = e.what();
  if (!what.empty()) what[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(what[0])));
  return InvalidArgument(what + ": " + HelpHint(path) + " for the usage");
}

CLI::Validator WholeNumber(int64_t min, int64_t max) {
  const std::string range = std::to_string(min) + " to " + std::to_string(max);
  auto check = [min, max, range](std::string& input) -> std::string {
    int64_t v = 0;
    const char* end = input.data() + input.size();
    const bool sign_ok = min < 0 || input.empty() || input[0] != '-';
    auto [p, ec] = std::from_chars(input.data(), end, v);
    if (!sign_ok || input.empty() || ec != std::errc() || p != end || v < min || v > max) {
      return "'" + input + "' is not a whole number from " + range;
    }
    input = std::to_string(v);
    return std::string();
  };
  return CLI::Validator(check, "INT in [" + range + "]");
}

CLI::Validator SecondsBetween(double min, double max) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g to %.15g", min, max);
  const std::string range = buf;
  auto check = [min, max, range](std::string& input) -> std::string {
    double v = 0;
    const char* end = input.data() + input.size();
    auto [p, ec] = std::from_chars(input.data(), end, v, std::chars_format::fixed);
    if (input.empty() || ec != std::errc() || p != end || !std::isfinite(v) || v < min || v > max) {
      return "'" + input + "' is not a number of seconds from " + range;
    }
    return std::string();
  };
  return CLI::Validator(check, "SECONDS in [" + range + "]");
}

}  // namespace aura::agent
