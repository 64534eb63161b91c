// Repository: the layout of a backup target and the keys that read and write it.
//
// Layout under the storage root (a folder or an s3://bucket/prefix):
//
//   aura-repository.json                      format version, id, encryption, KDF salt
//   <database>/snapshots/<id>.data            snapshot data object (kind 1)
//   <database>/snapshots/<id>.manifest        snapshot manifest (kind 2), written last
//   <database>/wal/<generation>/<level>/<first>-<last>.seg
//                                             WAL segment (kind 3): level 0 as shipped, levels
//                                             1..3 compacted over 30 s, 5 min and 1 h windows
//
// A snapshot id is "<UTC time, compact>-<8 hex random>" (20261124T201405.123Z-1a2b3c4d), so names
// sort by time. Database names may contain '/', letting a fleet use "<host>/<db>".
//
// aura-repository.json is written once, with no-overwrite semantics, by the first writer. It
// records whether the repository is encrypted; the agent refuses to write plaintext into an
// encrypted repository (a forgotten --key-file must not silently downgrade a production backup).
//
// Thread-safety: a Repository may be shared by threads after construction (Storage is
// thread-safe, the rest is immutable).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backup/keyring.h"
#include "backup/manifest.h"
#include "backup/repository_info.h"
#include "backup/storage/storage.h"
#include "common/clock.h"
#include "common/secure_wipe.h"

namespace aura::backup {

inline constexpr char kRepositoryConfigName[] = "aura-repository.json";

// How the operator chose to protect backups.
struct KeySource {
  enum class Kind { kUnset, kKeyFile, kPassphrase, kNone };
  Kind kind = Kind::kUnset;
  std::string key_file;           // kKeyFile
  SecretString passphrase;        // kPassphrase, already read from its env variable or file
  std::string passphrase_origin;  // where it came from, for messages ("$AURA_BACKUP_PASSPHRASE")
};

struct SnapshotRef {
  std::string database;
  std::string id;
  uint64_t manifest_size = 0;
  std::string ManifestName() const;
  std::string DataName() const;
};

struct SegmentRef {
  std::string database;
  uint64_t generation = 0;
  int level = 0;
  uint64_t first_txid = 0;
  uint64_t last_txid = 0;
  uint64_t size = 0;
  std::string Name() const;
};

// kInvalidArgument unless `name` can name a database in a repository.
Status ValidateDatabaseName(const std::string& name);
// Whether a listed object name has a database part ("<db>/snapshots/<file>" or
// "<db>/wal/<...>") that passes ValidateDatabaseName. Every reader of a listing applies it (after
// the storage's own KeepListedName), so a planted "x/wal/y/snapshots/<id>.manifest" is no
// snapshot of a database "x/wal/y"; one whose database part fails is warned about once
// (WarnIgnoredObject). `storage` names the target in the warning.
bool HasUsableDatabasePart(const std::string& name, const Storage& storage);
// A new snapshot id for a snapshot taken at `t`.
Result<std::string> NewSnapshotId(TimePoint t);

class Repository {
 public:
  // Opens an existing repository for reading. kNotFound if there is none at the storage root.
  static Result<std::unique_ptr<Repository>> Open(std::shared_ptr<Storage> storage,
                                                  const KeySource& keys);
  // Opens a repository for writing, creating it if the location is empty. kKeyError when the
  // key source is unset, or is kNone for an encrypted repository.
  static Result<std::unique_ptr<Repository>> OpenForWrite(const std::shared_ptr<Storage>& storage,
                                                          const KeySource& keys,
                                                          const Clock& clock);

  Storage& storage() { return *storage_; }
  std::shared_ptr<Storage> shared_storage() { return storage_; }
  const Keyring& keyring() const { return keyring_; }
  // The key sealing new objects; nullptr when encryption is off.
  const Key* write_key() const { return write_key_; }
  const RepositoryInfo& info() const { return info_; }

  // Snapshots (those with a manifest) of `database`, or of all databases when it is empty,
  // oldest first.
  Result<std::vector<SnapshotRef>> ListSnapshots(const std::string& database);
  // The snapshot with this id (any database when `database` is empty). kNotFound if none;
  // kInvalidArgument if the id is ambiguous across databases.
  Result<SnapshotRef> FindSnapshot(const std::string& database, const std::string& id);
  // The newest snapshot. kNotFound if none; kInvalidArgument if several databases have
  // snapshots and `database` is empty.
  Result<SnapshotRef> LatestSnapshot(const std::string& database);

  // WAL segments of `database`, ordered by (generation, level, first txid).
  Result<std::vector<SegmentRef>> ListSegments(const std::string& database);

  // Public summary from the manifest header; needs no key.
  Result<SnapshotSummary> ReadSummary(const SnapshotRef& ref);
  // The full manifest, decrypted and authenticated.
  Result<Manifest> ReadManifest(const SnapshotRef& ref);

 private:
  Repository() = default;
  Status LoadKeys(const KeySource& keys);

  std::shared_ptr<Storage> storage_;
  RepositoryInfo info_;
  Keyring keyring_;
  const Key* write_key_ = nullptr;
};

}  // namespace aura::backup
