// Key retirement: re-seals every object a key sealed under the keyring's newest key, so the old
// key (leaked, or simply old) can be dropped from the key file and history still restores.
//
// Naming. Object names are not content-addressed and carry no key id (repository.h): a snapshot's
// data and manifest are named by the snapshot id, a WAL segment by its generation, level and
// txids, and readers find them by those names (a listing parses them). So a re-sealed object
// keeps its name and replaces the old one. Storage replaces atomically (storage.h: local folders
// write a temp file and rename it over the old one; an S3 PUT is atomic), so at every instant the
// name holds either the old object or the complete new one, never neither or a mix.
//
// What changes. A data object or WAL segment is re-sealed chunk by chunk: each chunk is opened
// (authenticated) with the old key and sealed again with the new one and a fresh salt; the
// payload (still compressed) and the trailer are carried over unchanged, so the object keeps its
// size, plaintext and SHA-256, and every manifest entry naming it (name, sizes, chunk count,
// SHA-256) stays true. Manifests are the references: they record the sealing key's id in their
// JSON and public metadata, so each is decrypted, its "key_id" changed, and sealed again.
//
// Order and crash safety, per run:
//   1. Data objects and WAL segments sealed with the old key, one at a time: re-sealed into a
//      scratch folder, verified there (decrypted and authenticated with a keyring holding only
//      the new key, decompressed, SHA-256 against the carried trailer), then put in place of the
//      old object (the atomic replace is the old object's deletion), then read back from the
//      repository and verified the same way.
//   2. Manifests sealed with the old key, the same way (after every object they name).
//   3. A final listing: no object in scope may still name the old key (a writer that seals with
//      it is still running: kBusy).
// A crash between any two steps leaves every name holding a complete object sealed with the old
// key or the new one, so a keyring with both restores everything, and a second run finds what is
// left (objects are selected by the key id in their header) and finishes; a run with nothing left
// to do only lists and reads headers. An object the storage does not hold after a crash is never
// recreated: each object is opened before it is re-sealed.
//
// Concurrency: the caller excludes the daemon (its state-directory lock). A concurrent prune or
// compaction could delete an object between its read and its replacement, and the replacement
// would bring it back; the CLI refuses while the daemon holds its lock for that reason.
//
// Thread-safety: RetireKey runs on the calling thread; one run per repository at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "backup/repository.h"

namespace aura::backup {

struct RetireOptions {
  KeyId retire = 0;
  // Only this database's objects (empty: the whole repository).
  std::string database;
  // A folder for staging each re-sealed object before it replaces the old one; it needs room for
  // the largest object. Created if missing; left empty on success.
  std::string scratch_dir;
  // Test-only (AURA_TEST_RETIRE_STEP_DELAY_MS in the CLI): a pause after each object is
  // replaced, so a test can SIGKILL a run between steps.
  std::chrono::milliseconds step_delay{0};
};

struct RetireReport {
  uint64_t examined = 0;             // objects whose header was read
  uint64_t resealed = 0;             // data objects and WAL segments re-sealed
  uint64_t manifests_rewritten = 0;  // references (manifests) re-sealed with the new key id
  uint64_t old_removed = 0;          // old objects removed (each replaced atomically)
  uint64_t bytes = 0;                // stored bytes re-sealed
};

// kKeyError unless `keys` holds `retire` and it is not the newest key.
Status CheckRetirable(const Keyring& keys, KeyId retire, const std::string& key_origin);

// Parses a key id as printed (16 hex digits). kInvalidArgument otherwise.
Result<KeyId> ParseKeyId(const std::string& hex);

// Re-seals every object in scope sealed with `o.retire` under repo.write_key() (see above).
// kKeyError as CheckRetirable; kCorruption naming an object that fails authentication under the
// old key (nothing replaced for it); kBusy if objects sealed with the old key remain at the end.
Result<RetireReport> RetireKey(Repository& repo, const RetireOptions& o);

// Rewrites the key file at `path` without the key `id` (atomically, mode 0600). kKeyError if the
// file does not hold it or holds nothing else.
Status RemoveKeyFromFile(const std::string& path, KeyId id);

}  // namespace aura::backup
