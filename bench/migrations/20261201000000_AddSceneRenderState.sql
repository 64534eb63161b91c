-- Benchmark migration 1: a column with a default and an index on the largest table.
ALTER TABLE "SceneStates" ADD "RenderState" TEXT NOT NULL DEFAULT 'pending';

CREATE INDEX "IX_SceneStates_RenderState" ON "SceneStates" ("RenderState");
