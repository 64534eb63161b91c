#include "backup/repository.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "backup/object_codec.h"
#include "backup/wal_segment.h"
#include "common/hashing.h"

namespace aura::backup {

using nlohmann::json;

namespace {

constexpr char kSnapshotsDir[] = "/snapshots/";
constexpr char kManifestSuffix[] = ".manifest";
constexpr char kDataSuffix[] = ".data";

// Parses "<db>/snapshots/<id>.manifest" into a ref.
std::optional<SnapshotRef> ParseManifestName(const std::string& name, uint64_t size) {
  auto at = name.rfind(kSnapshotsDir);
  if (at == std::string::npos || at == 0) return std::nullopt;
  std::string file = name.substr(at + std::string(kSnapshotsDir).size());
  std::string suffix = kManifestSuffix;
  if (file.size() <= suffix.size() || file.find('/') != std::string::npos ||
      file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  return SnapshotRef{name.substr(0, at), file.substr(0, file.size() - suffix.size()), size};
}

// Parses "<db>/wal/<gen>/<level>/<first>-<last>.seg".
std::optional<SegmentRef> ParseSegmentName(const std::string& name, uint64_t size) {
  auto at = name.rfind("/wal/");
  if (at == std::string::npos || at == 0) return std::nullopt;
  std::string rest = name.substr(at + 5);
  auto s1 = rest.find('/');
  if (s1 == std::string::npos) return std::nullopt;
  auto s2 = rest.find('/', s1 + 1);
  if (s2 == std::string::npos || s2 != s1 + 2) return std::nullopt;
  SegmentRef r;
  r.database = name.substr(0, at);
  if (!ParseGenerationName(rest.substr(0, s1), &r.generation)) return std::nullopt;
  char lvl = rest[s1 + 1];
  if (lvl < '0' || lvl > '9') return std::nullopt;
  r.level = lvl - '0';
  if (!ParseSegmentFileName(rest.substr(s2 + 1), &r.first_txid, &r.last_txid)) {
    return std::nullopt;
  }
  r.size = size;
  return r;
}

}  // namespace

std::string SegmentRef::Name() const {
  return database + "/wal/" + GenerationName(generation) + "/" + std::to_string(level) + "/" +
         SegmentFileName(first_txid, last_txid);
}

std::string SnapshotRef::ManifestName() const {
  return database + kSnapshotsDir + id + kManifestSuffix;
}
std::string SnapshotRef::DataName() const { return database + kSnapshotsDir + id + kDataSuffix; }

Status ValidateDatabaseName(const std::string& name) {
  Status s = ValidateObjectName(name);
  if (!s.ok()) {
    return InvalidArgument("invalid database name '" + name +
                           "': use letters, digits, spaces and '-', '_', '.', '/' (not leading)");
  }
  for (const char* reserved : {"snapshots", "wal", "segments"}) {
    std::string r = reserved;
    if (name == r || name.find("/" + r + "/") != std::string::npos || name.rfind(r + "/", 0) == 0 ||
        (name.size() > r.size() &&
         name.compare(name.size() - r.size() - 1, r.size() + 1, "/" + r) == 0)) {
      return InvalidArgument("invalid database name '" + name + "': '" + r +
                             "' is reserved as a path component");
    }
  }
  return Status::Ok();
}

bool HasUsableDatabasePart(const std::string& name, const Storage& storage) {
  const bool segment = name.ends_with(".seg");
  const auto at = name.rfind(segment ? "/wal/" : kSnapshotsDir);
  if (at == std::string::npos || at == 0) return false;
  Status s = ValidateDatabaseName(name.substr(0, at));
  if (!s.ok()) WarnIgnoredObject(name, storage.Describe(), s.message());
  return s.ok();
}

Result<std::string> NewSnapshotId(TimePoint t) {
  uint8_t r[4];
  AURA_RETURN_IF_ERROR(RandomBytes(r));
  return FormatCompactUtc(t) + "-" + HexEncode(r);
}

Status Repository::LoadKeys(const KeySource& keys) {
  switch (keys.kind) {
    case KeySource::Kind::kUnset:
    case KeySource::Kind::kNone:
      return Status::Ok();
    case KeySource::Kind::kKeyFile: {
      AURA_ASSIGN_OR_RETURN(keyring_, Keyring::LoadFile(keys.key_file));
      break;
    }
    case KeySource::Kind::kPassphrase: {
      auto key = DeriveKeyFromPassphrase(keys.passphrase, info_.kdf_salt, info_.kdf);
      if (!key.ok()) return key.status().WithContext(keys.passphrase_origin);
      keyring_ = Keyring({*key});
      break;
    }
  }
  write_key_ = &keyring_.WriteKey();
  return Status::Ok();
}

namespace {

Result<RepositoryInfo> ReadRepositoryInfo(Storage& storage) {
  const std::string where = storage.Describe();
  auto text = GetObject(storage, kRepositoryConfigName, 1 << 20);
  if (!text.ok()) {
    if (text.status().code() == Code::kNotFound) {
      return NotFound(where + " is not an Aura backup repository (no " + kRepositoryConfigName +
                      "); check --from");
    }
    return text.status();
  }
  return ParseRepositoryInfo(*text, where + "/" + kRepositoryConfigName);
}

// Writes a new aura-repository.json unless one appears first (another writer won the race).
Status InitializeRepository(Storage& storage, const KeySource& keys, const Clock& clock) {
  RepositoryInfo info;
  uint8_t id[8];
  AURA_RETURN_IF_ERROR(RandomBytes(id));
  info.id = HexEncode(id);
  info.created = FormatRfc3339(clock.Now(), 0);
  info.encryption = keys.kind == KeySource::Kind::kNone ? "none" : "aes-256-gcm";
  info.kdf_salt.resize(32);
  AURA_RETURN_IF_ERROR(RandomBytes(info.kdf_salt));
  WriteOptions no_overwrite;
  no_overwrite.no_overwrite = true;
  Status s =
      PutObject(storage, kRepositoryConfigName, AsBytes(RepositoryInfoToJson(info)), no_overwrite);
  return s.code() == Code::kAlreadyExists ? Status::Ok() : s;
}

}  // namespace

Result<std::unique_ptr<Repository>> Repository::Open(std::shared_ptr<Storage> storage,
                                                     const KeySource& keys) {
  std::unique_ptr<Repository> repo(new Repository());
  AURA_ASSIGN_OR_RETURN(repo->info_, ReadRepositoryInfo(*storage));
  repo->storage_ = std::move(storage);
  AURA_RETURN_IF_ERROR(repo->LoadKeys(keys));
  return repo;
}

Result<std::unique_ptr<Repository>> Repository::OpenForWrite(
    const std::shared_ptr<Storage>& storage, const KeySource& keys, const Clock& clock) {
  if (keys.kind == KeySource::Kind::kUnset) {
    return KeyError(
        "no encryption decided: pass --key-file FILE (make one with 'aura-agent key generate "
        "--out FILE'), or --no-encryption to store backups unencrypted");
  }
  // A missing or malformed key file must fail before anything is written to the target.
  if (keys.kind == KeySource::Kind::kKeyFile) {
    AURA_RETURN_IF_ERROR(Keyring::LoadFile(keys.key_file).status());
  }
  auto info = ReadRepositoryInfo(*storage);
  if (!info.ok() && info.status().code() == Code::kNotFound) {
    AURA_RETURN_IF_ERROR(InitializeRepository(*storage, keys, clock));
  } else if (!info.ok()) {
    return info.status();
  }
  AURA_ASSIGN_OR_RETURN(auto repo, Open(storage, keys));
  if (repo->info_.encryption != "none" && keys.kind == KeySource::Kind::kNone) {
    return KeyError(storage->Describe() +
                    " is an encrypted repository; pass its key (--key-file) instead of writing "
                    "unencrypted backups into it");
  }
  return repo;
}

Result<std::vector<SnapshotRef>> Repository::ListSnapshots(const std::string& database) {
  std::string prefix = database.empty() ? std::string() : database + kSnapshotsDir;
  AURA_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, storage_->List(prefix));
  std::vector<SnapshotRef> out;
  for (const ObjectInfo& o : objects) {
    auto ref = ParseManifestName(o.name, o.size);
    if (ref && (database.empty() || ref->database == database) &&
        HasUsableDatabasePart(o.name, *storage_)) {
      out.push_back(*ref);
    }
  }
  std::sort(out.begin(), out.end(), [](const SnapshotRef& a, const SnapshotRef& b) {
    return a.id != b.id ? a.id < b.id : a.database < b.database;
  });
  return out;
}

Result<std::vector<SegmentRef>> Repository::ListSegments(const std::string& database) {
  AURA_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, storage_->List(database + "/wal/"));
  std::vector<SegmentRef> out;
  for (const ObjectInfo& o : objects) {
    auto ref = ParseSegmentName(o.name, o.size);
    if (ref && ref->database == database) out.push_back(*ref);
  }
  std::sort(out.begin(), out.end(), [](const SegmentRef& a, const SegmentRef& b) {
    return std::tie(a.generation, a.level, a.first_txid) <
           std::tie(b.generation, b.level, b.first_txid);
  });
  return out;
}

Result<SnapshotRef> Repository::FindSnapshot(const std::string& database, const std::string& id) {
  AURA_ASSIGN_OR_RETURN(std::vector<SnapshotRef> all, ListSnapshots(database));
  std::vector<SnapshotRef> hits;
  for (const SnapshotRef& r : all) {
    if (r.id == id) hits.push_back(r);
  }
  if (hits.empty()) {
    return NotFound("no snapshot " + id + " in " + storage_->Describe() +
                    "; 'aura-agent list --from " + storage_->Describe() + "' shows them");
  }
  if (hits.size() > 1) {
    return InvalidArgument("snapshot id " + id + " exists for several databases; pass --name");
  }
  return hits[0];
}

Result<SnapshotRef> Repository::LatestSnapshot(const std::string& database) {
  AURA_ASSIGN_OR_RETURN(std::vector<SnapshotRef> all, ListSnapshots(database));
  if (all.empty()) {
    return NotFound("no snapshots" + (database.empty() ? "" : " of '" + database + "'") + " in " +
                    storage_->Describe());
  }
  std::set<std::string> dbs;
  for (const SnapshotRef& r : all) dbs.insert(r.database);
  if (dbs.size() > 1) {
    std::string names;
    for (const std::string& d : dbs) names += (names.empty() ? "" : ", ") + d;
    return InvalidArgument(storage_->Describe() + " holds several databases (" + names +
                           "); pick one with --name");
  }
  return all.back();
}

Result<SnapshotSummary> Repository::ReadSummary(const SnapshotRef& ref) {
  const std::string name = ref.ManifestName();
  AURA_ASSIGN_OR_RETURN(auto reader, storage_->Open(name, 0, kMaxHeaderSize));
  AURA_ASSIGN_OR_RETURN(ObjectHeader h, ReadObjectHeader(*reader, name));
  if (h.name != name) return Corruption(name + ": holds the object named '" + h.name + "'");
  return SummaryFromJson(h.public_metadata, name);
}

Result<Manifest> Repository::ReadManifest(const SnapshotRef& ref) {
  const std::string name = ref.ManifestName();
  AURA_ASSIGN_OR_RETURN(std::string text, GetSealedObject(*storage_, name, keyring_));
  AURA_ASSIGN_OR_RETURN(Manifest m, ManifestFromJson(text, name));
  if (m.summary.snapshot != ref.id || m.summary.database != ref.database) {
    return Corruption(name + ": manifest describes a different snapshot (" + m.summary.database +
                      "/" + m.summary.snapshot + ")");
  }
  return m;
}

}  // namespace aura::backup
