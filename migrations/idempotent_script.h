// migrate script: the SQL the agent would run, as one file an operator can review and run with
// the sqlite3 shell (`sqlite3 aura.db < script.sql`) where the agent is not installed.
//
// EF Core cannot script idempotently for SQLite (it has no IF ... THEN). This script is made safe
// to run twice with the shell's own features: `.bail on` stops at the first error, and before each
// migration a guard inserts into a temp table whose CHECK constraint fails when that migration is
// already in __EFMigrationsHistory. Everything runs in one transaction with foreign keys off, so
// a second run (or a run on a database that got any of these migrations another way) stops at
// the guard with "CHECK constraint failed: aura: a migration of this script is already applied;
// nothing was changed", exit status 1, and the transaction is rolled back when the shell exits.
// A foreign_key_check guard before COMMIT stops it the same way when a reference broke.
//
// Thread-safety: pure function.
#pragma once

#include <string>
#include <vector>

#include "migrations/migration_source.h"

namespace aura::migrations {

struct ScriptOptions {
  std::string product_version = "8.0.11";
  std::string header;  // comment lines at the top (what, for which database, when)
};

std::string IdempotentScript(const std::vector<Migration>& pending, const ScriptOptions& o);

}  // namespace aura::migrations
