// TableReader: typed values out of one TOML table (toml++), every problem recorded with
// file:line, and keys nobody asked for reported as unknown; plus the small helpers the config
// sections share. Only config.cc and config_standby.cc include it (toml++ is a heavy header).
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "agent/config.h"

namespace aura::agent {

// Reads typed values out of one TOML table, recording every problem with file:line, and
// reporting keys nobody asked for as unknown.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string context, const std::string& file,
              std::vector<std::string>& errors)
      : table_(table), context_(std::move(context)), file_(file), errors_(errors) {}

  // A string value. One holding a NUL ("\u0000") is an error: no name or path can hold one (the
  // OS would cut a path short at it), but the value is still returned so that the checks after
  // this one can name it.
  std::optional<std::string> String(const std::string& key, bool required = false) {
    const toml::node* n = Take(key, required);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) return Wrong(*n, key, "a string");
    std::optional<std::string> v = n->value<std::string>();
    NoNul(*n, key, *v);
    return v;
  }

  std::optional<int64_t> Int(const std::string& key, int64_t min, int64_t max) {
    const toml::node* n = Take(key, false);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) return Wrong<int64_t>(*n, key, "an integer");
    int64_t v = *n->value<int64_t>();
    if (v < min || v > max) {
      Error(*n,
            "'" + key + "' must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> Bool(const std::string& key) {
    const toml::node* n = Take(key, false);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) return Wrong<bool>(*n, key, "true or false");
    return n->value<bool>();
  }

  std::vector<std::string> StringArray(const std::string& key) {
    std::vector<std::string> out;
    const toml::node* n = Take(key, false);
    if (n == nullptr) return out;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      Error(*n, "'" + key + "' must be an array of strings");
      return out;
    }
    for (const toml::node& e : *a) {
      if (!e.is_string()) {
        Error(e, "'" + key + "' must contain only strings");
        continue;
      }
      out.push_back(*e.value<std::string>());
      NoNul(e, key, out.back());
    }
    return out;
  }

  const toml::table* Table(const std::string& key) {
    const toml::node* n = Take(key, false);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      Error(*n, "'" + key + "' must be a table, e.g. " + key + " = { keep = 24 }");
      return nullptr;
    }
    return n->as_table();
  }

  // Reports the keys that were never read.
  void Finish(const std::string& hint = "") {
    for (auto&& [k, v] : table_) {
      std::string key(k.str());
      if (taken_.count(key)) continue;
      std::string msg = "unknown key '" + key + "' in " + context_;
      if (key.find("passphrase") != std::string::npos || key.find("secret") != std::string::npos ||
          key == "key") {
        msg += " (secrets are never inline: use key_file, passphrase_env or passphrase_file)";
      } else if (!hint.empty()) {
        msg += " (known keys: " + hint + ")";
      }
      Error(v, msg);
    }
  }

  void Error(const toml::node& n, const std::string& msg) {
    errors_.push_back(file_ + ":" + std::to_string(n.source().begin.line) + ": " + msg);
  }

  void ErrorHere(const std::string& msg) {
    errors_.push_back(file_ + ":" + std::to_string(table_.source().begin.line) + ": " + msg);
  }

  // An error at the line of `key` (when the table has it), else at the table's.
  void ErrorAtKey(const std::string& key, const std::string& msg) {
    const toml::node* n = table_.get(key);
    if (n != nullptr) {
      Error(*n, msg);
    } else {
      ErrorHere(msg);
    }
  }

  int line() const { return static_cast<int>(table_.source().begin.line); }

  // Marks `key` as known without reading it (the caller reads it another way).
  void Claim(const std::string& key) { taken_.insert(key); }

 private:
  const toml::node* Take(const std::string& key, bool required) {
    taken_.insert(key);
    const toml::node* n = table_.get(key);
    if (n == nullptr && required) ErrorHere("missing required key '" + key + "' in " + context_);
    return n;
  }

  void NoNul(const toml::node& n, const std::string& key, const std::string& value) {
    if (value.find('\0') != std::string::npos) {
      Error(n, "'" + key + "' in " + context_ + " holds a NUL character (\\u0000)");
    }
  }

  template <typename T = std::string>
  std::optional<T> Wrong(const toml::node& n, const std::string& key, const char* want) {
    Error(n, "'" + key + "' in " + context_ + " must be " + want);
    return std::nullopt;
  }

  const toml::table& table_;
  std::string context_;
  const std::string& file_;
  std::vector<std::string>& errors_;
  std::set<std::string> taken_;
};

// The table written back as TOML text (what a section's fingerprint compares).
inline std::string TableText(const toml::table& t) {
  std::ostringstream out;
  out << toml::toml_formatter(t);
  return out.str();
}

// Reads a duration key ("7d", "15m", "90s"); `dflt` when absent.
inline int64_t DurationKey(TableReader& r, const std::string& key, int64_t dflt, int64_t min,
                           int64_t max) {
  auto text = r.String(key);
  if (!text) return dflt;
  auto v = ParseDurationSeconds(*text);
  if (!v.ok() || *v < min || *v > max) {
    r.ErrorAtKey(key, "'" + key +
                          "' must be a duration such as \"90s\", \"15m\", \"12h\" or \"7d\" "
                          "between " +
                          std::to_string(min) + "s and " + std::to_string(max) + "s");
    return dflt;
  }
  return *v;
}

// Calls f(table, index) for each [[key]] table; an error when `key` is not an array of tables.
template <typename F>
void ForEachArrayTable(TableReader& root, const toml::table& tbl, const std::string& key,
                       std::vector<std::string>& errors, const std::string& file, F&& f) {
  root.Claim(key);
  const toml::node* n = tbl.get(key);
  if (n == nullptr) return;
  const toml::array* a = n->as_array();
  if (a == nullptr || !a->is_array_of_tables()) {
    errors.push_back(file + ":" + std::to_string(n->source().begin.line) + ": '" + key +
                     "' must be written as [[" + key + "]] tables");
    return;
  }
  int i = 0;
  for (const toml::node& e : *a) f(*e.as_table(), i++);
}

// [[standby]] tables (config_standby.cc).
void ReadStandby(const toml::table& t, int index, const std::string& file, Config& cfg,
                 std::vector<std::string>& errors);
void CrossCheckStandbys(const Config& cfg, const std::string& file,
                        std::vector<std::string>& errors);

}  // namespace aura::agent
