#include "agent/service_command.h"

#include <chrono>

#include "agent/cli_errors.h"
#include "windows-service/service.h"
#include "windows-service/service_model.h"

namespace aura::agent {

void ServiceCommand::Add(CLI::App& app, const std::function<void(CLI::App*)>& add_json) {
  group_ = app.add_subcommand(
      "service",
      "The agent as a Windows service (on Linux use systemd, on macOS launchd: docs/INSTALL.md)");
  group_->require_subcommand(1);
  install_ = group_->add_subcommand(
      "install",
      "Register the service (automatic start, restarted on failure, event log source) and its "
      "data folder under %ProgramData%\\Aura Agent; does not start it");
  install_->add_option("--config", config_,
                       "Config file the service runs with (default: %ProgramData%\\Aura "
                       "Agent\\agent.toml, created as a template when missing)");
  install_->add_option("--account", account_,
                       std::string("Account the service runs as (default: ") +
                           winsvc::kDefaultAccount + "; LocalSystem)");
  uninstall_ = group_->add_subcommand(
      "uninstall", "Stop and remove the service; its data folder, state and backups stay");
  start_ = group_->add_subcommand("start", "Start the service and wait until it runs");
  stop_ = group_->add_subcommand("stop", "Stop the service and wait until it has stopped");
  for (CLI::App* c : {start_, stop_, uninstall_}) {
    c->add_option("--wait", wait_s_, "Seconds to wait (default 90)")->check(WholeNumber(1, 3600));
  }
  run_ = group_->add_subcommand(
      "run", "What the Service Control Manager starts (in a console: aura-agent run)");
  run_->add_option("--config", config_, "Agent config file")->required();
  for (CLI::App* c : {install_, uninstall_, start_, stop_}) add_json(c);
}

bool ServiceCommand::parsed() const { return group_->parsed(); }

int ServiceCommand::Run(DaemonEntry run_daemon) const {
  const std::string config = config_;
  return winsvc::RunUnderServiceManager(
      config, [run_daemon, config](ServiceHooks& hooks) { return run_daemon(config, &hooks); });
}

int ServiceCommand::Manage(const Output& out) const {
  const std::chrono::seconds wait(wait_s_);
  Status s;
  std::string what;
  if (install_->parsed()) {
    s = winsvc::Install({config_, account_});
    what = "installed the service " + std::string(winsvc::kServiceName) +
           " (not started: edit its config, then aura-agent service start)";
  } else if (uninstall_->parsed()) {
    s = winsvc::Uninstall();
    what = "removed the service; its data folder, state and backups are kept";
  } else if (start_->parsed()) {
    s = winsvc::Start(wait);
    what = "the service is running";
  } else {
    s = winsvc::Stop(wait);
    what = "the service has stopped";
  }
  if (!s.ok()) return out.Fail(s);
  out.Json({{"service", winsvc::kServiceName}, {"result", what}});
  out.Line(what);
  return 0;
}

}  // namespace aura::agent
