// What a database says about its migrations: EF Core's `__EFMigrationsHistory` (which the
// application reads too, so the agent keeps it in step) and the agent's own audit table,
// `__AuraMigrationsAudit`, in the same database so it travels with every backup and restore.
//
// EF Core's table, exactly as EF creates it for SQLite:
//   CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
//       "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
//       "ProductVersion" TEXT NOT NULL);
//
// The audit table (one row per applied, rolled back or repaired migration, written in the same
// transaction as the change it records, so a failed migration leaves no row and the database
// logically unchanged; failures are recorded by the caller elsewhere):
//   CREATE TABLE IF NOT EXISTS "__AuraMigrationsAudit" (
//       "Seq" INTEGER PRIMARY KEY,
//       "MigrationId" TEXT NOT NULL,
//       "Action" TEXT NOT NULL,        -- apply | rollback | repair
//       "File" TEXT NOT NULL,          -- base name of the source file
//       "Sha256" TEXT NOT NULL,        -- hex; the checksum accepted for MigrationId from now on
//       "AppliedAt" TEXT NOT NULL,     -- RFC 3339 UTC
//       "DurationMs" INTEGER NOT NULL,
//       "AgentVersion" TEXT NOT NULL,
//       "Snapshot" TEXT NOT NULL,      -- pre-migration snapshot id ("" when none)
//       "Outcome" TEXT NOT NULL,       -- applied | rolled_back | repaired
//       "AppliedBy" TEXT NOT NULL,     -- user@host
//       "Detail" TEXT NOT NULL);       -- repair: what was accepted; rollback: how
//
// Thread-safety: the caller's connection, one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"

namespace aura::migrations {

inline constexpr std::string_view kAuditTable = "__AuraMigrationsAudit";

struct AppliedMigration {
  std::string id;
  std::string product_version;
};

struct AuditRecord {
  int64_t seq = 0;  // assigned by AppendAudit
  std::string migration_id;
  std::string action;  // "apply", "rollback", "repair"
  std::string file;
  std::string sha256;
  std::string applied_at;
  int64_t duration_ms = 0;
  std::string agent_version;
  std::string snapshot;
  std::string outcome;  // "applied", "rolled_back", "repaired"
  std::string applied_by;
  std::string detail;
};

// Creates both tables when missing (EF's DDL for the history table, verbatim).
Status EnsureHistoryTables(SqliteDb& db);

// Rows of __EFMigrationsHistory ordered by MigrationId; empty when the table does not exist.
Result<std::vector<AppliedMigration>> ReadHistory(SqliteDb& db);
// Rows of the audit table in Seq order; empty when it does not exist.
Result<std::vector<AuditRecord>> ReadAudit(SqliteDb& db);

Status InsertHistory(SqliteDb& db, const std::string& id, const std::string& product_version);
Status DeleteHistory(SqliteDb& db, const std::string& id);
// Appends `record` (its seq is ignored).
Status AppendAudit(SqliteDb& db, const AuditRecord& record);

// "user@host" of this process, for AppliedBy.
std::string CurrentUserAtHost();

}  // namespace aura::migrations
