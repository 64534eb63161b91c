// Which migrations are applied and which are pending, by EF Core's history table (what the
// application itself believes), and drift: what the files and the database disagree on.
//
// Drift, each refused until an operator reviews it and runs `aura-agent migrate repair`:
//   kChanged     an applied migration whose source checksum is not the one the agent recorded
//                when it applied (or last repaired) it: the file was edited after the fact
//   kUnknown     an id in __EFMigrationsHistory with no source file: a newer application (or
//                another tool) migrated the database past what this directory knows
//   kOutOfOrder  a pending migration older than the newest applied one: applying it now would
//                run it in an order no other copy of the database saw
// Migrations applied by the application (no audit row) have no recorded checksum and are never
// kChanged. A repair audit row accepts: the current checksum (kChanged), the unknown id
// (kUnknown, ignored from then on), the out-of-order migration (kOutOfOrder, applied in id order
// with the rest).
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "migrations/history.h"
#include "migrations/migration_source.h"

namespace aura::migrations {

enum class DriftKind { kChanged, kUnknown, kOutOfOrder };
const char* DriftKindName(DriftKind kind);  // "changed", "unknown", "out_of_order"

struct Drift {
  DriftKind kind;
  std::string id;
  std::string file;  // the source file; empty for kUnknown
  // One sentence naming the file or id and what to do, e.g. "20251201000000_AddPriority.sql
  // changed after it was applied on 2026-12-01T10:00:00Z (recorded sha256 ab12..., now cd34...);
  // restore the file, or review the change and run 'aura-agent migrate repair'".
  std::string message;
};

struct MigrationStatus {
  std::string id;
  const Migration* source = nullptr;  // nullptr: only in the database
  bool applied = false;
  std::string product_version;                // when applied
  std::optional<AuditRecord> applied_record;  // the agent's newest apply/repair row for it
  std::string recorded_sha256;  // checksum the agent accepted; empty when the app applied it
};

struct MigrationPlan {
  std::vector<MigrationStatus> all;  // every id of the sources and the history, by id
  std::vector<Migration> pending;    // not applied, by id, up to and including `to`
  std::vector<Drift> drift;
};

// The plan's MigrationStatus::source pointers point into `sources`, which must outlive it (and
// RepairRecords, which reads them).
// `to`: empty for all pending, else an id or a name of a source migration (kInvalidArgument
// naming it when no source has it, or when it is already applied: "use migrate rollback").
Result<MigrationPlan> PlanMigrations(const std::vector<Migration>& sources,
                                     const std::vector<AppliedMigration>& history,
                                     const std::vector<AuditRecord>& audit,
                                     const std::string& to = "");

// kRefused listing every drift's message (one per line), or OK when there is none.
Status DriftStatus(const std::vector<Drift>& drift);

// The audit rows that accept every drift of `plan` (action "repair", outcome "repaired",
// detail naming what was accepted); the caller fills in applied_at, applied_by, agent_version.
std::vector<AuditRecord> RepairRecords(const MigrationPlan& plan);

}  // namespace aura::migrations
