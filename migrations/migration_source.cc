// Per-migration files and the directory loader. EF scripts are parsed in ef_script.cc.
#include "migrations/migration_source.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <system_error>

#include "common/file_io.h"
#include "common/hashing.h"
#include "migrations/sql_internal.h"

namespace aura::migrations {
namespace {

using internal::At;

constexpr std::string_view kUpSuffix = ".sql";
constexpr std::string_view kDownSuffix = ".down.sql";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

enum class Role { kUp, kDown };

// A wrapper statement of a per-migration file: fine when it names the file's own id in the
// file's direction, refused otherwise.
Status CheckHistoryRow(const Classified& c, const std::string& file, int line,
                       const std::string& id, Role role) {
  bool insert = c.kind == StatementKind::kHistoryInsert;
  if (insert && role == Role::kDown) {
    return Refused(At(file, line,
                      "INSERT INTO \"__EFMigrationsHistory\" in a down file; remove it (the "
                      "runner deletes the history row itself)"));
  }
  if (!insert && role == Role::kUp) {
    return Refused(At(file, line,
                      "DELETE FROM \"__EFMigrationsHistory\" in an up file; remove it (it belongs "
                      "in the .down.sql file)"));
  }
  if (c.migration_id != id) {
    return Refused(At(file, line,
                      "history row for '" + c.migration_id + "' in the file of migration '" + id +
                          "'; a migration file may only record its own id, remove it"));
  }
  return Status::Ok();
}

Result<std::vector<SqlStatement>> ParseOwnFile(std::string_view text, const std::string& file,
                                               const std::string& id, Role role) {
  auto spans = internal::SplitStatementSpans(text, file);
  if (!spans.ok()) return Refused(spans.status().message());
  std::vector<SqlStatement> out;
  internal::TransactionWrappers wrappers(file);
  for (auto& span : *spans) {
    const SqlStatement& st = span.statement;
    Classified c = Classify(st);
    switch (c.kind) {
      case StatementKind::kRun:
        out.push_back(std::move(span.statement));
        break;
      case StatementKind::kBegin:
        AURA_RETURN_IF_ERROR(wrappers.Begin(st.line));
        break;
      case StatementKind::kCommit:
        AURA_RETURN_IF_ERROR(wrappers.Commit(st.line));
        break;
      case StatementKind::kForeignKeysPragma:
      case StatementKind::kCreateHistory:
      case StatementKind::kEfLock:
        break;
      case StatementKind::kHistoryInsert:
      case StatementKind::kHistoryDelete:
        AURA_RETURN_IF_ERROR(CheckHistoryRow(c, file, st.line, id, role));
        break;
      case StatementKind::kRejected:
        return Refused(At(file, st.line, c.reason));
    }
  }
  AURA_RETURN_IF_ERROR(wrappers.Finish());
  return out;
}

std::string HexSha256(std::string_view text) { return HexEncode(Sha256::Of(text)); }

struct DirListing {
  std::vector<std::string> up;      // <id>.sql
  std::vector<std::string> down;    // <id>.down.sql
  std::vector<std::string> script;  // any other *.sql
};

Result<DirListing> ListSources(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return NotFound("migrations directory " + dir + " does not exist");
  if (!fs::is_directory(dir, ec)) {
    return InvalidArgument("migrations directory " + dir + " is not a directory");
  }
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) names.push_back(it->path().filename().string());
  }
  if (ec) return ErrnoStatus(ec.value(), "list migrations directory", dir);
  std::sort(names.begin(), names.end());
  DirListing out;
  for (const std::string& name : names) {
    if (!EndsWith(name, kUpSuffix)) continue;  // README and the like
    std::string path = (fs::path(dir) / name).string();
    std::string_view base(name);
    if (EndsWith(base, kDownSuffix) &&
        IsMigrationId(base.substr(0, base.size() - kDownSuffix.size()))) {
      out.down.push_back(path);
    } else if (IsMigrationId(base.substr(0, base.size() - kUpSuffix.size()))) {
      out.up.push_back(path);
    } else {
      out.script.push_back(path);
    }
  }
  return out;
}

Status AddMigration(std::map<std::string, Migration>& by_id, Migration m) {
  auto [it, inserted] = by_id.try_emplace(m.id, m);
  if (inserted) return Status::Ok();
  return Refused("migration " + m.id + " is defined twice: in " + it->second.file + " and in " +
                 m.file + "; keep one of them");
}

Status AttachDown(std::map<std::string, Migration>& by_id, const std::string& path) {
  std::string base = BaseName(path);
  std::string id = base.substr(0, base.size() - kDownSuffix.size());
  auto it = by_id.find(id);
  if (it == by_id.end()) {
    return Refused(path + ": down file without its migration (no " + id +
                   ".sql and no EF script defines " + id + "); add the migration or remove it");
  }
  AURA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  AURA_ASSIGN_OR_RETURN(it->second.down, ParseDownFile(text, path, id));
  it->second.down_file = path;
  it->second.down_sha256 = HexSha256(text);
  return Status::Ok();
}

}  // namespace

bool IsMigrationId(std::string_view id) {
  if (id.size() < 16 || id[14] != '_') return false;
  for (size_t i = 0; i < 14; ++i) {
    if (id[i] < '0' || id[i] > '9') return false;
  }
  return std::all_of(id.begin() + 15, id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<Migration> ParseMigrationFile(std::string_view text, const std::string& file) {
  std::string base = BaseName(file);
  std::string id =
      EndsWith(base, kUpSuffix) ? base.substr(0, base.size() - kUpSuffix.size()) : base;
  if (!IsMigrationId(id)) {
    return Refused(file + ": not a migration file name (<14 digits>_<Name>.sql); rename it");
  }
  Migration m;
  m.id = id;
  m.name = id.substr(15);
  m.file = file;
  AURA_ASSIGN_OR_RETURN(m.up, ParseOwnFile(text, file, id, Role::kUp));
  m.line = m.up.empty() ? 1 : m.up.front().line;
  m.sha256 = HexSha256(text);
  return m;
}

Result<std::vector<SqlStatement>> ParseDownFile(std::string_view text, const std::string& file,
                                                const std::string& id) {
  return ParseOwnFile(text, file, id, Role::kDown);
}

Result<std::vector<Migration>> LoadMigrations(const std::string& dir) {
  AURA_ASSIGN_OR_RETURN(DirListing listing, ListSources(dir));
  std::map<std::string, Migration> by_id;
  for (const std::string& path : listing.up) {
    AURA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
    AURA_ASSIGN_OR_RETURN(Migration m, ParseMigrationFile(text, path));
    AURA_RETURN_IF_ERROR(AddMigration(by_id, std::move(m)));
  }
  for (const std::string& path : listing.script) {
    AURA_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
    AURA_ASSIGN_OR_RETURN(std::vector<Migration> ms, ParseEfScript(text, path));
    for (Migration& m : ms) AURA_RETURN_IF_ERROR(AddMigration(by_id, std::move(m)));
  }
  for (const std::string& path : listing.down) AURA_RETURN_IF_ERROR(AttachDown(by_id, path));
  std::vector<Migration> out;
  out.reserve(by_id.size());
  for (auto& [id, m] : by_id) out.push_back(std::move(m));
  return out;
}

}  // namespace aura::migrations
