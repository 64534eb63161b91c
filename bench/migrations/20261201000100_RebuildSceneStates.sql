-- Benchmark migration 2: EF Core's rebuild of the largest table (a column renamed, the way EF
-- emits changes SQLite's ALTER TABLE cannot make), indexes recreated.
CREATE TABLE "ef_temp_SceneStates" (
    "Id" TEXT NOT NULL CONSTRAINT "PK_SceneStates" PRIMARY KEY,
    "ProjectId" TEXT NOT NULL,
    "SceneIndex" INTEGER NOT NULL,
    "Script" TEXT NOT NULL,
    "AudioFilePath" TEXT NULL,
    "ImageFilePath" TEXT NULL,
    "DurationSeconds" REAL NOT NULL,
    "IsCompleted" INTEGER NOT NULL,
    "CreatedAt" TEXT NOT NULL,
    "RenderState" TEXT NOT NULL DEFAULT 'pending',
    CONSTRAINT "FK_SceneStates_ProjectStates_ProjectId" FOREIGN KEY ("ProjectId") REFERENCES "ProjectStates" ("Id") ON DELETE CASCADE
);

INSERT INTO "ef_temp_SceneStates" ("Id", "ProjectId", "SceneIndex", "Script", "AudioFilePath", "ImageFilePath", "DurationSeconds", "IsCompleted", "CreatedAt", "RenderState")
SELECT "Id", "ProjectId", "SceneIndex", "ScriptText", "AudioFilePath", "ImageFilePath", "DurationSeconds", "IsCompleted", "CreatedAt", "RenderState"
FROM "SceneStates";

DROP TABLE "SceneStates";

ALTER TABLE "ef_temp_SceneStates" RENAME TO "SceneStates";

CREATE INDEX "IX_SceneStates_ProjectId_SceneIndex" ON "SceneStates" ("ProjectId", "SceneIndex");

CREATE INDEX "IX_SceneStates_RenderState" ON "SceneStates" ("RenderState");
