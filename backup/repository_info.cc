#include "backup/repository_info.h"

#include <nlohmann/json.hpp>

#include "common/hashing.h"
#include "common/json_number.h"

namespace aura::backup {

using json = nlohmann::json;

namespace {

// scrypt parameters a marker may carry: N a power of two from 2^10 to 2^22, r and p small. A
// marker outside them was not written by this agent, and would make key derivation fail or run
// for hours.
Status CheckKdf(const ScryptParams& k, const std::string& where) {
  const bool n_ok = k.n >= (1u << 10) && k.n <= (1u << 22) && (k.n & (k.n - 1)) == 0;
  if (!n_ok || k.r < 1 || k.r > 32 || k.p < 1 || k.p > 16) {
    return Corruption(where + " has scrypt parameters out of range (n=" + std::to_string(k.n) +
                      " r=" + std::to_string(k.r) + " p=" + std::to_string(k.p) +
                      "); it was not written by aura-agent: point the command at the right target");
  }
  return Status::Ok();
}

}  // namespace

std::string RepositoryInfoToJson(const RepositoryInfo& i) {
  return json{{"format", i.format},
              {"id", i.id},
              {"created", i.created},
              {"encryption", i.encryption},
              {"kdf",
               {{"algorithm", "scrypt"},
                {"salt", Base64Encode(i.kdf_salt)},
                {"n", i.kdf.n},
                {"r", i.kdf.r},
                {"p", i.kdf.p}}}}
      .dump(2);
}

Result<RepositoryInfo> ParseRepositoryInfo(const std::string& text, const std::string& where) {
  try {
    json j = json::parse(text);
    RepositoryInfo i;
    i.format = JsonInt<int>(j.at("format"), "format");
    if (i.format != 1) {
      return Unsupported(where + " has repository format " + std::to_string(i.format) +
                         "; upgrade aura-agent");
    }
    i.id = j.at("id").get<std::string>();
    i.created = j.value("created", "");
    i.encryption = j.at("encryption").get<std::string>();
    if (i.encryption != "aes-256-gcm" && i.encryption != "none") {
      return Corruption(where + " names an unknown encryption '" + i.encryption +
                        "' (aura-agent writes aes-256-gcm or none)");
    }
    const json& k = j.at("kdf");
    auto salt = Base64Decode(k.at("salt").get<std::string>());
    if (!salt.ok()) return Corruption(where + ": bad KDF salt");
    i.kdf_salt = *salt;
    i.kdf.n = JsonInt<uint64_t>(k.at("n"), "n");
    i.kdf.r = JsonInt<uint32_t>(k.at("r"), "r");
    i.kdf.p = JsonInt<uint32_t>(k.at("p"), "p");
    AURA_RETURN_IF_ERROR(CheckKdf(i.kdf, where));
    return i;
  } catch (const json::exception& e) {
    return Corruption(where + " is not a valid repository file (" + e.what() + ")");
  }
}

}  // namespace aura::backup
