-- A column with a default and an index on it: what `dotnet ef migrations add AddProjectPriority`
-- emits for a new int property with [Index].
ALTER TABLE "ProjectStates" ADD "Priority" INTEGER NOT NULL DEFAULT 0;

CREATE INDEX "IX_ProjectStates_Priority" ON "ProjectStates" ("Priority");
