-- A usage row is identified by `row_key`, a random number the relay draws for each request,
-- instead of by `request_id`: the request id may be the client's own `x-request-id`, and a
-- client that sent the same id twice had its second request dropped by the unique index (not
-- logged and not billed). Replays of a batch whose write is in doubt skip the keys already
-- stored (looked up through the time index), so no unique index is needed. Rows written before
-- this migration keep row_key 0 and are matched by request_id, as before.
ALTER TABLE usage_logs ADD COLUMN row_key BIGINT NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS usage_logs_request;
