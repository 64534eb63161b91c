CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" (
    "MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY,
    "ProductVersion" TEXT NOT NULL
);

BEGIN TRANSACTION;

CREATE TABLE "RenderQueue" (
    "Id" TEXT NOT NULL CONSTRAINT "PK_RenderQueue" PRIMARY KEY,
    "ProjectId" TEXT NOT NULL,
    "EnqueuedAt" TEXT NOT NULL,
    "Attempts" INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT "FK_RenderQueue_ProjectStates_ProjectId" FOREIGN KEY ("ProjectId") REFERENCES "ProjectStates" ("Id") ON DELETE CASCADE
);

CREATE INDEX "IX_RenderQueue_ProjectId" ON "RenderQueue" ("ProjectId");

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20251215080000_AddRenderQueue', '8.0.11');

COMMIT;

BEGIN TRANSACTION;

ALTER TABLE "SceneStates" ADD "Notes" TEXT NULL;

INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion")
VALUES ('20251215080100_AddSceneNotes', '8.0.11');

COMMIT;
