// ParseEfScript: a `dotnet ef migrations script` file cut into its migrations. A migration is
// every statement since the previous history INSERT, up to and including its own (so one
// migration may span several BEGIN/COMMIT blocks and the PRAGMA foreign_keys lines EF writes
// around table rebuilds). Its checksum covers the same bytes: from the end of the previous
// history INSERT (or the file's start) to the end of its own.
#include "common/hashing.h"
#include "migrations/migration_source.h"
#include "migrations/sql_internal.h"

namespace aura::migrations {
namespace {

using internal::At;

class ScriptParser {
 public:
  ScriptParser(std::string_view text, const std::string& file)
      : text_(text), file_(file), wrappers_(file) {}

  Status Take(internal::StatementSpan& span) {
    const SqlStatement& st = span.statement;
    Classified c = Classify(st);
    switch (c.kind) {
      case StatementKind::kRun:
        pending_.push_back(std::move(span.statement));
        return Status::Ok();
      case StatementKind::kBegin:
        return wrappers_.Begin(st.line);
      case StatementKind::kCommit:
        return wrappers_.Commit(st.line);
      case StatementKind::kForeignKeysPragma:
      case StatementKind::kEfLock:
        return Status::Ok();
      case StatementKind::kCreateHistory:
        saw_history_table_ = true;
        return Status::Ok();
      case StatementKind::kHistoryInsert:
        return EndMigration(c.migration_id, st.line, span.end);
      case StatementKind::kHistoryDelete:
        return Refused(At(file_, st.line,
                          "DELETE FROM \"__EFMigrationsHistory\": this is a down script, which "
                          "cannot be a migration source; generate an up script (dotnet ef "
                          "migrations script) and put the down SQL in <id>.down.sql files"));
      case StatementKind::kRejected:
        return Refused(At(file_, st.line, c.reason));
    }
    return Status::Ok();
  }

  Result<std::vector<Migration>> Finish() {
    if (migrations_.empty() && !saw_history_table_) {
      return Refused(file_ +
                     ": neither a migration file (<14 digits>_<Name>.sql) nor a 'dotnet ef "
                     "migrations script' file (no INSERT INTO \"__EFMigrationsHistory\"); rename "
                     "it or move it out of the migrations directory");
    }
    if (!pending_.empty()) {
      return Refused(At(file_, pending_.front().line,
                        "statement belongs to no migration (no INSERT INTO "
                        "\"__EFMigrationsHistory\" follows it); move it into a migration or "
                        "remove it"));
    }
    AURA_RETURN_IF_ERROR(wrappers_.Finish());
    return std::move(migrations_);
  }

 private:
  Status EndMigration(const std::string& id, int line, size_t end) {
    if (!IsMigrationId(id)) {
      return Refused(At(file_, line,
                        "history row names '" + id +
                            "', which is not a migration id (<14 digits>_<Name>); fix the row"));
    }
    if (!migrations_.empty() && id <= migrations_.back().id) {
      return Refused(At(file_, line,
                        "migration " + id + " follows " + migrations_.back().id +
                            "; ids in an EF script must ascend, regenerate the script"));
    }
    Migration m;
    m.id = id;
    m.name = id.substr(15);
    m.file = file_;
    m.line = pending_.empty() ? line : pending_.front().line;
    m.up = std::move(pending_);
    pending_.clear();
    m.sha256 = HexEncode(Sha256::Of(text_.substr(region_start_, end - region_start_)));
    m.from_script = true;
    region_start_ = end;
    migrations_.push_back(std::move(m));
    return Status::Ok();
  }

  std::string_view text_;
  const std::string& file_;
  internal::TransactionWrappers wrappers_;
  std::vector<SqlStatement> pending_;
  std::vector<Migration> migrations_;
  size_t region_start_ = 0;
  bool saw_history_table_ = false;
};

}  // namespace

Result<std::vector<Migration>> ParseEfScript(std::string_view text, const std::string& file) {
  auto spans = internal::SplitStatementSpans(text, file);
  if (!spans.ok()) return Refused(spans.status().message());
  ScriptParser parser(text, file);
  for (internal::StatementSpan& span : *spans) AURA_RETURN_IF_ERROR(parser.Take(span));
  return parser.Finish();
}

}  // namespace aura::migrations
