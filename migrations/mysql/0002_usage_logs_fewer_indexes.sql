-- Every usage row is written into each index of usage_logs; the log list filters by model and
-- status through the time index instead (those filters narrow a time range, they never start
-- one), so these two indexes cost more per relayed request than they return.
DROP INDEX usage_logs_model_created ON usage_logs;
DROP INDEX usage_logs_status_created ON usage_logs;
