#include "common/sqlite_integrity.h"

namespace aura {

Result<IntegrityLevel> ParseIntegrityLevel(const std::string& text) {
  if (text == "full") return IntegrityLevel::kFull;
  if (text == "quick") return IntegrityLevel::kQuick;
  if (text == "none") return IntegrityLevel::kNone;
  return InvalidArgument("integrity check level '" + text + "' is not one of full, quick, none");
}

const char* IntegrityLevelName(IntegrityLevel level) {
  switch (level) {
    case IntegrityLevel::kFull:
      return "full";
    case IntegrityLevel::kQuick:
      return "quick";
    case IntegrityLevel::kNone:
      return "none";
  }
  return "?";
}

Status UseMappedReads(SqliteDb& db) {
  // SQLite clamps the size to its compile-time SQLITE_MAX_MMAP_SIZE; the rest is read(2).
  return db.Exec("PRAGMA mmap_size=" + std::to_string(int64_t{1} << 40));
}

Result<std::vector<std::string>> RunIntegrityCheck(SqliteDb& db, IntegrityLevel level,
                                                   int max_errors) {
  std::vector<std::string> problems;
  if (level == IntegrityLevel::kNone) return problems;
  std::string sql = std::string(level == IntegrityLevel::kFull ? "PRAGMA integrity_check("
                                                               : "PRAGMA quick_check(") +
                    std::to_string(max_errors) + ")";
  auto st = db.Prepare(sql);
  if (!st.ok()) {
    if (st.status().code() == Code::kCorruption || st.status().code() == Code::kNotADatabase) {
      return std::vector<std::string>{st.status().message()};
    }
    return st.status();
  }
  for (;;) {
    auto row = st->Step();
    if (!row.ok()) {
      if (row.status().code() == Code::kCorruption || row.status().code() == Code::kNotADatabase) {
        problems.push_back(row.status().message());
        return problems;
      }
      return row.status();
    }
    if (!*row) break;
    std::string line = st->ColumnText(0);
    if (line != "ok") problems.push_back(line);
  }
  return problems;
}

Result<std::vector<std::string>> ForeignKeyViolations(SqliteDb& db, size_t max) {
  std::vector<std::string> out;
  AURA_ASSIGN_OR_RETURN(Statement st, db.Prepare("PRAGMA foreign_key_check"));
  for (;;) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || out.size() >= max) break;
    out.push_back("foreign key: table " + st.ColumnText(0) + " row " + st.ColumnText(1) +
                  " has no parent in " + st.ColumnText(2));
  }
  return out;
}

Result<bool> AssertionHolds(SqliteDb& db, const std::string& sql) {
  auto q = db.Prepare(sql);
  if (!q.ok()) {
    return InvalidArgument("assertion `" + sql + "` failed to run: " + q.status().message());
  }
  auto row = q->Step();
  if (!row.ok()) {
    return InvalidArgument("assertion `" + sql + "` failed to run: " + row.status().message());
  }
  return *row && q->ColumnType(0) != SQLITE_NULL && q->ColumnText(0) != "0" &&
         !q->ColumnText(0).empty();
}

}  // namespace aura
