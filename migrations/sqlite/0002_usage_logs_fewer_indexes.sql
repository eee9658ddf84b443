-- Every usage row is written into each index of usage_logs; the log list filters by model and
-- status through the time index instead (those filters narrow a time range, they never start
-- one), so these two indexes cost more per relayed request than they return.
DROP INDEX IF EXISTS usage_logs_model_created;
DROP INDEX IF EXISTS usage_logs_status_created;
