// The data-loss guard: what a migration would destroy, named before it touches the live database.
//
// Two passes. Statically, over the pending migrations' SQL and the tables' columns before them:
// DROP TABLE of a table that is not recreated under its name (EF Core's rebuild is CREATE TABLE
// "ef_temp_T"; INSERT INTO "ef_temp_T" (...) SELECT ... FROM "T"; DROP TABLE "T"; ALTER TABLE
// "ef_temp_T" RENAME TO "T"), ALTER TABLE ... DROP COLUMN, and a rebuild whose INSERT ... SELECT
// does not copy every column of the old table (a column neither in the SELECT list nor ... is
// lost; a column copied under another name, EF's rename by rebuild, is not). Dynamically, in the
// rehearsal on a scratch copy: every table's row count before and after the migrations; a table
// that exists before and after and has fewer rows, with no DELETE of the migrations aimed at it,
// lost rows nothing asked to delete (a cascade through a rebuilt parent, EF Core #37598; a
// trigger; a rebuild whose INSERT ... SELECT kept only some rows).
//
// Table names compare case-insensitively (SQLite's rule) and are reported as the schema spells
// them.
//
// Thread-safety: pure functions, or the caller's connection.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/sqlite.h"
#include "common/status.h"
#include "migrations/migration_source.h"

namespace aura::migrations {

// Orders SQL names case-insensitively.
struct NameLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

using TableColumns = std::map<std::string, std::vector<std::string>, NameLess>;
using RowCounts = std::map<std::string, int64_t, NameLess>;
using NameSet = std::set<std::string, NameLess>;

// Every ordinary table's columns (not sqlite_* tables, not virtual tables' shadow tables).
Result<TableColumns> ReadTableColumns(SqliteDb& db);
// Every ordinary table's row count (sqlite_* excluded).
Result<RowCounts> CountRows(SqliteDb& db);

struct Destructive {
  std::string migration;  // id
  std::string file;
  int line = 0;
  std::string table;
  std::string column;  // DROP COLUMN or a column a rebuild does not copy; empty for DROP TABLE
  // "DROP TABLE \"Notes\" (not recreated)", "ALTER TABLE \"T\" DROP COLUMN \"C\"",
  // "rebuild of \"T\" does not copy column \"C\""
  std::string what;
};

// The static pass. `before`: the tables' columns before the first pending migration; tables and
// columns the migrations create (CREATE TABLE, ADD COLUMN, RENAME) are followed in order.
std::vector<Destructive> FindDestructive(const std::vector<Migration>& pending,
                                         const TableColumns& before);

// Tables a DELETE statement of the migrations aims at (DELETE FROM T ...), as written.
NameSet DeleteTargets(const std::vector<Migration>& pending);

struct RowLoss {
  std::string table;
  int64_t before = 0;
  int64_t after = 0;
};

// Tables present in both counts with fewer rows after, neither a DELETE target nor `allowed`.
std::vector<RowLoss> UnexplainedRowLoss(const RowCounts& before, const RowCounts& after,
                                        const NameSet& delete_targets, const NameSet& allowed);

// Tables in `before` and not in `after`.
std::vector<std::string> DroppedTables(const RowCounts& before, const RowCounts& after);

}  // namespace aura::migrations
