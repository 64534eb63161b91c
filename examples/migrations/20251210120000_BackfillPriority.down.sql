UPDATE "ProjectStates" SET "Priority" = 0;
