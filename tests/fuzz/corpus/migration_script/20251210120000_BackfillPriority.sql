-- A data migration: failed projects first, then the ones in progress.
UPDATE "ProjectStates" SET "Priority" = CASE "Status"
    WHEN 'Failed' THEN 2
    WHEN 'InProgress' THEN 1
    ELSE 0 END;
