-- The schema as the application's first EF Core migration created it (the database aura-make-db
-- creates already has it applied).
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

