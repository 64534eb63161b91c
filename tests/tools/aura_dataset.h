// Aura-like test data: a generator of databases shaped like Aura Video Studio's aura.db (the
// schema and content of the seed documentation: projects, scenes, assets, versions, content
// blobs, exports, undo log, EF Core history), and a deterministic write workload.
//
// Determinism is the point of both: GenerateAuraDb with the same seed and size gives the same
// logical content, and ApplyWorkloadStep(seed, n) depends only on (seed, n) and the database's
// content, so replaying steps 1..N on a copy of the initial database rebuilds "the source after
// commit N" exactly — the reference a restore is compared with.
//
// Thread-safety: functions on the caller's connection; one thread at a time per connection.
#pragma once

#include <cstdint>
#include <string>

#include "common/sqlite.h"
#include "common/status.h"

namespace aura::testtools {

// splitmix64: small, fast, and the same on every platform (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t Below(uint64_t n) { return Next() % n; }
  double Unit() { return static_cast<double>(Next() >> 11) / 9007199254740992.0; }
  std::string Guid();
  std::string Words(int n);
  std::string Timestamp();  // 2025-MM-DDTHH:MM:SSZ
  std::string Hex(int bytes);

 private:
  uint64_t s_;
};

struct AuraDbOptions {
  std::string path;
  uint64_t size_bytes = 16u << 20;
  uint64_t seed = 1;
  bool wal = true;
};

struct AuraDbStats {
  uint64_t projects = 0;
  uint64_t file_bytes = 0;
};

// Creates (replacing any file and its -wal/-shm/-journal) an Aura-like database of about
// `size_bytes`. In WAL mode it ends with a TRUNCATE checkpoint, so the file is self-contained.
Result<AuraDbStats> GenerateAuraDb(const AuraDbOptions& options);

// Creates the table the workload records its steps in (idempotent).
Status PrepareWorkload(SqliteDb& db);

// Applies workload step `step` (1-based) as one transaction (BEGIN IMMEDIATE ... COMMIT): a row in
// WorkloadTicks(Step), action-log inserts, project updates, a delete every 7th step, a ~64 KiB
// content blob every 13th, a schema change every 50th. Timestamps come from the step number.
Status ApplyWorkloadStep(SqliteDb& db, uint64_t seed, uint64_t step);

}  // namespace aura::testtools
