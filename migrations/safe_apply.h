// The safe apply: every pending migration, or none, with a restore point taken first.
//
// In this order (DESIGN.md section 5; docs/MIGRATIONS.md):
//   1. the agent's migration lock, and EF Core 9+'s __EFMigrationsLock when that table exists;
//   2. the plan: pending migrations by __EFMigrationsHistory; drift refuses (kRefused);
//   3. the static data-loss pass (DROP TABLE, DROP COLUMN, rebuilds that lose a column);
//   4. a labelled pre-migration snapshot through the SnapshotSeam, durable when it returns, on
//      a thread of its own while step 5 runs (both finish before step 6);
//   5. the rehearsal: the same statements as below on a scratch copy of the live database
//      (no journal, no fsync: it is thrown away), with every table's row count compared before
//      and after (the data-loss guard), foreign_key_check and the assertions; then deleted;
//   6. the live apply: busy timeout, PRAGMA foreign_keys=OFF before BEGIN IMMEDIATE (inside a
//      transaction it is ignored, and DROP TABLE of a parent would cascade into its children),
//      every pending migration, its history row and its audit row, then foreign_key_check,
//      integrity_check (quick_check above `full_check_max_bytes`) and the operator's assertions
//      before COMMIT; ROLLBACK on any failure;
//   7. after COMMIT: foreign_keys restored, a health check on a fresh connection and the
//      operator's post-checks; when they fail, the pre-migration snapshot is written back into
//      the live database (one transaction, through SQLite's backup API) and the report says so.
// A refusal or failure before COMMIT leaves the database logically unchanged (the EF lock row
// is deleted again; the history and audit tables are created only inside the transaction).
//
// Thread-safety: one apply per database at a time (the migration lock enforces it across
// processes); the seam is called from the applying thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/sqlite.h"
#include "common/status.h"
#include "migrations/data_loss.h"
#include "migrations/migration_plan.h"
#include "migrations/migration_source.h"

namespace aura::migrations {

// Where pre-migration snapshots go and how one comes back. The agent implements it over a
// backup repository (agent/migrate_snapshots.h) or a plain copy beside the database.
class SnapshotSeam {
 public:
  virtual ~SnapshotSeam() = default;
  // Takes a snapshot of the database labelled `label`, durable when it returns; its id.
  virtual Result<std::string> Take(const std::string& label) = 0;
  // Writes snapshot `id`'s database to the new file `path` (verified as a restore verifies).
  virtual Status RestoreToFile(const std::string& id, const std::string& path) = 0;
  // Where the snapshots go, for messages ("./backups", "s3://bucket/prefix").
  virtual std::string Describe() const = 0;
};

struct ApplyOptions {
  std::string database;  // the live database file
  std::string to;        // last migration to apply (id or name); empty: all pending
  bool dry_run = false;  // plan, lint and rehearse; take no lock or snapshot, change nothing
  NameSet allow_data_loss;
  bool break_stale_lock = false;
  std::chrono::seconds stale_lock_after{std::chrono::hours(1)};
  std::string product_version = "8.0.11";  // written to __EFMigrationsHistory
  std::vector<std::string> assertions;     // SQL returning true, checked before COMMIT
  std::vector<std::string> post_checks;    // SQL returning true after COMMIT (fresh connection)
  int busy_timeout_ms = 60000;
  uint64_t full_check_max_bytes = 256ull << 20;
  std::string scratch_dir;  // the rehearsal copy is made here (default: beside the database)
  SnapshotSeam* snapshots = nullptr;  // required unless dry_run
  const Clock* clock = &SystemClock::Instance();
  // Tests: called before each statement of the live apply (0-based index over all pending
  // statements); a non-OK status fails that statement. Never set in production.
  std::function<Status(int)> live_statement_hook;
  // Tests: called after COMMIT, before the health check, with the live path.
  std::function<void(const std::string&)> after_commit_hook;
};

struct StatementTiming {
  std::string migration;
  int64_t duration_ms = 0;
};

struct ApplyReport {
  // "applied", "nothing_pending", "dry_run", "refused" (nothing changed), "restored" (committed,
  // failed its health check, pre-migration snapshot written back).
  std::string outcome;
  Status status;  // OK for applied, nothing_pending and dry_run
  MigrationPlan plan;
  std::vector<std::string> applied;  // ids, in order
  std::string snapshot;              // pre-migration snapshot id
  std::vector<Destructive> destructive;
  std::vector<std::string> dropped_tables;  // by the rehearsal
  RowCounts rows_before, rows_after;        // by the rehearsal
  std::vector<std::string> checks;          // checks passed, in order
  std::vector<StatementTiming> timings;     // live duration of each migration
  int64_t rehearsal_ms = 0;
  int64_t snapshot_ms = 0;
  int64_t write_lock_ms = 0;  // how long the live transaction held the write lock
  int64_t duration_ms = 0;
};

ApplyReport ApplyMigrations(const std::vector<Migration>& sources, const ApplyOptions& o);

}  // namespace aura::migrations
