// key generate, key add, config check.
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/commands.h"
#include "agent/config.h"
#include "backup/keyring.h"
#include "common/terminal_text.h"
#include "common/url_credentials.h"

namespace aura::agent {

using nlohmann::json;

int RunKeyGenerate(const std::string& path, const Output& out) {
  auto key = backup::CreateKeyFile(path);
  if (!key.ok()) return out.Fail(key.status());
  out.Json({{"key_file", path}, {"key_id", key->IdHex()}});
  out.Line("created key " + key->IdHex() + " in " + path +
           " (mode 0600). Keep a copy off this host: without it, backups cannot be restored.");
  return 0;
}

int RunKeyAdd(const std::string& path, const Output& out) {
  auto key = backup::AddKeyToFile(path);
  if (!key.ok()) return out.Fail(key.status());
  out.Json({{"key_file", path}, {"key_id", key->IdHex()}});
  out.Line("added key " + key->IdHex() + " to " + path +
           "; new backups use it, older ones still restore with the keys before it");
  return 0;
}

int RunConfigCheck(const std::string& path, const Output& out) {
  auto cfg = LoadConfig(path);
  if (!cfg.ok()) {
    if (out.json()) return out.Fail(cfg.status());
    // Every problem on a line of its own (file:line: ...), then the one error line.
    std::cerr << EscapeLinesForTerminal(cfg.status().message()) << "\n"
              << "aura-agent: error: " << EscapeForTerminal(path) << " is not valid\n";
    return ExitCode(cfg.status());
  }
  const std::vector<std::string> warnings = ConfigWarnings(*cfg);
  for (const std::string& w : warnings) {
    std::fprintf(stderr, "aura-agent: warning: %s\n", EscapeForTerminal(w).c_str());
  }
  json dbs = json::array();
  for (const DatabaseConfig& d : cfg->databases) {
    dbs.push_back(
        {{"name", d.name}, {"path", d.path}, {"targets", d.targets}, {"continuous", d.continuous}});
    out.Line("database " + d.name + " (" + d.path + ") -> " + std::to_string(d.targets.size()) +
             " target(s)");
  }
  json targets = json::array();
  for (const TargetConfig& t : cfg->targets) {
    const std::string url = RedactUrlCredentials(t.url);
    targets.push_back({{"name", t.name}, {"url", url}, {"encryption", t.encryption}});
    out.Line("target " + t.name + ": " + url + " (" + t.encryption + ")");
  }
  json standbys = json::array();
  for (const StandbyConfig& s : cfg->standbys) {
    standbys.push_back({{"name", s.name}, {"path", s.path}, {"from", s.from}});
    out.Line("standby " + s.name + " (" + s.path + ") <- target " + s.from);
  }
  out.Json({{"config", path},
            {"valid", true},
            {"databases", dbs},
            {"targets", targets},
            {"standbys", standbys},
            {"warnings", warnings}});
  out.Line(path + " is valid");
  return 0;
}

}  // namespace aura::agent
