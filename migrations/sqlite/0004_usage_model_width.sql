-- MySQL widens the model columns to 256 characters in this version. SQLite does not enforce
-- VARCHAR widths, so nothing changes here; the file keeps both backends at the same version.
SELECT 1;
