-- A column rename by table rebuild, the way EF Core emits a change SQLite's ALTER TABLE cannot
-- make: copy into "ef_temp_ProjectStates", drop the old table, rename the copy. ProjectStates is
-- the parent of SceneStates, AssetStates and ProjectVersions (ON DELETE CASCADE): run with
-- foreign keys on, the DROP TABLE below deletes every child row. PRAGMA foreign_keys = 0 is a
-- no-op inside a transaction; aura-agent turns foreign keys off before its transaction.
CREATE TABLE "ef_temp_ProjectStates" (
    "Id" TEXT NOT NULL CONSTRAINT "PK_ProjectStates" PRIMARY KEY,
    "Title" TEXT NOT NULL,
    "Description" TEXT NULL,
    "CurrentWizardStep" INTEGER NOT NULL,
    "Status" TEXT NOT NULL,
    "CreatedAt" TEXT NOT NULL,
    "UpdatedAt" TEXT NOT NULL,
    "CompletedAt" TEXT NULL,
    "IsDeleted" INTEGER NOT NULL DEFAULT 0,
    "DeletedAt" TEXT NULL,
    "DeletedBy" TEXT NULL,
    "CreatedBy" TEXT NULL,
    "ModifiedBy" TEXT NULL,
    "Stage" TEXT NULL,
    "ProgressPercent" INTEGER NOT NULL,
    "JobId" TEXT NULL,
    "BriefJson" TEXT NULL,
    "PlanSpecJson" TEXT NULL,
    "VoiceSpecJson" TEXT NULL,
    "RenderSpecJson" TEXT NULL,
    "ErrorMessage" TEXT NULL,
    "Priority" INTEGER NOT NULL DEFAULT 0
);

INSERT INTO "ef_temp_ProjectStates" ("Id", "Title", "Description", "CurrentWizardStep", "Status", "CreatedAt", "UpdatedAt", "CompletedAt", "IsDeleted", "DeletedAt", "DeletedBy", "CreatedBy", "ModifiedBy", "Stage", "ProgressPercent", "JobId", "BriefJson", "PlanSpecJson", "VoiceSpecJson", "RenderSpecJson", "ErrorMessage", "Priority")
SELECT "Id", "Title", "Description", "CurrentWizardStep", "Status", "CreatedAt", "UpdatedAt", "CompletedAt", "IsDeleted", "DeletedAt", "DeletedBy", "CreatedBy", "ModifiedBy", "CurrentStage", "ProgressPercent", "JobId", "BriefJson", "PlanSpecJson", "VoiceSpecJson", "RenderSpecJson", "ErrorMessage", "Priority"
FROM "ProjectStates";

PRAGMA foreign_keys = 0;

DROP TABLE "ProjectStates";

ALTER TABLE "ef_temp_ProjectStates" RENAME TO "ProjectStates";

PRAGMA foreign_keys = 1;

CREATE INDEX "IX_ProjectStates_JobId" ON "ProjectStates" ("JobId");

CREATE INDEX "IX_ProjectStates_Priority" ON "ProjectStates" ("Priority");

CREATE INDEX "IX_ProjectStates_Status_UpdatedAt" ON "ProjectStates" ("Status", "UpdatedAt");
