// Classify: which statements of a migration file the runner executes, which are EF Core's
// wrappers it handles itself, and which cannot run inside its transaction.
#include <array>
#include <cctype>
#include <optional>
#include <string>

#include "migrations/sql_internal.h"
#include "migrations/sql_text.h"

namespace aura::migrations {
namespace {

using internal::KeywordAt;
using internal::PunctAt;
using internal::ReadQualifiedName;

Classified Kind(StatementKind kind) {
  Classified c;
  c.kind = kind;
  return c;
}

Classified Rejected(std::string reason) {
  Classified c;
  c.kind = StatementKind::kRejected;
  c.reason = std::move(reason);
  return c;
}

bool TouchesEfTables(const std::vector<Token>& tokens) {
  for (const Token& t : tokens) {
    if (t.IsName(kHistoryTable) || t.IsName(kEfLockTable)) return true;
  }
  return false;
}

Classified RejectTouch(const std::vector<Token>& tokens) {
  std::string verb = tokens.empty() ? "statement" : tokens[0].text;
  for (char& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  for (const Token& t : tokens) {
    if (t.IsName(kEfLockTable)) {
      return Rejected(verb + " on \"" + std::string(kEfLockTable) +
                      "\" is EF Core's own lock; the runner takes its own lock, remove it");
    }
  }
  return Rejected(verb + " on \"" + std::string(kHistoryTable) +
                  "\" is not allowed; the runner writes the history rows itself, remove it "
                  "(only EF's CREATE TABLE, its INSERT of a row and a down file's DELETE of its "
                  "row are recognized)");
}

Classified ClassifyPragma(const std::vector<Token>& tokens) {
  size_t i = 1;
  std::string name = ReadQualifiedName(tokens, i);
  if (SameName(name, "foreign_keys")) return Kind(StatementKind::kForeignKeysPragma);
  static constexpr std::array<std::string_view, 8> kRejected = {
      "journal_mode",   "locking_mode", "page_size",  "auto_vacuum",
      "wal_checkpoint", "synchronous",  "temp_store", "writable_schema"};
  for (std::string_view r : kRejected) {
    if (!SameName(name, r)) continue;
    if (r == "writable_schema") {
      return Rejected(
          "PRAGMA writable_schema edits the schema behind SQLite's back; it is not "
          "allowed in a migration");
    }
    return Rejected("PRAGMA " + std::string(r) +
                    " cannot take effect inside a transaction (or changes how the database is "
                    "stored, not its schema); run it separately, outside the migration");
  }
  return Kind(StatementKind::kRun);
}

// CREATE TABLE [IF NOT EXISTS] [schema.]"__EFMigrationsHistory" (...)
bool IsCreateHistory(const std::vector<Token>& tokens) {
  if (!KeywordAt(tokens, 0, "CREATE") || !KeywordAt(tokens, 1, "TABLE")) return false;
  size_t i = 2;
  if (KeywordAt(tokens, i, "IF") && KeywordAt(tokens, i + 1, "NOT") &&
      KeywordAt(tokens, i + 2, "EXISTS")) {
    i += 3;
  }
  return SameName(ReadQualifiedName(tokens, i), kHistoryTable) && PunctAt(tokens, i, '(');
}

// INSERT INTO history [(c1, c2)] VALUES ('a', 'b')
bool ReadHistoryInsert(const std::vector<Token>& tokens, Classified& out) {
  if (!KeywordAt(tokens, 0, "INSERT") || !KeywordAt(tokens, 1, "INTO")) return false;
  size_t i = 2;
  if (!SameName(ReadQualifiedName(tokens, i), kHistoryTable)) return false;
  bool id_first = true;
  if (PunctAt(tokens, i, '(')) {
    if (i + 4 >= tokens.size() || !PunctAt(tokens, i + 2, ',') || !PunctAt(tokens, i + 4, ')')) {
      return false;
    }
    const Token& a = tokens[i + 1];
    const Token& b = tokens[i + 3];
    if (a.IsName("MigrationId") && b.IsName("ProductVersion")) {
      id_first = true;
    } else if (a.IsName("ProductVersion") && b.IsName("MigrationId")) {
      id_first = false;
    } else {
      return false;
    }
    i += 5;
  }
  if (!KeywordAt(tokens, i, "VALUES") || !PunctAt(tokens, i + 1, '(') ||
      !PunctAt(tokens, i + 3, ',') || !PunctAt(tokens, i + 5, ')') || tokens.size() != i + 6) {
    return false;
  }
  const Token& v1 = tokens[i + 2];
  const Token& v2 = tokens[i + 4];
  if (v1.kind != TokenKind::kString || v2.kind != TokenKind::kString) return false;
  out.kind = StatementKind::kHistoryInsert;
  out.migration_id = id_first ? v1.text : v2.text;
  out.product_version = id_first ? v2.text : v1.text;
  return true;
}

// DELETE FROM history WHERE "MigrationId" = 'id'
bool ReadHistoryDelete(const std::vector<Token>& tokens, Classified& out) {
  if (!KeywordAt(tokens, 0, "DELETE") || !KeywordAt(tokens, 1, "FROM")) return false;
  size_t i = 2;
  if (!SameName(ReadQualifiedName(tokens, i), kHistoryTable)) return false;
  if (!KeywordAt(tokens, i, "WHERE") || tokens.size() != i + 4) return false;
  if (!tokens[i + 1].IsName("MigrationId") || !PunctAt(tokens, i + 2, '=') ||
      tokens[i + 3].kind != TokenKind::kString) {
    return false;
  }
  out.kind = StatementKind::kHistoryDelete;
  out.migration_id = tokens[i + 3].text;
  return true;
}

bool Contains(const std::vector<Token>& tokens, std::string_view keyword) {
  for (const Token& t : tokens) {
    if (t.IsKeyword(keyword)) return true;
  }
  return false;
}

// The transaction-control and connection-level statements, by their first word.
std::optional<Classified> ClassifyByFirstWord(const std::vector<Token>& tokens) {
  const Token& first = tokens[0];
  if (first.IsKeyword("BEGIN")) return Kind(StatementKind::kBegin);
  if (first.IsKeyword("COMMIT") || first.IsKeyword("END")) return Kind(StatementKind::kCommit);
  if (first.IsKeyword("ROLLBACK")) {
    if (Contains(tokens, "TO")) return Kind(StatementKind::kRun);
    return Rejected(
        "ROLLBACK would end the runner's transaction; remove it (a failed migration "
        "is rolled back as a whole)");
  }
  for (std::string_view word : {"VACUUM", "ATTACH", "DETACH"}) {
    if (first.IsKeyword(word)) {
      return Rejected(std::string(word) +
                      " cannot run inside a transaction; run it separately after the migration");
    }
  }
  if (first.IsKeyword("PRAGMA")) return ClassifyPragma(tokens);
  return std::nullopt;
}

// EF Core 9+'s own lock handling, should a script carry it: CREATE TABLE ... "__EFMigrationsLock",
// INSERT [OR IGNORE] INTO "__EFMigrationsLock" ..., DELETE FROM "__EFMigrationsLock".
bool IsEfLockStatement(const std::vector<Token>& tokens) {
  if (tokens.size() < 3) return false;
  const bool create = tokens[0].IsKeyword("CREATE") && tokens[1].IsKeyword("TABLE");
  const bool insert = tokens[0].IsKeyword("INSERT");
  const bool del = tokens[0].IsKeyword("DELETE") && tokens[1].IsKeyword("FROM");
  if (!create && !insert && !del) return false;
  for (const Token& t : tokens) {
    if (t.IsName(kHistoryTable)) return false;
  }
  for (size_t i = 1; i < tokens.size() && i < 8; ++i) {
    if (tokens[i].IsName(kEfLockTable)) return true;
  }
  return false;
}

}  // namespace

Classified Classify(const SqlStatement& statement) {
  std::vector<Token> tokens = Tokenize(statement.sql);
  while (!tokens.empty() && PunctAt(tokens, tokens.size() - 1, ';')) tokens.pop_back();
  if (tokens.empty()) return Kind(StatementKind::kRun);
  if (auto by_word = ClassifyByFirstWord(tokens)) return *by_word;
  if (!TouchesEfTables(tokens)) return Kind(StatementKind::kRun);
  if (IsCreateHistory(tokens)) return Kind(StatementKind::kCreateHistory);
  Classified c;
  if (ReadHistoryInsert(tokens, c) || ReadHistoryDelete(tokens, c)) return c;
  if (IsEfLockStatement(tokens)) return Kind(StatementKind::kEfLock);
  return RejectTouch(tokens);
}

}  // namespace aura::migrations
