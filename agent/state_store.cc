#include "agent/state_store.h"

#include "common/file_io.h"
#include "common/hashing.h"

namespace aura::agent {

namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS jobs(
  database TEXT NOT NULL, job TEXT NOT NULL,
  last_occurrence_us INTEGER, first_seen_us INTEGER NOT NULL,
  last_run_us INTEGER, last_ok_us INTEGER, last_result TEXT, last_error TEXT,
  last_duration_ms INTEGER, last_size INTEGER, last_snapshot TEXT,
  PRIMARY KEY(database, job));
CREATE TABLE IF NOT EXISTS chains(
  database TEXT NOT NULL, target TEXT NOT NULL, policy TEXT NOT NULL,
  snapshot TEXT NOT NULL, length INTEGER NOT NULL, pages BLOB NOT NULL,
  PRIMARY KEY(database, target, policy));
CREATE TABLE IF NOT EXISTS verified(
  database TEXT NOT NULL, target TEXT NOT NULL, snapshot TEXT NOT NULL, verified_us INTEGER,
  PRIMARY KEY(database, target, snapshot));
CREATE TABLE IF NOT EXISTS drills(
  database TEXT NOT NULL, target TEXT NOT NULL, finished_us INTEGER NOT NULL,
  outcome TEXT NOT NULL, reason TEXT NOT NULL, point TEXT NOT NULL, restored TEXT NOT NULL,
  txid INTEGER NOT NULL, rto_ms INTEGER NOT NULL, rpo_ms INTEGER);
CREATE TABLE IF NOT EXISTS object_checks(
  database TEXT NOT NULL, target TEXT NOT NULL, item TEXT NOT NULL,
  verified_us INTEGER NOT NULL, ok INTEGER NOT NULL, error TEXT NOT NULL,
  PRIMARY KEY(database, target, item));
)";

std::optional<TimePoint> OptTime(const Statement& st, int col) {
  if (st.ColumnType(col) == SQLITE_NULL) return std::nullopt;
  return FromUnixMicros(st.ColumnInt64(col));
}

}  // namespace

Result<StateDirLock> StateDirLock::Acquire(const std::string& state_dir) {
  AURA_RETURN_IF_ERROR(CreatePrivateDirectories(state_dir));
  std::string path = state_dir + "/agent.lock";
  Result<platform::FileLock> lock = platform::FileLock::TryAcquire(path);
  if (!lock.ok() && lock.status().code() == Code::kBusy) {
    return AlreadyExists("another aura-agent is running with the state directory " + state_dir +
                         " (its pid is in " + path + ")");
  }
  AURA_RETURN_IF_ERROR(lock.status());
  (void)lock->Write(std::to_string(platform::ProcessId()) + "\n");
  return StateDirLock(std::move(*lock));
}

Result<std::unique_ptr<StateStore>> StateStore::Open(const std::string& state_dir) {
  AURA_RETURN_IF_ERROR(CreatePrivateDirectories(state_dir));
  std::unique_ptr<StateStore> s(new StateStore());
  s->path_ = state_dir + "/agent.db";
  AURA_ASSIGN_OR_RETURN(s->db_, SqliteDb::OpenOrCreatePrivate(s->path_, 5000));
  AURA_RETURN_IF_ERROR(s->db_.Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"));
  AURA_ASSIGN_OR_RETURN(int64_t version, s->db_.QueryInt("PRAGMA user_version"));
  if (version > kSchemaVersion) {
    return Unsupported("state database " + s->path_ +
                       " was written by a newer aura-agent "
                       "(schema " +
                       std::to_string(version) + "); upgrade the agent");
  }
  AURA_RETURN_IF_ERROR(s->db_.Exec(kSchema));
  AURA_RETURN_IF_ERROR(s->db_.Exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)));
  return s;
}

Result<JobRecord> StateStore::Job(const std::string& database, const std::string& job,
                                  TimePoint now) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement ins,
      db_.Prepare("INSERT OR IGNORE INTO jobs(database, job, first_seen_us) VALUES(?, ?, ?)"));
  AURA_RETURN_IF_ERROR(ins.BindAll(database, job, ToUnixMicros(now)));
  AURA_RETURN_IF_ERROR(ins.Step().status());
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare("SELECT last_occurrence_us, first_seen_us, last_run_us, last_ok_us, last_result, "
                  "last_error, last_duration_ms, last_size, last_snapshot FROM jobs "
                  "WHERE database = ? AND job = ?"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, job));
  AURA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return InternalError("state: job row vanished");
  JobRecord r;
  r.last_occurrence = OptTime(st, 0);
  r.first_seen = FromUnixMicros(st.ColumnInt64(1));
  r.last_run = OptTime(st, 2);
  r.last_ok = OptTime(st, 3);
  r.last_result = st.ColumnText(4);
  r.last_error = st.ColumnText(5);
  r.last_duration_ms = st.ColumnInt64(6);
  r.last_size = static_cast<uint64_t>(st.ColumnInt64(7));
  r.last_snapshot = st.ColumnText(8);
  return r;
}

Status StateStore::SetOccurrence(const std::string& database, const std::string& job,
                                 TimePoint occurrence) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare("INSERT INTO jobs(database, job, first_seen_us, last_occurrence_us) VALUES(?1, "
                  "?2, ?3, ?3) "
                  "ON CONFLICT(database, job) DO UPDATE SET last_occurrence_us = ?3"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, job, ToUnixMicros(occurrence)));
  return st.Step().status();
}

Status StateStore::RecordRun(const std::string& database, const std::string& job,
                             TimePoint finished, const Status& result, int64_t duration_ms,
                             uint64_t size, const std::string& snapshot) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st, db_.Prepare("INSERT INTO jobs(database, job, first_seen_us) VALUES(?1, ?2, ?3) "
                                "ON CONFLICT(database, job) DO NOTHING"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, job, ToUnixMicros(finished)));
  AURA_RETURN_IF_ERROR(st.Step().status());
  AURA_ASSIGN_OR_RETURN(
      Statement up,
      db_.Prepare(
          "UPDATE jobs SET last_run_us = ?3, last_result = ?4, last_error = ?5, "
          "last_duration_ms = ?6, last_ok_us = CASE WHEN ?4 = 'ok' THEN ?3 ELSE last_ok_us END, "
          "last_size = CASE WHEN ?4 = 'ok' THEN ?7 ELSE last_size END, "
          "last_snapshot = CASE WHEN ?4 = 'ok' AND ?8 <> '' THEN ?8 ELSE last_snapshot END "
          "WHERE database = ?1 AND job = ?2"));
  AURA_RETURN_IF_ERROR(up.BindAll(database, job, ToUnixMicros(finished),
                                  result.ok() ? "ok" : "error", result.ok() ? "" : result.message(),
                                  duration_ms, size, snapshot));
  return up.Step().status();
}

Result<std::optional<ChainRecord>> StateStore::Chain(const std::string& database,
                                                     const std::string& target,
                                                     const std::string& policy) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare(
          "SELECT snapshot, length, pages FROM chains WHERE database = ? AND target = ? AND "
          "policy = ?"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, target, policy));
  AURA_ASSIGN_OR_RETURN(bool row, st.Step());
  if (!row) return std::optional<ChainRecord>();
  ChainRecord c;
  c.snapshot_id = st.ColumnText(0);
  c.length = static_cast<int>(st.ColumnInt64(1));
  AURA_ASSIGN_OR_RETURN(c.pages, backup::PageState::Parse(st.ColumnBlob(2)));
  return std::optional<ChainRecord>(std::move(c));
}

Status StateStore::PutChain(const std::string& database, const std::string& target,
                            const std::string& policy, const ChainRecord& chain) {
  std::string blob = chain.pages.Serialize();
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare(
          "INSERT OR REPLACE INTO chains(database, target, policy, snapshot, length, pages) "
          "VALUES(?, ?, ?, ?, ?, ?)"));
  AURA_RETURN_IF_ERROR(
      st.BindAll(database, target, policy, chain.snapshot_id, chain.length, AsBytes(blob)));
  return st.Step().status();
}

Status StateStore::DropChain(const std::string& database, const std::string& target,
                             const std::string& policy) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare("DELETE FROM chains WHERE database = ? AND target = ? AND policy = ?"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, target, policy));
  return st.Step().status();
}

Status StateStore::MarkVerified(const std::string& database, const std::string& target,
                                const std::string& snapshot, TimePoint when) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare("INSERT OR REPLACE INTO verified(database, target, snapshot, verified_us) "
                  "VALUES(?, ?, ?, ?)"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, target, snapshot, ToUnixMicros(when)));
  return st.Step().status();
}

Result<std::set<std::string>> StateStore::Verified(const std::string& database,
                                                   const std::string& target) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st, db_.Prepare("SELECT snapshot FROM verified WHERE database = ? AND target = ?"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, target));
  std::set<std::string> out;
  for (;;) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.insert(st.ColumnText(0));
  }
  return out;
}

Status StateStore::RecordDrill(const std::string& database, const DrillRecord& d) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(
      Statement st,
      db_.Prepare("INSERT INTO drills(database, target, finished_us, outcome, reason, point, "
                  "restored, txid, rto_ms, rpo_ms) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, d.target, ToUnixMicros(d.finished), d.outcome, d.reason,
                                  d.point, d.restored, static_cast<int64_t>(d.txid), d.rto_ms,
                                  d.rpo_ms));
  return st.Step().status();
}

Result<std::vector<DrillRecord>> StateStore::Drills(const std::string& database, int limit) {
  std::lock_guard lock(mu_);
  AURA_ASSIGN_OR_RETURN(Statement st,
                        db_.Prepare("SELECT target, finished_us, outcome, reason, point, restored, "
                                    "txid, rto_ms, rpo_ms FROM drills WHERE database = ? "
                                    "ORDER BY finished_us DESC LIMIT ?"));
  AURA_RETURN_IF_ERROR(st.BindAll(database, int64_t{limit}));
  std::vector<DrillRecord> out;
  for (;;) {
    AURA_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) break;
    out.push_back({st.ColumnText(0), FromUnixMicros(st.ColumnInt64(1)), st.ColumnText(2),
                   st.ColumnText(3), st.ColumnText(4), st.ColumnText(5),
                   static_cast<uint64_t>(st.ColumnInt64(6)), st.ColumnInt64(7), st.ColumnInt64(8)});
  }
  return out;
}

}  // namespace aura::agent
