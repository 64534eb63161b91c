// The format of every log line the agent writes (the CLI's stderr log and the daemon's log file,
// stderr or journal): a spdlog pattern whose message, `%v`, is escaped for the terminal
// (common/terminal_text.h). Messages carry names the agent does not control (database names,
// paths, object keys, error text from a server); escaping them in the formatter covers every
// log line at once, whatever the call site wrote.
//
// Thread-safety: call before logging starts, as spdlog's set_formatter.
#pragma once

#include <spdlog/logger.h>

#include <string>

namespace aura::agent {

// Sets `logger`'s format to `pattern` (spdlog's flags), with `%v` the escaped message.
void SetEscapedLogPattern(spdlog::logger& logger, const std::string& pattern);

}  // namespace aura::agent
