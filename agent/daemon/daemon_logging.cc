#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "agent/daemon/daemon_internal.h"
#include "agent/log_format.h"
#include "common/file_io.h"

namespace aura::agent {

namespace {

// The log file and its folder: the agent's user writes, its group (`aura-agent` for the Debian
// package) may read; logs hold no secret (SECURITY.md).
constexpr int kLogFolderMode = 0750;
constexpr int kLogFileMode = 0640;

// spdlog opens with fopen (0666 less the umask). Creating a missing file first with exactly
// kLogFileMode means neither a permissive umask nor a chmod after the fact leaves a moment when
// others could open it; spdlog then appends. Called again for each file rotation starts. A file
// that exists keeps the mode its admin gave it.
spdlog::file_event_handlers CreateLogFilesWithTheirMode() {
  spdlog::file_event_handlers h;
  h.before_open = [](const spdlog::filename_t& path) {
    (void)File::CreateExclusive(path, kLogFileMode);  // exists, or fopen reports why not
  };
  return h;
}

}  // namespace

Status SetupDaemonLogging(const AgentSettings& a) {
  const bool managed =
      std::getenv("INVOCATION_ID") != nullptr || std::getenv("JOURNAL_STREAM") != nullptr;
  std::shared_ptr<spdlog::logger> logger;
  if (managed || a.log_file == "-") {
    logger =
        std::make_shared<spdlog::logger>("aura", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    SetEscapedLogPattern(*logger, managed ? "%l %v" : "%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  } else {
    std::string file = a.log_file.empty() ? a.state_dir + "/logs/agent.log" : a.log_file;
    AURA_RETURN_IF_ERROR(CreateDirectories(DirName(file), kLogFolderMode));
    try {
      auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          file, 10 << 20, 5, /*rotate_on_open=*/false, CreateLogFilesWithTheirMode());
      logger = std::make_shared<spdlog::logger>("aura", sink);
    } catch (const spdlog::spdlog_ex& e) {
      return IOError(std::string("cannot open the log file: ") + e.what());
    }
    SetEscapedLogPattern(*logger, "%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  }
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(a.log_level));
  return Status::Ok();
}

}  // namespace aura::agent
