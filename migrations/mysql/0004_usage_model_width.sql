-- Model ids may be up to 256 bytes (SPEC §2.3; longer ones are refused with a 400 at the
-- front door). The usage columns were 128 characters wide, so a long but valid id made MariaDB
-- refuse the whole batch ("Data too long for column"). shared/src/db/columns.rs holds every
-- width; a test compares it with this schema.
ALTER TABLE usage_logs MODIFY model VARCHAR(256) NOT NULL DEFAULT '',
    MODIFY upstream_model VARCHAR(256) NOT NULL DEFAULT '';
ALTER TABLE usage_daily MODIFY model VARCHAR(256) NOT NULL;
ALTER TABLE usage_hourly MODIFY model VARCHAR(256) NOT NULL;
