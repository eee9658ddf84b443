#!/usr/bin/env bash
# Imports the users, groups, accounts and API keys of the seed project (the Go
# claude-code-relay, MySQL) into a fresh Claude Code Relay database on the same MySQL server.
# README, "Upgrading from the seed project", says what carries over and what does not.
#
#   SEED_DB=claude_code_relay RELAY_DB=relay RELAY_URL=http://127.0.0.1:8080 \
#   RELAY_ADMIN_PASSWORD=... MYSQL_OPTS="-h 127.0.0.1 -u root -p..." \
#     deploy/seed-import/import-seed.sh
#
# - The relay must be running on RELAY_DB (started once, untouched since: only its `admin`).
# - Users are created through the admin API with a random first password each, written to
#   PASSWORDS_FILE (mode 0600; default ./seed-import-passwords.txt) for the administrator to
#   hand out; they choose their own at the first sign-in. Seed passwords cannot carry over.
# - Groups, memberships and API keys are written in SQL: a key is kept as its SHA-256, which
#   MySQL computes, so every seed key keeps working unchanged.
# - Accounts go through the admin API, which encrypts their secrets with RELAY_ENCRYPTION_KEY.
# - SEED_TIME_ZONE (default +08:00) is the zone the seed's DATETIME columns were written in.
# Needs: bash, the mysql (or mariadb) client, curl, jq, openssl. Stops at the first error; if it
# stops half-way, drop RELAY_DB, start the relay again and rerun.
set -euo pipefail

SEED_DB=${SEED_DB:-claude_code_relay}
RELAY_DB=${RELAY_DB:-relay}
RELAY_URL=${RELAY_URL:-http://127.0.0.1:8080}
RELAY_ADMIN_USER=${RELAY_ADMIN_USER:-admin}
SEED_TIME_ZONE=${SEED_TIME_ZONE:-+08:00}
PASSWORDS_FILE=${PASSWORDS_FILE:-./seed-import-passwords.txt}
: "${RELAY_ADMIN_PASSWORD:?set RELAY_ADMIN_PASSWORD (the admin password of the new relay)}"

fail() {
  echo "import-seed: $*" >&2
  exit 1
}
for db in "$SEED_DB" "$RELAY_DB"; do
  [[ $db =~ ^[A-Za-z0-9_]+$ ]] || fail "database name \`$db\` must be letters, digits and _"
done
[[ $SEED_TIME_ZONE =~ ^[+-][0-9]{2}:[0-9]{2}$ ]] || fail "SEED_TIME_ZONE must look like +08:00"
mysql_bin=$(command -v mysql || command -v mariadb) || fail "the mysql client is needed"
for tool in curl jq openssl; do command -v "$tool" >/dev/null || fail "$tool is needed"; done
# shellcheck disable=SC2206 # MYSQL_OPTS is a list of client options, split on purpose
opts=(${MYSQL_OPTS:-})
sql() { "$mysql_bin" "${opts[@]}" -D "$RELAY_DB" -N -B -r "$@"; }

users_now=$(sql -e "SELECT COUNT(*) FROM \`$RELAY_DB\`.users")
[ "$users_now" = 1 ] || fail "$RELAY_DB has $users_now users; import into a fresh relay database (only its admin)"

api() { # api METHOD PATH [BODY]: prints the answer, fails with it on an error status
  curl -sS --fail-with-body -X "$1" "$RELAY_URL/api/v1$2" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' ${3:+--data "$3"}
}
token=$(curl -sS --fail-with-body "$RELAY_URL/api/v1/auth/login" -H 'content-type: application/json' \
  --data "$(jq -nc --arg u "$RELAY_ADMIN_USER" --arg p "$RELAY_ADMIN_PASSWORD" '{username: $u, password: $p}')" \
  | jq -r .token) || fail "cannot sign in to $RELAY_URL as $RELAY_ADMIN_USER"

# 1. Users, through the API (argon2id hashes, default-group membership, validation).
umask 077
: >"$PASSWORDS_FILE"
users=0
while IFS= read -r row; do
  password=$(openssl rand -hex 12)
  body=$(jq -c --arg p "$password" '{username, email, role, password: $p}' <<<"$row")
  id=$(api POST /admin/users "$body" | jq -r .id) || fail "user $(jq -r .username <<<"$row") was refused"
  if [ "$(jq -r .enabled <<<"$row")" != true ]; then
    api PUT "/admin/users/$id" '{"enabled":false}' >/dev/null
  fi
  printf '%s %s\n' "$(jq -r .username <<<"$row")" "$password" >>"$PASSWORDS_FILE"
  users=$((users + 1))
done < <(sql -e "SELECT JSON_OBJECT('username', username, 'email', NULLIF(email, ''),
    'role', IF(role = 'admin', 'admin', 'user'), 'enabled', JSON_EXTRACT(IF(status = 1, 'true', 'false'), '\$'))
  FROM \`$SEED_DB\`.users WHERE deleted_at IS NULL AND username <> '$RELAY_ADMIN_USER' ORDER BY id")

# Seed group -> relay group: a name used once among the seed's groups keeps it; the others (the
# seed's names are per user, ours are global) become <username>-<name>. Group 0 (none) is ours
# marked default.
gmap="
CREATE TEMPORARY TABLE gmap (seed_id BIGINT PRIMARY KEY, name VARCHAR(64) NOT NULL,
  owner_id BIGINT NOT NULL, description VARCHAR(255) NOT NULL, relay_id BIGINT);
INSERT INTO gmap (seed_id, name, owner_id, description)
  SELECT g.id,
         IF((SELECT COUNT(*) FROM \`$SEED_DB\`.\`groups\` d WHERE d.name = g.name AND d.deleted_at IS NULL) = 1
              AND g.name COLLATE utf8mb4_unicode_ci NOT IN (SELECT name FROM \`$RELAY_DB\`.\`groups\` WHERE is_default),
            LEFT(g.name, 64), LEFT(CONCAT(su.username, '-', g.name), 64)),
         u.id, LEFT(COALESCE(g.remark, ''), 255)
  FROM \`$SEED_DB\`.\`groups\` g
  JOIN \`$SEED_DB\`.users su ON su.id = g.user_id
  JOIN \`$RELAY_DB\`.users u ON u.username = su.username COLLATE utf8mb4_unicode_ci
  WHERE g.deleted_at IS NULL;
SET @default_group = (SELECT id FROM \`$RELAY_DB\`.\`groups\` WHERE is_default LIMIT 1);
"

# 2. Groups, memberships and keys, in SQL; then tell the running relays to reload.
summary=$(sql <<SQL
SET time_zone = '$SEED_TIME_ZONE';
SET @now = CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED);
$gmap
INSERT INTO \`$RELAY_DB\`.\`groups\` (name, description, owner_id, is_default, created_at, updated_at)
  SELECT name, description, owner_id, FALSE, @now, @now FROM gmap;
UPDATE gmap m JOIN \`$RELAY_DB\`.\`groups\` r ON r.name = m.name COLLATE utf8mb4_unicode_ci SET m.relay_id = r.id;
INSERT INTO \`$RELAY_DB\`.api_keys (user_id, group_id, name, key_hash, key_prefix, enabled, expires_at,
    allowed_models, daily_limit_micro_usd, total_limit_micro_usd, rpm_limit, concurrency_limit,
    created_at, updated_at)
  SELECT u.id, COALESCE(m.relay_id, @default_group), LEFT(k.name, 128), SHA2(k.\`key\`, 256),
         LEFT(k.\`key\`, 7), k.status = 1,
         IF(k.expires_at IS NULL, NULL, CAST(UNIX_TIMESTAMP(k.expires_at) * 1000 AS SIGNED)),
         IF(COALESCE(TRIM(k.model_restriction), '') = '', '[]',
            CONCAT('["', REPLACE(REPLACE(TRIM(k.model_restriction), ' ', ''), ',', '","'), '"]')),
         CAST(ROUND(COALESCE(k.daily_limit, 0) * 1000000) AS SIGNED), 0, 0, 0, @now, @now
  FROM \`$SEED_DB\`.api_keys k
  JOIN \`$SEED_DB\`.users su ON su.id = k.user_id
  JOIN \`$RELAY_DB\`.users u ON u.username = su.username COLLATE utf8mb4_unicode_ci
  LEFT JOIN gmap m ON m.seed_id = k.group_id
  WHERE k.deleted_at IS NULL AND k.\`key\` <> '';
-- A key's owner may use its group: owners may; anyone else becomes a member.
INSERT IGNORE INTO \`$RELAY_DB\`.group_members (group_id, user_id, created_at)
  SELECT DISTINCT k.group_id, k.user_id, @now FROM \`$RELAY_DB\`.api_keys k
  JOIN \`$RELAY_DB\`.\`groups\` g ON g.id = k.group_id
  WHERE k.created_at = @now AND NOT (g.owner_id <=> k.user_id);
UPDATE \`$RELAY_DB\`.settings SET version = version + 1, updated_at = @now WHERE name = 'change_version';
SELECT CONCAT((SELECT COUNT(*) FROM gmap), ' groups, ',
              (SELECT COUNT(*) FROM \`$RELAY_DB\`.api_keys WHERE created_at = @now), ' keys');
SQL
)

# 3. Accounts, through the API (secrets encrypted by the relay).
accounts=0
while IFS= read -r body; do
  api POST /admin/accounts "$body" >/dev/null || fail "account $(jq -r .name <<<"$body") was refused"
  accounts=$((accounts + 1))
done < <(sql <<SQL
$gmap
UPDATE gmap m JOIN \`$RELAY_DB\`.\`groups\` r ON r.name = m.name COLLATE utf8mb4_unicode_ci SET m.relay_id = r.id;
SELECT JSON_OBJECT('name', a.name, 'platform_type', a.platform_type,
    'request_url', NULLIF(a.request_url, ''), 'secret_key', NULLIF(a.secret_key, ''),
    'access_token', NULLIF(a.access_token, ''), 'refresh_token', NULLIF(a.refresh_token, ''),
    'expires_at', IF(a.expires_at > 0,
                     IF(a.expires_at > 100000000000, a.expires_at, a.expires_at * 1000), NULL),
    'priority', a.priority, 'weight', a.weight,
    'enabled', JSON_EXTRACT(IF(a.active_status = 1, 'true', 'false'), '\$'),
    'proxy_url', IF(a.enable_proxy AND COALESCE(a.proxy_uri, '') <> '', a.proxy_uri, NULL),
    'group_id', COALESCE(m.relay_id, @default_group))
  FROM \`$SEED_DB\`.accounts a LEFT JOIN gmap m ON m.seed_id = a.group_id
  WHERE a.deleted_at IS NULL ORDER BY a.id;
SQL
)

echo "import-seed: $users users (first passwords in $PASSWORDS_FILE), $summary, $accounts accounts"
