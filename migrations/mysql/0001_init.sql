-- Initial schema (MySQL 8 / MariaDB 10.6+). Times are UTC epoch milliseconds; money is micro-USD.
-- Keep in step with ../sqlite/0001_init.sql (same tables, columns and indexes).
-- Foreign keys are table-level clauses: MySQL 8.0 silently ignores a REFERENCES written
-- inside a column definition (MariaDB honours both forms).

CREATE TABLE users (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username VARCHAR(64) NOT NULL,
    email VARCHAR(255),
    password_hash VARCHAR(255) NOT NULL,
    role VARCHAR(16) NOT NULL DEFAULT 'user',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    token_version BIGINT NOT NULL DEFAULT 0,
    last_login_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX users_username ON users (username);
CREATE UNIQUE INDEX users_email ON users (email);

CREATE TABLE `groups` (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(64) NOT NULL,
    description VARCHAR(255) NOT NULL DEFAULT '',
    owner_id BIGINT,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX groups_name ON `groups` (name);
CREATE INDEX groups_owner ON `groups` (owner_id);

CREATE TABLE group_members (
    group_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (group_id) REFERENCES `groups` (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE accounts (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(128) NOT NULL,
    platform_type VARCHAR(32) NOT NULL,
    group_id BIGINT NOT NULL,
    request_url VARCHAR(512) NOT NULL DEFAULT '',
    secret_enc TEXT,
    secret_hint VARCHAR(64) NOT NULL DEFAULT '',
    access_token_enc TEXT,
    refresh_token_enc TEXT,
    token_expires_at BIGINT,
    auth_header VARCHAR(16) NOT NULL DEFAULT 'both',
    priority BIGINT NOT NULL DEFAULT 100,
    weight BIGINT NOT NULL DEFAULT 100,
    max_concurrency BIGINT NOT NULL DEFAULT 0,
    allowed_models TEXT NOT NULL,
    model_mapping TEXT NOT NULL,
    proxy_url_enc TEXT,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    state VARCHAR(16) NOT NULL DEFAULT 'active',
    state_reason VARCHAR(512) NOT NULL DEFAULT '',
    cooldown_until BIGINT,
    last_error TEXT,
    last_used_at BIGINT,
    notes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (group_id) REFERENCES `groups` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX accounts_group ON accounts (group_id);
CREATE INDEX accounts_state ON accounts (state);

CREATE TABLE api_keys (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    name VARCHAR(128) NOT NULL,
    key_hash CHAR(64) NOT NULL,
    key_prefix VARCHAR(32) NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    expires_at BIGINT,
    allowed_models TEXT NOT NULL,
    daily_limit_micro_usd BIGINT NOT NULL DEFAULT 0,
    total_limit_micro_usd BIGINT NOT NULL DEFAULT 0,
    rpm_limit BIGINT NOT NULL DEFAULT 0,
    concurrency_limit BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (group_id) REFERENCES `groups` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX api_keys_hash ON api_keys (key_hash);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE INDEX api_keys_group ON api_keys (group_id);

CREATE TABLE usage_logs (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    request_id VARCHAR(64) NOT NULL,
    created_at BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    api_key_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    account_id BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    route_reason VARCHAR(32) NOT NULL DEFAULT '',
    sticky BOOLEAN NOT NULL DEFAULT FALSE,
    model VARCHAR(128) NOT NULL DEFAULT '',
    upstream_model VARCHAR(128) NOT NULL DEFAULT '',
    stream BOOLEAN NOT NULL DEFAULT FALSE,
    status_code BIGINT NOT NULL,
    outcome VARCHAR(16) NOT NULL,
    error_type VARCHAR(64),
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_creation_5m_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_creation_1h_input_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micro_usd BIGINT NOT NULL DEFAULT 0,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    ttfb_ms BIGINT,
    client_ip VARCHAR(64) NOT NULL DEFAULT '',
    user_agent VARCHAR(255) NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE UNIQUE INDEX usage_logs_request ON usage_logs (request_id);
CREATE INDEX usage_logs_created ON usage_logs (created_at);
CREATE INDEX usage_logs_key_created ON usage_logs (api_key_id, created_at);
CREATE INDEX usage_logs_user_created ON usage_logs (user_id, created_at);
CREATE INDEX usage_logs_account_created ON usage_logs (account_id, created_at);
CREATE INDEX usage_logs_model_created ON usage_logs (model, created_at);
CREATE INDEX usage_logs_status_created ON usage_logs (status_code, created_at);

-- Roll-ups: one row per (bucket, key, account, model); account_id 0 = no account reached.
CREATE TABLE usage_daily (
    day CHAR(10) NOT NULL,
    api_key_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    model VARCHAR(128) NOT NULL,
    user_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_creation_5m_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_creation_1h_input_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micro_usd BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, api_key_id, account_id, model)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX usage_daily_key ON usage_daily (api_key_id, day);
CREATE INDEX usage_daily_user ON usage_daily (user_id, day);
CREATE INDEX usage_daily_account ON usage_daily (account_id, day);

CREATE TABLE usage_hourly (
    hour_start BIGINT NOT NULL,
    api_key_id BIGINT NOT NULL,
    account_id BIGINT NOT NULL,
    model VARCHAR(128) NOT NULL,
    user_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    requests BIGINT NOT NULL DEFAULT 0,
    errors BIGINT NOT NULL DEFAULT 0,
    input_tokens BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cache_read_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_creation_5m_input_tokens BIGINT NOT NULL DEFAULT 0,
    cache_creation_1h_input_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micro_usd BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (hour_start, api_key_id, account_id, model)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX usage_hourly_key ON usage_hourly (api_key_id, hour_start);
CREATE INDEX usage_hourly_user ON usage_hourly (user_id, hour_start);

CREATE TABLE oauth_sessions (
    state VARCHAR(128) PRIMARY KEY,
    code_verifier_enc TEXT NOT NULL,
    created_by BIGINT NOT NULL,
    draft TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
CREATE INDEX oauth_sessions_expires ON oauth_sessions (expires_at);

CREATE TABLE settings (
    name VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
INSERT INTO settings (name, value, version, updated_at) VALUES ('change_version', '', 1, 0);
