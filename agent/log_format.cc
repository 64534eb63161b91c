#include "agent/log_format.h"

#include <spdlog/pattern_formatter.h>

#include "common/terminal_text.h"

namespace aura::agent {

namespace {

// `%v` with the message escaped. Custom flags take precedence over spdlog's own, so patterns
// keep the usual `%v`.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    const std::string text = EscapeForTerminal({msg.payload.data(), msg.payload.size()});
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

}  // namespace

void SetEscapedLogPattern(spdlog::logger& logger, const std::string& pattern) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<EscapedMessage>('v').set_pattern(pattern);
  logger.set_formatter(std::move(formatter));
}

}  // namespace aura::agent
