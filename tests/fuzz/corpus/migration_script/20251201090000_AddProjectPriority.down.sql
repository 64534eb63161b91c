DROP INDEX "IX_ProjectStates_Priority";

ALTER TABLE "ProjectStates" DROP COLUMN "Priority";
