// Logical checksum of a database: SHA-256 over the schema and every row of every table, in a
// canonical order and encoding. Two databases with the same content have the same logical
// checksum even when their files differ (page layout, free pages, WAL vs rollback header), so
// tests and restore drills can prove "the restored database equals the source at transaction N".
//
// Canonical form: for each object of sqlite_schema ordered by (type, name): type, name, tbl_name,
// sql. Then for each ordinary table ordered by name: the table name, then each row ordered by
// rowid (or by every column for WITHOUT ROWID tables), each value as a type tag and its bytes
// (integers as 8 bytes big-endian, reals as their IEEE-754 bits, text and blobs length-prefixed).
// sqlite_sequence and sqlite_stat* are included; they are content too.
//
// Thread-safety: uses the caller's connection; one thread at a time.
#pragma once

#include <string>

#include "common/sqlite.h"
#include "common/status.h"

namespace aura::integrity {

// Hex SHA-256 of the canonical form, read in one transaction.
Result<std::string> LogicalChecksum(SqliteDb& db);

// Opens `path` read-only and computes its logical checksum.
Result<std::string> LogicalChecksumOfFile(const std::string& path);

}  // namespace aura::integrity
