#include "migrations/idempotent_script.h"

#include <sstream>

namespace aura::migrations {

namespace {

// 'text' as an SQL string literal.
std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

constexpr const char* kPrologue = R"(.bail on
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" TEXT NOT NULL
);
CREATE TEMP TABLE IF NOT EXISTS aura_guard (
    migration TEXT CONSTRAINT "aura: a migration of this script is already applied; nothing was changed"
        CHECK (migration IS NULL)
);
CREATE TEMP TABLE IF NOT EXISTS aura_fk_guard (
    tbl TEXT CONSTRAINT "aura: foreign_key_check failed after the migrations; nothing was changed"
        CHECK (tbl IS NULL)
);
)";

}  // namespace

std::string IdempotentScript(const std::vector<Migration>& pending, const ScriptOptions& o) {
  std::ostringstream out;
  std::istringstream header(o.header);
  for (std::string line; std::getline(header, line);) out << "-- " << line << "\n";
  out << "-- Run with: sqlite3 DATABASE < THIS_FILE (stop the application first, or let it wait:\n"
         "-- the whole script is one write transaction). Running it twice changes nothing.\n";
  out << kPrologue;
  for (const Migration& m : pending) {
    out << "\n-- " << m.id << " (" << m.file << ", sha256 " << m.sha256 << ")\n";
    out << "INSERT INTO temp.aura_guard SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" "
           "WHERE \"MigrationId\" = "
        << Quote(m.id) << ";\n";
    for (const SqlStatement& s : m.up) out << s.sql << ";\n";
    out << "INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\")\nVALUES ("
        << Quote(m.id) << ", " << Quote(o.product_version) << ");\n";
  }
  out << "\nINSERT INTO temp.aura_fk_guard SELECT \"table\" FROM pragma_foreign_key_check;\n"
         "COMMIT;\n";
  return out.str();
}

}  // namespace aura::migrations
