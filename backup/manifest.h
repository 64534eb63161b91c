// Snapshot manifests: what a snapshot is and which objects hold it.
//
// A manifest is a sealed object (kind 2) whose plaintext is the JSON of Manifest, below. Its
// header's public metadata is the JSON of SnapshotSummary, readable without the key, which is
// what `aura-agent list` shows. A manifest is written only after every object it names is
// committed, so a snapshot is either listed and complete, or not listed at all; data objects
// left without a manifest by a crash are orphans that verify reports and prune deletes.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "backup/database_image.h"
#include "common/clock.h"
#include "common/status.h"

namespace aura::backup {

inline constexpr int kManifestFormat = 1;

struct ManifestObject {
  std::string name;
  std::string kind;  // "data"
  uint64_t stored_size = 0;
  uint64_t plaintext_size = 0;
  uint64_t chunks = 0;
  std::string sha256;  // hex SHA-256 of the object's plaintext
};

// The part of a manifest anyone with read access to the repository can see.
struct SnapshotSummary {
  std::string database;
  std::string snapshot;       // id
  std::string kind = "full";  // "full" or "incremental"
  std::string base;           // incremental: the snapshot id it applies on top of
  TimePoint created{};
  std::string label;
  uint32_t page_size = 0;
  uint64_t page_count = 0;
  uint64_t size = 0;         // bytes of the restored database
  uint64_t stored_size = 0;  // bytes of all objects
  bool encrypted = false;
  std::string key_id;  // hex, empty when not encrypted
  // Continuous replication: the generation and txid the snapshot stands at (0 when none).
  uint64_t generation = 0;
  uint64_t txid = 0;
  // Taken while the source's last integrity check had failed: it may hold the damage. Retention
  // then keeps the newest snapshot without this mark ("source_check": "failed" in the JSON).
  bool source_check_failed = false;
};

// Where a snapshot stands in continuous replication: the database as of transaction `txid` of
// `generation`, with its database checksum (db_checksum.h), so WAL segments can follow it.
struct ReplicationPoint {
  uint64_t generation = 0;
  uint64_t txid = 0;
  uint64_t db_checksum = 0;
};

struct Manifest {
  SnapshotSummary summary;
  std::string host;
  std::string source_path;
  std::string journal_mode;  // "wal" or "rollback"
  std::string sha256;        // hex SHA-256 of the whole restored database file
  std::optional<WalPosition> wal;
  std::optional<ReplicationPoint> replication;
  // Snapshot chains (incremental.h): the database checksum of the image this snapshot restores
  // to, and for an incremental one the checksum of its base and how many pages it carries.
  std::optional<uint64_t> db_checksum;
  uint64_t base_db_checksum = 0;
  uint64_t pages_changed = 0;
  std::vector<ManifestObject> objects;
  int64_t duration_ms = 0;
  std::string agent_version;
};

// The one JSON form of a summary: in manifests and in every --json or status output that shows a
// snapshot. "base" is empty for a full snapshot.
nlohmann::json SummaryJson(const SnapshotSummary& s);
std::string SummaryToJson(const SnapshotSummary& s);
Result<SnapshotSummary> SummaryFromJson(const std::string& json, const std::string& what);
std::string ManifestToJson(const Manifest& m);
Result<Manifest> ManifestFromJson(const std::string& json, const std::string& what);

}  // namespace aura::backup
