#include "integrity/verify.h"

#include <map>
#include <optional>
#include <set>

#include "backup/object_codec.h"
#include "common/hashing.h"

namespace aura::integrity {

using backup::Manifest;
using backup::ManifestObject;
using backup::SnapshotRef;

namespace {

Status VerifyObject(backup::Repository& repo, const ManifestObject& o, int threads, uint64_t& bytes,
                    Progress& progress) {
  AURA_ASSIGN_OR_RETURN(auto reader, repo.storage().Open(o.name));
  AURA_ASSIGN_OR_RETURN(auto decoder, backup::ObjectDecoder::Open(std::move(reader), repo.keyring(),
                                                                  o.name, threads));
  ProgressShare stored(progress, o.plaintext_size, o.stored_size);
  AURA_ASSIGN_OR_RETURN(backup::ObjectSummary got,
                        decoder->ReadAll([&stored](std::span<const uint8_t> d) {
                          stored.Add(d.size());
                          return Status::Ok();
                        }));
  if (HexEncode(got.sha256) != o.sha256 || got.plaintext_size != o.plaintext_size) {
    return Corruption(o.name + ": content differs from what the manifest recorded");
  }
  bytes += got.plaintext_size;
  return Status::Ok();
}

// What the chain and WAL checks need of one snapshot, kept after its objects were verified.
struct SnapshotFacts {
  SnapshotRef ref;
  std::string base;  // an increment's base snapshot id
  uint64_t base_db_checksum = 0;
  std::optional<uint64_t> db_checksum;
};

// Verifies the snapshots `refs` (their manifests and objects), recording what was learnt.
Status VerifySnapshots(backup::Repository& repo, const std::vector<SnapshotRef>& refs,
                       const VerifyOptions& options, int threads, VerifyReport& report,
                       std::map<std::string, SnapshotFacts>& facts,
                       std::map<std::string, std::vector<SnapshotPosition>>& positions,
                       std::set<std::string>& referenced, Progress& progress) {
  for (const SnapshotRef& ref : refs) {
    ++report.snapshots;
    ++report.objects;
    referenced.insert(ref.DataName());  // not an orphan: at worst its manifest is the problem
    auto manifest = repo.ReadManifest(ref);
    if (!manifest.ok()) {
      if (manifest.status().code() == Code::kKeyError) return manifest.status();
      report.bad.push_back({ref.ManifestName(), manifest.status()});
      continue;
    }
    for (const ManifestObject& o : manifest->objects) {
      ++report.objects;
      referenced.insert(o.name);
      if (options.checked_elsewhere.count(o.name)) {
        progress.Add(o.stored_size);
        continue;
      }
      Status s = VerifyObject(repo, o, threads, report.bytes, progress);
      if (s.code() == Code::kKeyError) return s;
      if (!s.ok()) report.bad.push_back({o.name, s});
    }
    facts[ref.id] = {ref, manifest->summary.base, manifest->base_db_checksum,
                     manifest->db_checksum};
    if (manifest->replication) {
      const backup::ReplicationPoint& p = *manifest->replication;
      positions[ref.database].push_back({p.generation, p.txid, p.db_checksum});
    }
  }
  return Status::Ok();
}

// Every increment's base must be there and be the image the increment was taken against.
void CheckBases(const std::map<std::string, SnapshotFacts>& facts, VerifyReport& report,
                std::set<std::string>& referenced) {
  for (const auto& [id, f] : facts) {
    if (f.base.empty()) continue;
    const SnapshotRef base{f.ref.database, f.base, 0};
    referenced.insert(base.DataName());  // a restore needs it: never an orphan
    auto it = facts.find(f.base);
    if (it == facts.end()) {
      report.bad.push_back({base.ManifestName(),
                            Corruption("snapshot " + id + " is an increment of " + f.base +
                                       ", whose manifest " + base.ManifestName() +
                                       " is missing or unreadable: " + id + " cannot be restored"),
                            "missing-base"});
    } else if (it->second.db_checksum && *it->second.db_checksum != f.base_db_checksum) {
      report.bad.push_back({base.ManifestName(),
                            Corruption("snapshot " + id + " was taken against another image than " +
                                       f.base + " (database checksums differ)"),
                            "base-mismatch"});
    }
  }
}

// Starts options.progress: the total is the listed size of the snapshot data objects and WAL
// segments (manifests are small, and not counted as they are read); unknown for one snapshot.
Status StartProgress(backup::Repository& repo, const VerifyOptions& options) {
  if (options.progress == nullptr) return Status::Ok();
  uint64_t total = 0;
  if (options.snapshot.empty()) {
    const std::string prefix = options.database.empty() ? "" : options.database + "/";
    AURA_ASSIGN_OR_RETURN(auto objects, repo.storage().List(prefix));
    for (const auto& o : objects) {
      const bool data =
          o.name.ends_with(".data") && o.name.find("/snapshots/") != std::string::npos;
      const bool segment = o.name.ends_with(".seg") && o.name.find("/wal/") != std::string::npos;
      if (data || segment) total += o.size;
    }
  }
  options.progress->Start("verify", total);
  return Status::Ok();
}

}  // namespace

Result<VerifyReport> VerifyRepository(backup::Repository& repo, const VerifyOptions& options) {
  VerifyReport report;
  std::vector<SnapshotRef> refs;
  if (!options.snapshot.empty()) {
    AURA_ASSIGN_OR_RETURN(SnapshotRef r, repo.FindSnapshot(options.database, options.snapshot));
    refs.push_back(r);
  } else {
    AURA_ASSIGN_OR_RETURN(refs, repo.ListSnapshots(options.database));
  }
  const int threads = options.threads > 0 ? options.threads : backup::DefaultCodecThreads();
  std::set<std::string> referenced;
  std::map<std::string, SnapshotFacts> facts;
  std::map<std::string, std::vector<SnapshotPosition>> positions;  // by database
  Progress& progress = ProgressOr(options.progress);
  AURA_RETURN_IF_ERROR(StartProgress(repo, options));
  AURA_RETURN_IF_ERROR(VerifySnapshots(repo, refs, options, threads, report, facts, positions,
                                       referenced, progress));
  if (!options.snapshot.empty()) return report;  // one snapshot: no chains, no WAL, no orphans
  CheckBases(facts, report, referenced);
  std::set<std::string> databases;
  for (const SnapshotRef& r : refs) databases.insert(r.database);
  if (!options.database.empty()) databases.insert(options.database);
  for (const std::string& db : databases) {
    AURA_RETURN_IF_ERROR(VerifyWal(repo, db, positions[db], report, options.progress));
  }
  std::string prefix = options.database.empty() ? "" : options.database + "/snapshots/";
  AURA_ASSIGN_OR_RETURN(auto objects, repo.storage().List(prefix));
  for (const auto& o : objects) {
    bool data = o.name.ends_with(".data") && o.name.find("/snapshots/") != std::string::npos;
    if (!data || referenced.count(o.name)) continue;
    report.orphans.push_back(o.name);
    progress.Add(o.size);  // listed, not decoded
  }
  return report;
}

}  // namespace aura::integrity
