-- When the account's last upstream error happened (epoch ms), shown with `last_error` by the
-- admin API; written with the other health columns.
ALTER TABLE accounts ADD COLUMN last_error_at BIGINT;
