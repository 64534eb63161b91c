ALTER TABLE "ProjectStates" RENAME COLUMN "Stage" TO "CurrentStage";
