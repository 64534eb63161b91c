#include "tests/tools/aura_dataset.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <vector>

#include "common/hashing.h"

namespace aura::testtools {

namespace {

const char* const kWords[] = {
    "scene",     "camera",  "narration",  "voice",    "music", "fade",  "cut",    "transition",
    "title",     "render",  "export",     "timeline", "clip",  "audio", "video",  "frame",
    "color",     "grade",   "caption",    "subtitle", "intro", "outro", "brief",  "plan",
    "voiceover", "b-roll",  "storyboard", "pacing",   "hook",  "tone",  "script", "draft",
    "review",    "publish", "thumbnail",  "aspect"};
constexpr size_t kWordCount = sizeof(kWords) / sizeof(kWords[0]);

const char kSchema[] = R"sql(
CREATE TABLE "__EFMigrationsHistory" ("MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
  "ProductVersion" TEXT NOT NULL);
CREATE TABLE ProjectStates (Id TEXT NOT NULL PRIMARY KEY, Title TEXT NOT NULL, Description TEXT,
  CurrentWizardStep INTEGER NOT NULL, Status TEXT NOT NULL, CreatedAt TEXT NOT NULL, UpdatedAt TEXT NOT NULL,
  CompletedAt TEXT, IsDeleted INTEGER NOT NULL DEFAULT 0, DeletedAt TEXT, DeletedBy TEXT, CreatedBy TEXT,
  ModifiedBy TEXT, CurrentStage TEXT, ProgressPercent INTEGER NOT NULL, JobId TEXT, BriefJson TEXT,
  PlanSpecJson TEXT, VoiceSpecJson TEXT, RenderSpecJson TEXT, ErrorMessage TEXT);
CREATE INDEX IX_ProjectStates_Status_UpdatedAt ON ProjectStates(Status, UpdatedAt);
CREATE INDEX IX_ProjectStates_JobId ON ProjectStates(JobId);
CREATE TABLE SceneStates (Id TEXT NOT NULL PRIMARY KEY,
  ProjectId TEXT NOT NULL REFERENCES ProjectStates(Id) ON DELETE CASCADE, SceneIndex INTEGER NOT NULL,
  ScriptText TEXT NOT NULL, AudioFilePath TEXT, ImageFilePath TEXT, DurationSeconds REAL NOT NULL,
  IsCompleted INTEGER NOT NULL, CreatedAt TEXT NOT NULL);
CREATE INDEX IX_SceneStates_ProjectId_SceneIndex ON SceneStates(ProjectId, SceneIndex);
CREATE TABLE AssetStates (Id TEXT NOT NULL PRIMARY KEY,
  ProjectId TEXT NOT NULL REFERENCES ProjectStates(Id) ON DELETE CASCADE, AssetType TEXT NOT NULL,
  FilePath TEXT NOT NULL, FileSizeBytes INTEGER NOT NULL, MimeType TEXT, IsTemporary INTEGER NOT NULL,
  CreatedAt TEXT NOT NULL);
CREATE INDEX IX_AssetStates_ProjectId_AssetType ON AssetStates(ProjectId, AssetType);
CREATE TABLE ProjectVersions (Id TEXT NOT NULL PRIMARY KEY,
  ProjectId TEXT NOT NULL REFERENCES ProjectStates(Id) ON DELETE CASCADE, VersionNumber INTEGER NOT NULL,
  Name TEXT, Description TEXT, VersionType TEXT NOT NULL, "Trigger" TEXT, CreatedAt TEXT NOT NULL,
  BriefHash TEXT, PlanHash TEXT, VoiceHash TEXT, RenderHash TEXT, TimelineHash TEXT,
  StorageSizeBytes INTEGER NOT NULL, IsMarkedImportant INTEGER NOT NULL, IsDeleted INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX IX_ProjectVersions_ProjectId_VersionNumber ON ProjectVersions(ProjectId, VersionNumber);
CREATE TABLE ContentBlobs (ContentHash TEXT NOT NULL PRIMARY KEY, Content TEXT NOT NULL,
  ContentType TEXT NOT NULL, SizeBytes INTEGER NOT NULL, CreatedAt TEXT NOT NULL,
  LastReferencedAt TEXT NOT NULL, ReferenceCount INTEGER NOT NULL);
CREATE TABLE ExportHistory (Id TEXT NOT NULL PRIMARY KEY, InputFile TEXT NOT NULL, OutputFile TEXT NOT NULL,
  PresetName TEXT NOT NULL, Status TEXT NOT NULL, Progress REAL NOT NULL, CreatedAt TEXT NOT NULL,
  StartedAt TEXT, CompletedAt TEXT, ErrorMessage TEXT, FileSize INTEGER, DurationSeconds REAL,
  Platform TEXT, Resolution TEXT, Codec TEXT);
CREATE TABLE ActionLogs (Id TEXT NOT NULL PRIMARY KEY, UserId TEXT NOT NULL, ActionType TEXT NOT NULL,
  Description TEXT NOT NULL, PayloadJson TEXT, CreatedAt TEXT NOT NULL);
CREATE INDEX IX_ActionLogs_CreatedAt ON ActionLogs(CreatedAt);
INSERT INTO "__EFMigrationsHistory" VALUES ('20251110000000_InitialCreate', '8.0.11');
)sql";

template <size_t N>
const char* Pick(Rng& r, const char* const (&options)[N]) {
  return options[r.Below(N)];
}

std::string User(Rng& r) { return "user-" + std::to_string(1 + r.Below(50)); }

// Binds values in order to a prepared statement and runs it.
class Inserter {
 public:
  explicit Inserter(Statement& st) : st_(st) {}
  Inserter& Text(const std::string& v) {
    s_ = ok() ? st_.BindText(++i_, v) : s_;
    return *this;
  }
  Inserter& Int(int64_t v) {
    s_ = ok() ? st_.BindInt64(++i_, v) : s_;
    return *this;
  }
  Inserter& Real(double v) {
    if (ok()) {
      int rc = sqlite3_bind_double(st_.get(), ++i_, v);
      if (rc != SQLITE_OK) s_ = InternalError("bind double");
    }
    return *this;
  }
  Inserter& Null() {
    s_ = ok() ? st_.BindNull(++i_) : s_;
    return *this;
  }
  Status Run() {
    if (!ok()) return s_;
    auto r = st_.Step();
    Status reset = st_.Reset();
    return r.ok() ? reset : r.status();
  }

 private:
  bool ok() const { return s_.ok(); }
  Statement& st_;
  int i_ = 0;
  Status s_;
};

struct Statements {
  Statement project, scene, asset, version, blob, log, export_;
};

Result<Statements> Prepare(SqliteDb& db) {
  Statements s;
  AURA_ASSIGN_OR_RETURN(
      s.project,
      db.Prepare(
          "INSERT INTO ProjectStates VALUES(?,?,?,?,?,?,?,?,0,NULL,NULL,?,?,?,?,?,?,?,?,?,NULL)"));
  AURA_ASSIGN_OR_RETURN(s.scene, db.Prepare("INSERT INTO SceneStates VALUES(?,?,?,?,?,?,?,?,?)"));
  AURA_ASSIGN_OR_RETURN(s.asset, db.Prepare("INSERT INTO AssetStates VALUES(?,?,?,?,?,?,?,?)"));
  AURA_ASSIGN_OR_RETURN(
      s.version, db.Prepare("INSERT INTO ProjectVersions VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)"));
  AURA_ASSIGN_OR_RETURN(s.blob,
                        db.Prepare("INSERT OR IGNORE INTO ContentBlobs VALUES(?,?,?,?,?,?,1)"));
  AURA_ASSIGN_OR_RETURN(s.log, db.Prepare("INSERT INTO ActionLogs VALUES(?,?,?,?,?,?)"));
  AURA_ASSIGN_OR_RETURN(
      s.export_, db.Prepare("INSERT INTO ExportHistory VALUES(?,?,?,?,?,?,?,?,?,NULL,?,?,?,?,?)"));
  return s;
}

Status InsertProject(Statements& st, Rng& r, const std::string& pid, const std::string& now) {
  static const char* const kStatus[] = {"InProgress", "Completed", "Failed"};
  static const char* const kStage[] = {"Script", "TTS", "Images", "Composition", "Render"};
  std::string brief = "{\"topic\": \"" + r.Words(6) + "\", \"audience\": \"" + r.Words(3) +
                      "\", \"goal\": \"" + r.Words(12) + "\", \"tone\": \"" + r.Words(1) + "\"}";
  std::string plan = "{\"scenes\": [";
  for (int i = 0; i < 8; ++i) {
    plan += (i ? ", " : "") + std::string("{\"i\": ") + std::to_string(i) + ", \"beat\": \"" +
            r.Words(10) + "\"}";
  }
  plan += "], \"durationSec\": " + std::to_string(30 + r.Below(571)) + "}";
  return Inserter(st.project)
      .Text(pid)
      .Text(r.Words(4))
      .Text(r.Words(25))
      .Int(static_cast<int64_t>(r.Below(7)))
      .Text(Pick(r, kStatus))
      .Text(now)
      .Text(now)
      .Null()
      .Text(User(r))
      .Text(User(r))
      .Text(Pick(r, kStage))
      .Int(static_cast<int64_t>(r.Below(101)))
      .Text(r.Guid())
      .Text(brief)
      .Text(plan)
      .Text("{\"voice\": \"" + r.Words(1) + "\", \"rate\": 1.0}")
      .Text("{\"res\": \"1920x1080\", \"fps\": 30, \"codec\": \"h264\"}")
      .Run();
}

Status InsertChildren(Statements& st, Rng& r, const std::string& pid, const std::string& now) {
  static const char* const kAssetType[] = {"Audio", "Image", "Video", "Subtitle"};
  static const char* const kMime[] = {"audio/wav", "image/png", "video/mp4"};
  static const char* const kVersionType[] = {"Manual", "Autosave", "RestorePoint"};
  static const char* const kTrigger[] = {"save", "timer", "render"};
  for (int i = 0; i < 12; ++i) {
    AURA_RETURN_IF_ERROR(Inserter(st.scene)
                             .Text(r.Guid())
                             .Text(pid)
                             .Int(i)
                             .Text(r.Words(140))
                             .Text("/media/" + pid + "/a" + std::to_string(i) + ".wav")
                             .Text("/media/" + pid + "/i" + std::to_string(i) + ".png")
                             .Real(2 + 58 * r.Unit())
                             .Int(static_cast<int64_t>(r.Below(2)))
                             .Text(now)
                             .Run());
  }
  for (int i = 0; i < 8; ++i) {
    AURA_RETURN_IF_ERROR(Inserter(st.asset)
                             .Text(r.Guid())
                             .Text(pid)
                             .Text(Pick(r, kAssetType))
                             .Text("/media/" + pid + "/" + r.Guid())
                             .Int(10000 + static_cast<int64_t>(r.Below(900000000)))
                             .Text(Pick(r, kMime))
                             .Int(static_cast<int64_t>(r.Below(2)))
                             .Text(now)
                             .Run());
  }
  for (int v = 0; v < 4; ++v) {
    Inserter ins(st.version);
    ins.Text(r.Guid())
        .Text(pid)
        .Int(v + 1)
        .Text(r.Words(3))
        .Text(r.Words(10))
        .Text(Pick(r, kVersionType))
        .Text(Pick(r, kTrigger))
        .Text(now);
    for (int h = 0; h < 5; ++h) ins.Text(r.Hex(32));
    AURA_RETURN_IF_ERROR(ins.Int(1000 + static_cast<int64_t>(r.Below(89001)))
                             .Int(static_cast<int64_t>(r.Below(2)))
                             .Run());
    std::string content = "{\"timeline\": [";
    for (int c = 0; c < 6; ++c) {
      content += (c ? ", " : "") + std::string("{\"clip\": \"") + r.Guid() +
                 "\", \"in\": " + std::to_string(r.Unit()) + ", \"note\": \"" + r.Words(20) + "\"}";
    }
    content += "]}";
    AURA_RETURN_IF_ERROR(Inserter(st.blob)
                             .Text(HexEncode(Sha256::Of(content)))
                             .Text(content)
                             .Text("Timeline")
                             .Int(static_cast<int64_t>(content.size()))
                             .Text(now)
                             .Text(now)
                             .Run());
  }
  return Status::Ok();
}

Status InsertLogsAndExport(Statements& st, Rng& r, const std::string& pid, const std::string& now) {
  static const char* const kAction[] = {"Edit", "Move", "Trim", "Add", "Delete"};
  for (int i = 0; i < 30; ++i) {
    std::string payload = "{\"before\": \"" + r.Words(6) + "\", \"after\": \"" + r.Words(6) +
                          "\", \"ids\": [\"" + r.Guid() + "\", \"" + r.Guid() + "\"]}";
    AURA_RETURN_IF_ERROR(Inserter(st.log)
                             .Text(r.Guid())
                             .Text(User(r))
                             .Text(Pick(r, kAction))
                             .Text(r.Words(8))
                             .Text(payload)
                             .Text(r.Timestamp())
                             .Run());
  }
  static const char* const kPreset[] = {"YouTube 1080p", "TikTok"};
  static const char* const kPlatform[] = {"youtube", "tiktok"};
  return Inserter(st.export_)
      .Text(r.Guid())
      .Text("/media/" + pid + "/in.mp4")
      .Text("/exports/" + pid + ".mp4")
      .Text(Pick(r, kPreset))
      .Text("Completed")
      .Real(100.0)
      .Text(now)
      .Text(now)
      .Text(now)
      .Int(1000000 + static_cast<int64_t>(r.Below(999000000)))
      .Real(10 + 890 * r.Unit())
      .Text(Pick(r, kPlatform))
      .Text("1920x1080")
      .Text("h264")
      .Run();
}

uint64_t FileSize(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::string StepTime(uint64_t step) {
  // 2026-01-01T00:00:00Z plus `step` seconds.
  int64_t t = 1767225600 + static_cast<int64_t>(step);
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string Rng::Guid() {
  uint64_t a = Next(), b = Next();
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", uint32_t(a >> 32),
                uint32_t(a >> 16) & 0xffff, uint32_t(a) & 0xffff, uint32_t(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffull));
  return buf;
}

std::string Rng::Words(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[Below(kWordCount)];
  }
  return s;
}

std::string Rng::Timestamp() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "2025-%02d-%02dT%02d:%02d:%02dZ", int(1 + Below(11)),
                int(1 + Below(28)), int(Below(24)), int(Below(60)), int(Below(60)));
  return buf;
}

std::string Rng::Hex(int bytes) {
  std::vector<uint8_t> b(bytes);
  for (auto& x : b) x = static_cast<uint8_t>(Next());
  return HexEncode(b);
}

Result<AuraDbStats> GenerateAuraDb(const AuraDbOptions& o) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((o.path + suffix).c_str());
  AURA_ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::OpenOrCreate(o.path, 5000));
  AURA_RETURN_IF_ERROR(db.Exec(o.wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE"));
  AURA_RETURN_IF_ERROR(db.Exec("PRAGMA synchronous=OFF"));
  AURA_RETURN_IF_ERROR(db.Exec(kSchema));
  AURA_ASSIGN_OR_RETURN(Statements st, Prepare(db));
  Rng r(o.seed);
  AuraDbStats stats;
  for (bool done = false; !done;) {
    AURA_RETURN_IF_ERROR(db.Exec("BEGIN"));
    for (int i = 0; i < 25; ++i, ++stats.projects) {
      std::string pid = r.Guid(), now = r.Timestamp();
      AURA_RETURN_IF_ERROR(InsertProject(st, r, pid, now));
      AURA_RETURN_IF_ERROR(InsertChildren(st, r, pid, now));
      AURA_RETURN_IF_ERROR(InsertLogsAndExport(st, r, pid, now));
    }
    AURA_RETURN_IF_ERROR(db.Exec("COMMIT"));
    done = FileSize(o.path) + FileSize(o.path + "-wal") >= o.size_bytes;
  }
  if (o.wal) AURA_RETURN_IF_ERROR(db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  st = Statements();
  AURA_RETURN_IF_ERROR(db.Close());
  stats.file_bytes = FileSize(o.path);
  return stats;
}

Status PrepareWorkload(SqliteDb& db) {
  return db.Exec("CREATE TABLE IF NOT EXISTS WorkloadTicks(Step INTEGER PRIMARY KEY, Note TEXT)");
}

namespace {

Status WorkloadBody(SqliteDb& db, Rng& r, uint64_t step) {
  const std::string ts = StepTime(step);
  AURA_ASSIGN_OR_RETURN(Statement tick,
                        db.Prepare("INSERT INTO WorkloadTicks(Step, Note) VALUES(?, ?)"));
  AURA_RETURN_IF_ERROR(Inserter(tick).Int(static_cast<int64_t>(step)).Text(r.Words(5)).Run());
  AURA_ASSIGN_OR_RETURN(Statement log, db.Prepare("INSERT INTO ActionLogs VALUES(?,?,?,?,?,?)"));
  for (uint64_t i = 0, n = 1 + r.Below(3); i < n; ++i) {
    AURA_RETURN_IF_ERROR(Inserter(log)
                             .Text(r.Guid())
                             .Text(User(r))
                             .Text("Edit")
                             .Text(r.Words(8))
                             .Text("{\"step\": " + std::to_string(step) + "}")
                             .Text(ts)
                             .Run());
  }
  AURA_ASSIGN_OR_RETURN(int64_t projects, db.QueryInt("SELECT count(*) FROM ProjectStates"));
  AURA_ASSIGN_OR_RETURN(
      Statement upd,
      db.Prepare(
          "UPDATE ProjectStates SET Status = ?, ProgressPercent = ?, UpdatedAt = ? WHERE rowid = "
          "(SELECT rowid FROM ProjectStates ORDER BY rowid LIMIT 1 OFFSET ?)"));
  for (int k = 0; k < 2 && projects > 0; ++k) {
    AURA_RETURN_IF_ERROR(Inserter(upd)
                             .Text(k ? "Completed" : "InProgress")
                             .Int(static_cast<int64_t>(r.Below(101)))
                             .Text(ts)
                             .Int(static_cast<int64_t>(r.Below(static_cast<uint64_t>(projects))))
                             .Run());
  }
  if (step % 7 == 0) {
    AURA_ASSIGN_OR_RETURN(int64_t logs, db.QueryInt("SELECT count(*) FROM ActionLogs"));
    if (logs > 0) {
      AURA_RETURN_IF_ERROR(db.Exec(
          "DELETE FROM ActionLogs WHERE rowid = (SELECT rowid FROM ActionLogs ORDER BY rowid "
          "LIMIT 1 OFFSET " +
          std::to_string(r.Below(static_cast<uint64_t>(logs))) + ")"));
    }
  }
  if (step % 13 == 0) {
    std::string content = r.Words(11000);  // ~64 KiB: overflow pages
    AURA_ASSIGN_OR_RETURN(
        Statement blob,
        db.Prepare("INSERT OR REPLACE INTO ContentBlobs VALUES(?,?,'Workload',?,?,?,1)"));
    AURA_RETURN_IF_ERROR(Inserter(blob)
                             .Text(HexEncode(Sha256::Of(content)))
                             .Text(content)
                             .Int(static_cast<int64_t>(content.size()))
                             .Text(ts)
                             .Text(ts)
                             .Run());
  }
  if (step % 50 == 0) {
    uint64_t k = step / 50;
    AURA_RETURN_IF_ERROR(
        db.Exec(k % 2 ? "CREATE TABLE IF NOT EXISTS WorkloadExtra_" + std::to_string(k) +
                            "(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO WorkloadExtra_" +
                            std::to_string(k) + "(v) VALUES('" + r.Words(4) + "')"
                      : "ALTER TABLE WorkloadTicks ADD COLUMN c" + std::to_string(k) + " TEXT"));
  }
  return Status::Ok();
}

}  // namespace

Status ApplyWorkloadStep(SqliteDb& db, uint64_t seed, uint64_t step) {
  Rng r(seed * 1000003u + step);
  AURA_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  Status s = WorkloadBody(db, r, step);
  if (!s.ok()) {
    (void)db.Exec("ROLLBACK");
    return s;
  }
  s = db.Exec("COMMIT");
  if (!s.ok()) (void)db.Exec("ROLLBACK");
  return s;
}

}  // namespace aura::testtools
