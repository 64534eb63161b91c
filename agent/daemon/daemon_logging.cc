#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

#include "agent/daemon/daemon_internal.h"
#include "agent/log_format.h"
#include "common/file_io.h"

namespace aura::agent {

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
    AURA_RETURN_IF_ERROR(CreateDirectories(DirName(file), 0750));
    try {
      auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file, 10 << 20, 5);
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
