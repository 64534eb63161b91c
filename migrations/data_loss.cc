// The data-loss guard's database reads and its dynamic comparisons. The static scan,
// FindDestructive, is in destructive_scan.cc.
#include "migrations/data_loss.h"

#include <algorithm>

#include "migrations/sql_internal.h"

namespace aura::migrations {
namespace {

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string QuoteName(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// Ordinary tables of the main schema: not sqlite_*, not virtual tables, not their shadow tables.
Result<std::vector<std::string>> OrdinaryTables(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db.Prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'table' "
                 "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"));
  std::vector<std::string> names;
  while (true) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    names.push_back(st.ColumnText(0));
  }
  return names;
}

// DELETE FROM [schema.]t, or WITH ... DELETE FROM t.
std::string DeleteTarget(const std::vector<Token>& tokens) {
  size_t i = 0;
  if (internal::KeywordAt(tokens, 0, "WITH")) {
    int depth = 0;
    for (; i < tokens.size(); ++i) {
      if (internal::PunctAt(tokens, i, '(')) ++depth;
      if (internal::PunctAt(tokens, i, ')')) --depth;
      if (depth == 0 && tokens[i].IsKeyword("DELETE")) break;
    }
  }
  if (!internal::KeywordAt(tokens, i, "DELETE") || !internal::KeywordAt(tokens, i + 1, "FROM")) {
    return "";
  }
  i += 2;
  return internal::ReadQualifiedName(tokens, i);
}

}  // namespace

bool NameLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return Lower(x) < Lower(y); });
}

Result<TableColumns> ReadTableColumns(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> tables, OrdinaryTables(db));
  AURA_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("SELECT name FROM pragma_table_info(?) ORDER BY cid"));
  TableColumns out;
  for (const std::string& table : tables) {
    AURA_RETURN_IF_ERROR(st.Reset());
    AURA_RETURN_IF_ERROR(st.BindText(1, table));
    std::vector<std::string>& columns = out[table];
    while (true) {
      AURA_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      columns.push_back(st.ColumnText(0));
    }
  }
  return out;
}

Result<RowCounts> CountRows(SqliteDb& db) {
  AURA_ASSIGN_OR_RETURN(std::vector<std::string> tables, OrdinaryTables(db));
  RowCounts out;
  for (const std::string& table : tables) {
    AURA_ASSIGN_OR_RETURN(out[table], db.QueryInt("SELECT count(*) FROM " + QuoteName(table)));
  }
  return out;
}

NameSet DeleteTargets(const std::vector<Migration>& pending) {
  NameSet out;
  for (const Migration& m : pending) {
    for (const SqlStatement& st : m.up) {
      std::string target = DeleteTarget(Tokenize(st.sql));
      if (!target.empty()) out.insert(target);
    }
  }
  return out;
}

std::vector<RowLoss> UnexplainedRowLoss(const RowCounts& before, const RowCounts& after,
                                        const NameSet& delete_targets, const NameSet& allowed) {
  std::vector<RowLoss> out;
  for (const auto& [table, count] : before) {
    auto it = after.find(table);
    if (it == after.end() || it->second >= count) continue;
    if (delete_targets.contains(table) || allowed.contains(table)) continue;
    out.push_back({table, count, it->second});
  }
  return out;
}

std::vector<std::string> DroppedTables(const RowCounts& before, const RowCounts& after) {
  std::vector<std::string> out;
  for (const auto& [table, count] : before) {
    if (!after.contains(table)) out.push_back(table);
  }
  return out;
}

}  // namespace aura::migrations
