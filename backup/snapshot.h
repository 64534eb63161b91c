// Snapshots: a consistent copy of a live database, streamed once through zstd, AES-256-GCM and
// SHA-256 into a repository, followed by its manifest.
//
// Incremental snapshots (SnapshotOptions::base): the data object holds only the pages that
// changed since the chain's previous snapshot, as records of (page number, 4 bytes little
// endian; page). The manifest names the base and records the database checksum before and after,
// so a restore proves each step rebuilt exactly the source's image (docs/FORMAT.md).
//
// Order of writes (what a crash can leave): the data object is committed first, the manifest
// after it. A crash before the manifest leaves an orphan data object that no listing shows; a
// crash before the data commit leaves only a temp file (local) or an aborted upload (S3).
//
// Writers: in WAL mode the application keeps committing throughout (see database_image.h); the
// snapshot is the database at one commit. The read transaction ends as soon as the last page is
// read, before the upload is finalized.
//
// Thread-safety: TakeSnapshot may run concurrently for different databases.
#pragma once

#include <functional>
#include <string>

#include "backup/db_checksum.h"
#include "backup/manifest.h"
#include "backup/page_state.h"
#include "backup/repository.h"
#include "common/clock.h"
#include "common/progress.h"

namespace aura::backup {

struct SnapshotOptions {
  std::string database_name;  // name in the repository
  std::string label;
  int busy_timeout_ms = 5000;
  uint32_t block_size = 1u << 20;
  int threads = 0;  // 0: one per core
  int zstd_level = 1;
  int max_attempts = 3;          // restarts if the WAL is reset mid-read
  const Clock* clock = nullptr;  // nullptr: system clock
  // Continuous replication: the generation and txid this snapshot stands at; recorded in the
  // manifest with the image's database checksum.
  std::optional<ReplicationPoint> replication;
  // The image at this WAL position instead of the newest commit (DatabaseImage::OpenAt): the WAL
  // follower's position, while its lock holds checkpoints back, so the snapshot equals a txid.
  std::optional<WalPosition> at;
  // A snapshot outside the replicator (CLI, daemon without shipping): the position shipping
  // ended at. Recorded as the snapshot's replication point only if the image's database checksum
  // equals its checksum (the database has not changed since), so WAL chains can start from it.
  std::optional<ReplicationPoint> replication_if_equal;
  // If set, receives the per-page checksum of the image (costs one SHA-256 pass).
  DatabaseChecksum* checksum = nullptr;
  // Snapshot chains (page_state.h). With `pages` set and `base` empty: a full snapshot that
  // fills `pages` with the image's page hashes. With `base` (the id of the chain's previous
  // snapshot) set too: an incremental snapshot storing only the pages whose hashes differ from
  // `pages`, which is then updated to the new image. On failure `pages` is unchanged.
  PageState* pages = nullptr;
  std::string base;
  // The source's last integrity check failed: the manifest says so (SnapshotSummary).
  bool source_check_failed = false;
  // Receives the bytes of pages read, of the image's size ("backup"); nullptr: not reported.
  Progress* progress = nullptr;
};

struct SnapshotResult {
  SnapshotRef ref;
  Manifest manifest;
};

Result<SnapshotResult> TakeSnapshot(const std::string& db_path, Repository& repo,
                                    const SnapshotOptions& options);

// A database name derived from a file path: "aura" for "/var/lib/aura/aura.db".
std::string DefaultDatabaseName(const std::string& db_path);

}  // namespace aura::backup
