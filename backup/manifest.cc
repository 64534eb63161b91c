#include "backup/manifest.h"

#include <nlohmann/json.hpp>

#include "common/json_number.h"

namespace aura::backup {

using nlohmann::json;

json SummaryJson(const SnapshotSummary& s) {
  json j{{"format", kManifestFormat},
         {"database", s.database},
         {"snapshot", s.snapshot},
         {"kind", s.kind},
         {"base", s.base},
         {"created", FormatRfc3339(s.created)},
         {"label", s.label},
         {"page_size", s.page_size},
         {"page_count", s.page_count},
         {"size", s.size},
         {"stored_size", s.stored_size},
         {"encrypted", s.encrypted},
         {"key_id", s.key_id},
         {"generation", s.generation},
         {"txid", s.txid}};
  if (s.source_check_failed) j["source_check"] = "failed";
  return j;
}

namespace {

Result<SnapshotSummary> SummaryFrom(const json& j) {
  SnapshotSummary s;
  s.database = j.at("database").get<std::string>();
  s.snapshot = j.at("snapshot").get<std::string>();
  s.kind = j.at("kind").get<std::string>();
  s.base = j.value("base", "");
  if (s.kind != "full" && s.kind != "incremental") {
    return Unsupported("snapshot kind '" + s.kind + "' is not supported; upgrade aura-agent");
  }
  if ((s.kind == "incremental") != !s.base.empty()) {
    return Corruption("snapshot " + s.snapshot + ": an incremental snapshot must name its base");
  }
  auto created = ParseRfc3339(j.at("created").get<std::string>());
  if (!created.ok()) return created.status();
  s.created = *created;
  s.label = j.value("label", "");
  s.page_size = JsonInt<uint32_t>(j.at("page_size"), "page_size");
  s.page_count = JsonInt<uint64_t>(j.at("page_count"), "page_count");
  s.size = JsonInt<uint64_t>(j.at("size"), "size");
  s.stored_size = JsonInt<uint64_t>(j, "stored_size", uint64_t{0});
  s.encrypted = j.value("encrypted", false);
  s.key_id = j.value("key_id", "");
  s.generation = JsonInt<uint64_t>(j, "generation", uint64_t{0});
  s.txid = JsonInt<uint64_t>(j, "txid", uint64_t{0});
  s.source_check_failed = j.value("source_check", "") == "failed";
  return s;
}

template <typename F>
auto Guard(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const json::exception& e) {
    return Corruption(what + ": malformed manifest JSON (" + e.what() + ")");
  }
}

}  // namespace

std::string SummaryToJson(const SnapshotSummary& s) { return SummaryJson(s).dump(); }

Result<SnapshotSummary> SummaryFromJson(const std::string& text, const std::string& what) {
  return Guard(what, [&]() -> Result<SnapshotSummary> {
    json j = json::parse(text);
    if (JsonInt<int>(j, "format", 0) != kManifestFormat) {
      return Unsupported(what + ": manifest format " +
                         std::to_string(JsonInt<int>(j, "format", 0)) +
                         " is not supported; upgrade aura-agent");
    }
    return SummaryFrom(j);
  });
}

std::string ManifestToJson(const Manifest& m) {
  json j = SummaryJson(m.summary);
  j["host"] = m.host;
  j["source_path"] = m.source_path;
  j["journal_mode"] = m.journal_mode;
  j["sha256"] = m.sha256;
  if (m.wal) {
    j["wal"] = {{"salt1", m.wal->salt1},
                {"salt2", m.wal->salt2},
                {"frame", m.wal->frame},
                {"checksum", {m.wal->checksum.s0, m.wal->checksum.s1}}};
  }
  if (m.replication) {
    j["replication"] = {{"generation", m.replication->generation},
                        {"txid", m.replication->txid},
                        {"db_checksum", m.replication->db_checksum}};
  }
  if (m.db_checksum) {
    j["db_checksum"] = *m.db_checksum;
    j["base_db_checksum"] = m.base_db_checksum;
    j["pages_changed"] = m.pages_changed;
  }
  json objs = json::array();
  for (const ManifestObject& o : m.objects) {
    objs.push_back({{"name", o.name},
                    {"kind", o.kind},
                    {"stored_size", o.stored_size},
                    {"plaintext_size", o.plaintext_size},
                    {"chunks", o.chunks},
                    {"sha256", o.sha256}});
  }
  j["objects"] = objs;
  j["duration_ms"] = m.duration_ms;
  j["agent_version"] = m.agent_version;
  return j.dump(2);
}

Result<Manifest> ManifestFromJson(const std::string& text, const std::string& what) {
  return Guard(what, [&]() -> Result<Manifest> {
    json j = json::parse(text);
    if (JsonInt<int>(j, "format", 0) != kManifestFormat) {
      return Unsupported(what + ": manifest format is not supported; upgrade aura-agent");
    }
    Manifest m;
    AURA_ASSIGN_OR_RETURN(m.summary, SummaryFrom(j));
    m.host = j.value("host", "");
    m.source_path = j.value("source_path", "");
    m.journal_mode = j.value("journal_mode", "");
    m.sha256 = j.at("sha256").get<std::string>();
    if (j.contains("wal")) {
      const json& w = j["wal"];
      WalPosition p;
      p.salt1 = JsonInt<uint32_t>(w.at("salt1"), "salt1");
      p.salt2 = JsonInt<uint32_t>(w.at("salt2"), "salt2");
      p.frame = JsonInt<uint64_t>(w.at("frame"), "frame");
      p.checksum = {JsonInt<uint32_t>(w.at("checksum").at(0), "checksum"),
                    JsonInt<uint32_t>(w.at("checksum").at(1), "checksum")};
      m.wal = p;
    }
    if (j.contains("replication")) {
      const json& r = j["replication"];
      m.replication = ReplicationPoint{JsonInt<uint64_t>(r.at("generation"), "generation"),
                                       JsonInt<uint64_t>(r.at("txid"), "txid"),
                                       JsonInt<uint64_t>(r.at("db_checksum"), "db_checksum")};
    }
    if (j.contains("db_checksum")) {
      m.db_checksum = JsonInt<uint64_t>(j["db_checksum"], "db_checksum");
      m.base_db_checksum = JsonInt<uint64_t>(j, "base_db_checksum", uint64_t{0});
      m.pages_changed = JsonInt<uint64_t>(j, "pages_changed", uint64_t{0});
    }
    if (m.summary.kind == "incremental" && !m.db_checksum) {
      return Corruption(what + ": incremental manifest without database checksums");
    }
    for (const json& o : j.at("objects")) {
      m.objects.push_back({o.at("name").get<std::string>(), o.at("kind").get<std::string>(),
                           JsonInt<uint64_t>(o.at("stored_size"), "stored_size"),
                           JsonInt<uint64_t>(o.at("plaintext_size"), "plaintext_size"),
                           JsonInt<uint64_t>(o.at("chunks"), "chunks"),
                           o.at("sha256").get<std::string>()});
    }
    if (m.objects.empty()) return Corruption(what + ": manifest names no objects");
    m.duration_ms = JsonInt<int64_t>(j, "duration_ms", int64_t{0});
    m.agent_version = j.value("agent_version", "");
    return m;
  });
}

}  // namespace aura::backup
