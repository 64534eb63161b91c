// FindDestructive: the data-loss guard's static pass over the pending migrations' tokens.
//
// It follows a working copy of the schema (table -> columns) through CREATE TABLE, ALTER TABLE
// ADD / RENAME TO / RENAME COLUMN / DROP COLUMN and DROP TABLE, and which tables hold rows that
// existed before the migrations (the tables of `before`, and any table an INSERT ... SELECT or
// CREATE TABLE ... AS SELECT filled from one of them). Reported:
//   - ALTER TABLE t DROP COLUMN c;
//   - DROP TABLE t of a table holding earlier rows that is not recreated under its name by a
//     later statement (ALTER TABLE x RENAME TO t, CREATE TABLE t) and whose rows were not copied
//     back into the table it was renamed from (RENAME t TO old_t; CREATE t; INSERT INTO t SELECT
//     ... FROM old_t; DROP old_t is a rebuild too);
//   - a rebuild (recreated as above) whose last INSERT ... SELECT ... FROM t before the DROP
//     neither mentions a column of t by name in its SELECT list nor inserts into a column of that
//     name (EF's rename by rebuild selects the old name into the new column); SELECT * copies
//     every column. A rebuild with no such INSERT at all recreates the table empty.
// Limits: one source table per INSERT ... SELECT (the first after the top-level FROM; joins,
// compound SELECTs and CTEs are not followed); a name in the SELECT list counts as copied however
// it is used; CREATE TABLE ... AS SELECT gets columns only with SELECT *; tables created and
// filled by the migrations themselves are not guarded; dynamic SQL and triggers are invisible
// here (the rehearsal's row counts catch what they do).
#include <map>

#include "migrations/data_loss.h"
#include "migrations/sql_internal.h"

namespace aura::migrations {
namespace {

using internal::KeywordAt;
using internal::PunctAt;
using internal::ReadQualifiedName;

struct Located {
  const Migration* migration;
  const SqlStatement* statement;
  std::vector<Token> tokens;
};

// INSERT INTO target [(columns)] SELECT names... FROM source, or CREATE TABLE target AS SELECT.
struct Copy {
  std::string target;
  std::vector<std::string> target_columns;
  std::vector<std::string> select_names;
  bool star = false;
  size_t at = 0;  // index of the statement
};

bool HasName(const std::vector<std::string>& names, const std::string& name) {
  for (const std::string& n : names) {
    if (SameName(n, name)) return true;
  }
  return false;
}

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

// Top-level comma-separated items inside the parentheses opening at tokens[open]: the first
// token of each item that is not a table constraint.
std::vector<std::string> ColumnDefs(const std::vector<Token>& tokens, size_t open) {
  std::vector<std::string> out;
  int depth = 0;
  bool item_start = true;
  for (size_t i = open; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (PunctAt(tokens, i, '(') && depth++ == 0) continue;
    if (PunctAt(tokens, i, ')') && --depth == 0) break;
    if (depth == 1 && PunctAt(tokens, i, ',')) {
      item_start = true;
      continue;
    }
    if (!item_start) continue;
    item_start = false;
    bool constraint = false;
    for (std::string_view kw : {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}) {
      constraint = constraint || t.IsKeyword(kw);
    }
    if (!constraint && t.kind != TokenKind::kPunct) out.push_back(t.text);
  }
  return out;
}

// Reads "SELECT list FROM source" from tokens[i] (the SELECT): names in the list, '*', source.
bool ReadSelect(const std::vector<Token>& tokens, size_t i, Copy& copy, std::string& source) {
  if (!KeywordAt(tokens, i, "SELECT")) return false;
  int depth = 0;
  for (++i; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (PunctAt(tokens, i, '(')) ++depth;
    if (PunctAt(tokens, i, ')')) --depth;
    if (depth == 0 && t.IsKeyword("FROM")) break;
    if (depth == 0 && PunctAt(tokens, i, '*') &&
        (KeywordAt(tokens, i - 1, "SELECT") || PunctAt(tokens, i - 1, ',') ||
         PunctAt(tokens, i - 1, '.'))) {
      copy.star = true;
    }
    if (t.kind == TokenKind::kWord || t.kind == TokenKind::kQuotedName) {
      copy.select_names.push_back(t.text);
    }
  }
  if (i >= tokens.size()) return false;
  ++i;
  source = ReadQualifiedName(tokens, i);
  return !source.empty();
}

// After CREATE [TEMP|TEMPORARY] TABLE [IF NOT EXISTS]: the index of the name, or 0.
size_t CreateTableName(const std::vector<Token>& tokens, bool& if_not_exists) {
  if (!KeywordAt(tokens, 0, "CREATE")) return 0;
  size_t i = 1;
  if (KeywordAt(tokens, i, "TEMP") || KeywordAt(tokens, i, "TEMPORARY")) ++i;
  if (!KeywordAt(tokens, i, "TABLE")) return 0;
  ++i;
  if_not_exists = KeywordAt(tokens, i, "IF") && KeywordAt(tokens, i + 1, "NOT") &&
                  KeywordAt(tokens, i + 2, "EXISTS");
  return if_not_exists ? i + 3 : i;
}

class Scan {
 public:
  explicit Scan(const TableColumns& before) : tables_(before) {
    for (const auto& [name, columns] : before) holds_rows_.insert(name);
  }

  std::vector<Destructive> Run(const std::vector<Migration>& pending) {
    for (const Migration& m : pending) {
      for (const SqlStatement& st : m.up) all_.push_back({&m, &st, Tokenize(st.sql)});
    }
    for (size_t i = 0; i < all_.size(); ++i) Statement(i);
    return std::move(out_);
  }

 private:
  void Statement(size_t i) {
    const std::vector<Token>& t = all_[i].tokens;
    if (KeywordAt(t, 0, "CREATE")) {
      CreateTable(i);
    } else if (KeywordAt(t, 0, "ALTER") && KeywordAt(t, 1, "TABLE")) {
      AlterTable(i);
    } else if (KeywordAt(t, 0, "DROP") && KeywordAt(t, 1, "TABLE")) {
      DropTable(i);
    } else if (KeywordAt(t, 0, "INSERT") || KeywordAt(t, 0, "REPLACE")) {
      InsertSelect(i);
    }
  }

  void CreateTable(size_t i) {
    const std::vector<Token>& t = all_[i].tokens;
    bool if_not_exists = false;
    size_t k = CreateTableName(t, if_not_exists);
    if (k == 0) return;
    std::string name = ReadQualifiedName(t, k);
    if (name.empty() || (if_not_exists && tables_.contains(name))) return;
    tables_.erase(name);
    holds_rows_.erase(name);
    origin_.erase(name);
    if (PunctAt(t, k, '(')) {
      tables_[name] = ColumnDefs(t, k);
      return;
    }
    if (!KeywordAt(t, k, "AS")) return;
    Copy copy;
    std::string source;
    tables_[name] = {};
    if (!ReadSelect(t, k + 1, copy, source)) return;
    if (copy.star && tables_.contains(source)) tables_[name] = tables_[source];
    copy.target = name;
    copy.target_columns = tables_[name];
    copy.at = i;
    RecordCopy(source, std::move(copy));
  }

  void InsertSelect(size_t i) {
    const std::vector<Token>& t = all_[i].tokens;
    size_t k = 1;
    while (k < t.size() && !t[k].IsKeyword("INTO")) ++k;
    ++k;
    Copy copy;
    copy.target = ReadQualifiedName(t, k);
    if (copy.target.empty()) return;
    if (KeywordAt(t, k, "AS")) k += 2;
    if (PunctAt(t, k, '(')) {
      for (++k; k < t.size() && !PunctAt(t, k, ')'); ++k) {
        if (!PunctAt(t, k, ',')) copy.target_columns.push_back(t[k].text);
      }
      ++k;
    } else if (tables_.contains(copy.target)) {
      copy.target_columns = tables_[copy.target];
    }
    std::string source;
    if (!ReadSelect(t, k, copy, source)) return;
    copy.at = i;
    RecordCopy(source, std::move(copy));
  }

  void RecordCopy(const std::string& source, Copy copy) {
    if (holds_rows_.contains(source)) holds_rows_.insert(copy.target);
    copies_[source] = std::move(copy);
  }

  void AlterTable(size_t i) {
    const std::vector<Token>& t = all_[i].tokens;
    size_t k = 2;
    std::string table = ReadQualifiedName(t, k);
    if (table.empty()) return;
    if (KeywordAt(t, k, "RENAME") && KeywordAt(t, k + 1, "TO")) {
      k += 2;
      RenameTable(table, ReadQualifiedName(t, k));
      return;
    }
    bool rename = KeywordAt(t, k, "RENAME");
    bool add = KeywordAt(t, k, "ADD");
    bool drop = KeywordAt(t, k, "DROP");
    if (!rename && !add && !drop) return;
    ++k;
    if (KeywordAt(t, k, "COLUMN")) ++k;
    if (k >= t.size()) return;
    std::vector<std::string>& columns = tables_[table];
    const std::string& column = t[k].text;
    if (add) {
      columns.push_back(column);
    } else if (rename && KeywordAt(t, k + 1, "TO") && k + 2 < t.size()) {
      for (std::string& c : columns) {
        if (SameName(c, column)) c = t[k + 2].text;
      }
    } else if (drop) {
      std::string spelled = Spelled(table);
      Report(i, spelled, column,
             "ALTER TABLE " + Quoted(spelled) + " DROP COLUMN " + Quoted(column));
      std::erase_if(columns, [&](const std::string& c) { return SameName(c, column); });
    }
  }

  void RenameTable(const std::string& from, const std::string& to) {
    if (to.empty()) return;
    auto it = tables_.find(from);
    std::vector<std::string> columns =
        it == tables_.end() ? std::vector<std::string>{} : std::move(it->second);
    if (it != tables_.end()) tables_.erase(it);
    tables_.erase(to);
    tables_[to] = std::move(columns);
    bool held = holds_rows_.erase(from) > 0;
    holds_rows_.erase(to);
    if (held) holds_rows_.insert(to);
    std::string origin = origin_.contains(from) ? origin_[from] : from;
    origin_.erase(from);
    origin_[to] = origin;
  }

  void DropTable(size_t i) {
    const std::vector<Token>& t = all_[i].tokens;
    size_t k = 2;
    if (KeywordAt(t, k, "IF") && KeywordAt(t, k + 1, "EXISTS")) k += 2;
    std::string table = ReadQualifiedName(t, k);
    if (table.empty()) return;
    std::string spelled = Spelled(table);
    if (holds_rows_.contains(table)) CheckDrop(i, table, spelled);
    tables_.erase(table);
    holds_rows_.erase(table);
    copies_.erase(table);
    origin_.erase(table);
  }

  void CheckDrop(size_t i, const std::string& table, const std::string& spelled) {
    auto copy = copies_.find(table);
    bool copied_back = copy != copies_.end() && origin_.contains(table) &&
                       SameName(origin_[table], copy->second.target);
    if (!copied_back && !RecreatedLater(i, table)) {
      Report(i, spelled, "", "DROP TABLE " + Quoted(spelled) + " (not recreated)");
      return;
    }
    if (copy == copies_.end()) {
      Report(i, spelled, "",
             "DROP TABLE " + Quoted(spelled) + " (recreated without copying its rows)");
      return;
    }
    const Copy& c = copy->second;
    if (c.star) return;
    for (const std::string& column : tables_[table]) {
      if (HasName(c.select_names, column) || HasName(c.target_columns, column)) continue;
      Report(c.at, spelled, column,
             "rebuild of " + Quoted(spelled) + " does not copy column " + Quoted(column));
    }
  }

  // A later statement recreates `table` under its name.
  bool RecreatedLater(size_t i, const std::string& table) const {
    for (size_t j = i + 1; j < all_.size(); ++j) {
      const std::vector<Token>& t = all_[j].tokens;
      bool if_not_exists = false;
      size_t k = CreateTableName(t, if_not_exists);
      if (k != 0 && SameName(ReadQualifiedName(t, k), table)) return true;
      if (!KeywordAt(t, 0, "ALTER") || !KeywordAt(t, 1, "TABLE")) continue;
      k = 2;
      if (ReadQualifiedName(t, k).empty()) continue;
      if (KeywordAt(t, k, "RENAME") && KeywordAt(t, k + 1, "TO")) {
        k += 2;
        if (SameName(ReadQualifiedName(t, k), table)) return true;
      }
    }
    return false;
  }

  std::string Spelled(const std::string& table) const {
    auto it = tables_.find(table);
    return it == tables_.end() ? table : it->first;
  }

  void Report(size_t at, const std::string& table, const std::string& column, std::string what) {
    const Located& l = all_[at];
    out_.push_back(
        {l.migration->id, l.migration->file, l.statement->line, table, column, std::move(what)});
  }

  TableColumns tables_;
  NameSet holds_rows_;  // tables holding rows that existed before the migrations
  std::map<std::string, Copy, NameLess> copies_;         // the last copy out of each table
  std::map<std::string, std::string, NameLess> origin_;  // renamed table -> its first name
  std::vector<Located> all_;
  std::vector<Destructive> out_;
};

}  // namespace

std::vector<Destructive> FindDestructive(const std::vector<Migration>& pending,
                                         const TableColumns& before) {
  return Scan(before).Run(pending);
}

}  // namespace aura::migrations
