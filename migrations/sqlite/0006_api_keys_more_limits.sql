-- The limits users of every peer ask for (SPEC §4): spend over a rolling five hours, since
-- Monday and since the first of the month (micro-USD; 0 = none).
ALTER TABLE api_keys ADD COLUMN limit_5h_micro_usd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN weekly_limit_micro_usd BIGINT NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN monthly_limit_micro_usd BIGINT NOT NULL DEFAULT 0;
