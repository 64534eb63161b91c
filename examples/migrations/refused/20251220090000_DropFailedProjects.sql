-- Refused by the data-loss guard: a rebuild (to drop a default, say) whose INSERT ... SELECT
-- was edited to skip failed projects. No DELETE names ProjectStates, yet it loses rows; run by
-- hand with foreign keys on, every scene, asset and version of the projects it skips goes too.
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
SELECT "Id", "Title", "Description", "CurrentWizardStep", "Status", "CreatedAt", "UpdatedAt", "CompletedAt", "IsDeleted", "DeletedAt", "DeletedBy", "CreatedBy", "ModifiedBy", "Stage", "ProgressPercent", "JobId", "BriefJson", "PlanSpecJson", "VoiceSpecJson", "RenderSpecJson", "ErrorMessage", "Priority"
FROM "ProjectStates"
WHERE "Status" <> 'Failed';

DROP TABLE "ProjectStates";

ALTER TABLE "ef_temp_ProjectStates" RENAME TO "ProjectStates";
