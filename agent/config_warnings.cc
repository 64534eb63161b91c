// What a valid config may still get wrong: warned about, never refused.
#include <spdlog/spdlog.h>

#include "agent/config.h"

namespace aura::agent {

std::string NothingConfiguredWarning(const Config& cfg) {
  if (!cfg.databases.empty() || !cfg.standbys.empty()) return "";
  return cfg.path +
         " configures no database: the agent runs protecting nothing; add a [[database]] table "
         "(name, path, targets) or a [[standby]] (examples/agent.toml shows every key)";
}

std::vector<std::string> InsecureTlsWarnings(const Config& cfg) {
  std::vector<std::string> out;
  for (const TargetConfig& t : cfg.targets) {
    if (!t.s3.verify_tls.has_value() || *t.s3.verify_tls) continue;
    out.push_back(cfg.path + ":" + std::to_string(t.line) + ": target '" + t.name +
                  "' sets verify_tls = false: its TLS certificate is not checked, so anyone on "
                  "the network path can pose as the server and read or refuse every upload; "
                  "give its CA with ca_bundle and remove verify_tls");
  }
  return out;
}

std::vector<std::string> ConfigWarnings(const Config& cfg) {
  std::vector<std::string> out;
  if (std::string w = NothingConfiguredWarning(cfg); !w.empty()) out.push_back(std::move(w));
  for (std::string& w : InsecureTlsWarnings(cfg)) out.push_back(std::move(w));
  return out;
}

Result<Config> LoadConfigAndWarn(const std::string& path) {
  AURA_ASSIGN_OR_RETURN(Config cfg, LoadConfig(path));
  for (const std::string& w : InsecureTlsWarnings(cfg)) spdlog::warn("{}", w);
  return cfg;
}

}  // namespace aura::agent
