// The Windows service's decisions, as plain data, so they are unit-tested on Linux: which status
// to report to the Service Control Manager at each step (with checkpoints and wait hints), how an
// exit code becomes a service exit code that triggers the recovery actions, the recovery policy,
// the command line the SCM starts, and the event log's message ids. service_win32.cc only
// carries these values across the Win32 API.
//
// Thread-safety: values; ServiceStatusModel is used under the service's own lock.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aura::winsvc {

inline constexpr char kServiceName[] = "AuraAgent";
inline constexpr char kDisplayName[] = "Aura Sync Agent";
inline constexpr char kDescription[] =
    "Backs up, ships the WAL of, checks and migrates SQLite databases (aura-agent run)";
// The virtual account the service runs as unless `--account` says otherwise: a per-service SID
// with no password and no rights beyond what an admin grants it (icacls ... /grant
// "NT SERVICE\AuraAgent:(OI)(CI)M" on the database's folder).
inline constexpr char kDefaultAccount[] = "NT SERVICE\\AuraAgent";

// The SERVICE_STATUS values the model uses (winsvc.h), so this header needs no windows.h.
enum class State : uint32_t { kStopped = 1, kStartPending = 2, kStopPending = 3, kRunning = 4 };
inline constexpr uint32_t kAcceptStop = 0x1;             // SERVICE_ACCEPT_STOP
inline constexpr uint32_t kAcceptPreshutdown = 0x100;    // SERVICE_ACCEPT_PRESHUTDOWN
inline constexpr uint32_t kControlStop = 0x1;            // SERVICE_CONTROL_STOP
inline constexpr uint32_t kControlInterrogate = 0x4;     // SERVICE_CONTROL_INTERROGATE
inline constexpr uint32_t kControlShutdown = 0x5;        // SERVICE_CONTROL_SHUTDOWN
inline constexpr uint32_t kControlPreshutdown = 0xF;     // SERVICE_CONTROL_PRESHUTDOWN
inline constexpr uint32_t kNoError = 0;                  // NO_ERROR
inline constexpr uint32_t kServiceSpecificError = 1066;  // ERROR_SERVICE_SPECIFIC_ERROR

struct StatusReport {
  State state = State::kStopped;
  uint32_t controls_accepted = 0;
  uint32_t win32_exit_code = kNoError;
  uint32_t service_exit_code = 0;
  uint32_t checkpoint = 0;
  uint32_t wait_hint_ms = 0;
};

// What to tell the SCM, step by step. A pending state carries an increasing checkpoint and a
// wait hint; Progress() repeats it with the next checkpoint (sent every few seconds while
// pending, so a long shutdown is not taken for a hung service).
class ServiceStatusModel {
 public:
  StatusReport Starting();
  StatusReport Running();
  // Shutdown began; the agent finishes within `within` (its shutdown_timeout).
  StatusReport Stopping(std::chrono::seconds within);
  StatusReport Progress();
  // The daemon returned `exit_code`: 0 is a clean stop; anything else is reported as a
  // service-specific error, which the SCM counts as a failure (with
  // fFailureActionsOnNonCrashFailures set, the recovery actions then restart the service).
  StatusReport Stopped(int exit_code);

  const StatusReport& last() const { return last_; }

 private:
  StatusReport Pending(State state, uint32_t wait_hint_ms);
  StatusReport last_;
};

// Whether a control stops the agent (STOP, PRESHUTDOWN, and SHUTDOWN when PRESHUTDOWN was not
// delivered first).
bool StopsTheAgent(uint32_t control);

// How long the SCM waits in PRESHUTDOWN for the agent: its shutdown_timeout and a margin.
uint32_t PreshutdownTimeoutMs(std::chrono::seconds shutdown_timeout);

// SERVICE_FAILURE_ACTIONS: restart after each delay; the failure count resets after
// `reset_period`.
struct RecoveryPolicy {
  std::chrono::seconds reset_period{};
  std::vector<std::chrono::milliseconds> restart_after;
  bool on_non_crash_failures = true;  // SERVICE_FAILURE_ACTIONS_FLAG
};
// Restart after 5 s, 30 s, then 2 min; forget failures after a day.
RecoveryPolicy DefaultRecovery();

// One argument quoted for CommandLineToArgvW (and the C runtime's argv): in double quotes when
// it has a space, tab, quote or is empty; backslashes doubled only before a quote.
std::string QuoteArgument(std::string_view arg);
// What the SCM runs: "<exe>" service run --config "<config>".
std::string ServiceCommandLine(std::string_view exe_path, std::string_view config_file);

// Event log message ids (windows-service/messages.mc; service_win32.cc checks they agree with
// the ids windmc generates). Severity bits as the message compiler sets them.
inline constexpr uint32_t kMsgStarted = 0x40000001;   // informational: %1 = config file
inline constexpr uint32_t kMsgStopped = 0x40000002;   // informational: %1 = exit code
inline constexpr uint32_t kMsgFailed = 0xC0000003;    // error: %1 = what failed
inline constexpr uint32_t kMsgStopping = 0x40000004;  // informational: %1 = why
// The event log's source: HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\<name>.
std::string EventSourceKey();

}  // namespace aura::winsvc
