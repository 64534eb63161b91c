#include "integrity/logical_checksum.h"

#include <cstring>
#include <vector>

#include "common/bytes.h"
#include "common/hashing.h"

namespace aura::integrity {

namespace {

std::string QuoteIdent(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void HashValue(Sha256& h, const Statement& st, int col) {
  uint8_t tag = static_cast<uint8_t>(st.ColumnType(col));
  h.Update(std::span<const uint8_t>(&tag, 1));
  uint8_t num[8];
  switch (tag) {
    case SQLITE_INTEGER:
      PutBE64(num, static_cast<uint64_t>(st.ColumnInt64(col)));
      h.Update(num);
      break;
    case SQLITE_FLOAT: {
      double d = st.ColumnDouble(col);
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      PutBE64(num, bits);
      h.Update(num);
      break;
    }
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      auto bytes = st.ColumnBlob(col);
      PutBE64(num, bytes.size());
      h.Update(num);
      h.Update(bytes);
      break;
    }
    default:
      break;  // NULL: the tag is the value
  }
}

Status HashTable(SqliteDb& db, Sha256& h, const std::string& table, bool without_rowid) {
  std::string order = without_rowid ? "" : " ORDER BY rowid";
  if (without_rowid) {
    AURA_ASSIGN_OR_RETURN(Statement cols, db.Prepare("SELECT count(*) FROM pragma_table_info(?1)"));
    AURA_RETURN_IF_ERROR(cols.BindText(1, table));
    AURA_ASSIGN_OR_RETURN(bool row, cols.Step());
    int n = row ? static_cast<int>(cols.ColumnInt64(0)) : 0;
    for (int i = 1; i <= n; ++i) order += (i == 1 ? " ORDER BY " : ", ") + std::to_string(i);
  }
  AURA_ASSIGN_OR_RETURN(Statement st,
                        db.Prepare("SELECT * FROM main." + QuoteIdent(table) + order));
  h.Update("table:" + table);
  for (;;) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    h.Update(std::string_view("row"));
    for (int c = 0; c < st.ColumnCount(); ++c) HashValue(h, st, c);
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> LogicalChecksum(SqliteDb& db) {
  AURA_RETURN_IF_ERROR(db.Exec("BEGIN"));
  Sha256 h;
  std::vector<std::pair<std::string, bool>> tables;
  {
    AURA_ASSIGN_OR_RETURN(
        Statement st,
        db.Prepare("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema "
                   "ORDER BY type, name"));
    for (;;) {
      AURA_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) break;
      for (int c = 0; c < 4; ++c) HashValue(h, st, c);
      std::string sql = st.ColumnText(3);
      if (st.ColumnText(0) == "table" && sql.rfind("CREATE VIRTUAL", 0) != 0) {
        bool without_rowid = sql.find("WITHOUT ROWID") != std::string::npos ||
                             sql.find("without rowid") != std::string::npos;
        tables.emplace_back(st.ColumnText(1), without_rowid);
      }
    }
  }
  for (const auto& [name, without_rowid] : tables) {
    Status s = HashTable(db, h, name, without_rowid);
    if (!s.ok()) {
      (void)db.Exec("ROLLBACK");
      return s;
    }
  }
  AURA_RETURN_IF_ERROR(db.Exec("COMMIT"));
  return HexEncode(h.Finish());
}

Result<std::string> LogicalChecksumOfFile(const std::string& path) {
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::Open(path, SQLITE_OPEN_READONLY, 5000));
  return LogicalChecksum(db);
}

}  // namespace aura::integrity
