#include "windows-service/service_model.h"

#include <string>

namespace aura::winsvc {

namespace {

constexpr uint32_t kStartWaitHintMs = 30'000;
constexpr uint32_t kStopMarginMs = 15'000;

}  // namespace

StatusReport ServiceStatusModel::Pending(State state, uint32_t wait_hint_ms) {
  StatusReport r;
  r.state = state;
  r.controls_accepted = 0;  // no controls while pending
  r.checkpoint = last_.state == state ? last_.checkpoint + 1 : 1;
  r.wait_hint_ms = wait_hint_ms;
  last_ = r;
  return r;
}

StatusReport ServiceStatusModel::Starting() {
  return Pending(State::kStartPending, kStartWaitHintMs);
}

StatusReport ServiceStatusModel::Running() {
  StatusReport r;
  r.state = State::kRunning;
  r.controls_accepted = kAcceptStop | kAcceptPreshutdown;
  last_ = r;
  return r;
}

StatusReport ServiceStatusModel::Stopping(std::chrono::seconds within) {
  return Pending(State::kStopPending, static_cast<uint32_t>(within.count()) * 1000 + kStopMarginMs);
}

StatusReport ServiceStatusModel::Progress() {
  if (last_.state != State::kStartPending && last_.state != State::kStopPending) return last_;
  return Pending(last_.state, last_.wait_hint_ms);
}

StatusReport ServiceStatusModel::Stopped(int exit_code) {
  StatusReport r;
  r.state = State::kStopped;
  if (exit_code != 0) {
    r.win32_exit_code = kServiceSpecificError;
    r.service_exit_code = static_cast<uint32_t>(exit_code);
  }
  last_ = r;
  return r;
}

bool StopsTheAgent(uint32_t control) {
  return control == kControlStop || control == kControlPreshutdown || control == kControlShutdown;
}

uint32_t PreshutdownTimeoutMs(std::chrono::seconds shutdown_timeout) {
  return static_cast<uint32_t>(shutdown_timeout.count()) * 1000 + kStopMarginMs;
}

RecoveryPolicy DefaultRecovery() {
  using std::chrono::milliseconds;
  RecoveryPolicy p;
  p.reset_period = std::chrono::hours(24);
  p.restart_after = {milliseconds(5'000), milliseconds(30'000), milliseconds(120'000)};
  p.on_non_crash_failures = true;
  return p;
}

std::string QuoteArgument(std::string_view arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string_view::npos) {
    return std::string(arg);
  }
  std::string out = "\"";
  size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    // Backslashes before a quote are doubled, and the quote escaped.
    out.append(c == '"' ? backslashes * 2 + 1 : backslashes, '\\');
    backslashes = 0;
    out.push_back(c);
  }
  // Before the closing quote, every backslash is doubled.
  out.append(backslashes * 2, '\\');
  out.push_back('"');
  return out;
}

std::string ServiceCommandLine(std::string_view exe_path, std::string_view config_file) {
  // The executable is always quoted: an unquoted path with spaces is the classic
  // "unquoted service path" privilege escalation.
  std::string exe = QuoteArgument(exe_path);
  if (exe.front() != '"') exe = "\"" + exe + "\"";
  return exe + " service run --config " + QuoteArgument(config_file);
}

std::string EventSourceKey() {
  return std::string("SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\") + kServiceName;
}

}  // namespace aura::winsvc
