#!/usr/bin/env bash
# deploy/seed-import/import-seed.sh against a real MariaDB/MySQL (127.0.0.1:3306, root without a
# password, or MYSQL_TEST_OPTS): a seed database from scripts/fixtures/seed-schema.sql, a real
# `relay serve` on a fresh database beside it, the import, then checks through the relay's own
# API that users, groups, accounts and keys arrived as the README says, and that an imported
# seed key authenticates on /v1/messages while an unknown one does not.
# With CI set an unreachable server fails the run; otherwise it is skipped with a loud message,
# as the MySQL halves of the Rust tests are.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
opts=${MYSQL_TEST_OPTS:--h 127.0.0.1 -P 3306 -u root}
# shellcheck disable=SC2206 # a list of client options
opts_list=($opts)
mysql_bin=$(command -v mysql || command -v mariadb) || { echo "test-seed-import: no mysql client" >&2; exit 1; }
sql() { "$mysql_bin" "${opts_list[@]}" -N -B "$@"; }
fail() {
  echo "test-seed-import: $*" >&2
  [ -n "${dir:-}" ] && [ -f "$dir/relay.log" ] && tail -20 "$dir/relay.log" >&2
  exit 1
}
passed=0
check() { # check WHAT ACTUAL EXPECTED
  if [ "$2" != "$3" ]; then fail "$1: got \`$2\`, expected \`$3\`"; fi
  passed=$((passed + 1))
}

if ! sql -e 'SELECT 1' >/dev/null 2>&1; then
  if [ -n "${CI:-}" ]; then fail "MySQL/MariaDB is not reachable with \`$opts\`"; fi
  echo "test-seed-import: SKIPPED: MySQL/MariaDB is not reachable with \`$opts\` (CI fails here)" >&2
  exit 0
fi
for tool in curl jq openssl; do command -v "$tool" >/dev/null || fail "$tool is needed"; done

(cd "$root" && cargo build -q -p relay-proxy --bin relay)
relay="$root/target/debug/relay"

seed_db="seed_import_seed_$$"
relay_db="seed_import_relay_$$"
dir=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -INT "$pid"; wait "$pid" || true; fi
  sql -e "DROP DATABASE IF EXISTS $seed_db; DROP DATABASE IF EXISTS $relay_db" || true
  rm -rf "$dir"
}
trap cleanup EXIT

sql -e "CREATE DATABASE $seed_db CHARACTER SET utf8mb4"
sql "$seed_db" <"$root/scripts/fixtures/seed-schema.sql"

port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
front="127.0.0.1:$(port)"
host_part=$(sed -n 's/.*-h \([^ ]*\).*/\1/p' <<<"$opts")
port_part=$(sed -n 's/.*-P \([0-9]*\).*/\1/p' <<<"$opts")
user_part=$(sed -n 's/.*-u \([^ ]*\).*/\1/p' <<<"$opts")
db_url="mysql://${user_part:-root}@${host_part:-127.0.0.1}:${port_part:-3306}/$relay_db"
admin_pass="seed-import-admin-pass"
(cd "$dir" && exec env -u RELAY_CONFIG RELAY__SERVER__LISTEN="$front" \
  RELAY__ADMIN__LISTEN="127.0.0.1:$(port)" RELAY__METRICS__LISTEN="127.0.0.1:$(port)" \
  RELAY__DATABASE__URL="$db_url" RELAY__LOG__LEVEL=warn RELAY__ADMIN__RATE_LIMIT_PER_MINUTE=0 \
  ADMIN_PASSWORD="$admin_pass" JWT_SECRET="seed-import-jwt-secret-0123456789abcdef" \
  "$relay" --config "$root/config.yaml" serve >"$dir/relay.log" 2>&1) &
pid=$!
for _ in $(seq 1 300); do
  curl -sf "http://$front/ready" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "the relay exited at start"
  sleep 0.1
done
curl -sf "http://$front/ready" >/dev/null || fail "the relay did not become ready"

SEED_DB=$seed_db RELAY_DB=$relay_db RELAY_URL="http://$front" RELAY_ADMIN_PASSWORD=$admin_pass \
  MYSQL_OPTS="$opts" PASSWORDS_FILE="$dir/passwords.txt" \
  "$root/deploy/seed-import/import-seed.sh" | tee "$dir/import.txt"
check "the summary" "$(cat "$dir/import.txt")" \
  "import-seed: 2 users (first passwords in $dir/passwords.txt), 4 groups, 3 keys, 3 accounts"

login() {
  curl -sS --fail-with-body "http://$front/api/v1/auth/login" -H 'content-type: application/json' \
    --data "$(jq -nc --arg u "$1" --arg p "$2" '{username: $u, password: $p}')"
}
token=$(login admin "$admin_pass" | jq -r .token)
api() { curl -sS --fail-with-body "http://$front/api/v1$1" -H "authorization: Bearer $token"; }

# Users: alice and bob (disabled), not the deleted carol; first passwords that work.
check "users" "$(api '/admin/users?page_size=100' | jq -c '[.items[] | [.username, .enabled]] | sort')" \
  '[["admin",true],["alice",true],["bob",false]]'
check "passwords file mode" "$(stat -c %a "$dir/passwords.txt")" 600
alice_pass=$(awk '$1 == "alice" {print $2}' "$dir/passwords.txt")
check "alice signs in and must change her password" \
  "$(login alice "$alice_pass" | jq -c '.user.must_change_password')" true

# Groups: clashing names prefixed with their owner, ours `default` kept.
check "groups" "$(api '/groups?page_size=100' | jq -c '[.items[].name] | sort')" \
  '["admin-default","alice-shared","bob-shared","default","team"]'
team=$(api '/groups?page_size=100' | jq '.items[] | select(.name == "team") | .id')
default_group=$(api '/groups?page_size=100' | jq '.items[] | select(.name == "default") | .id')

# Accounts: three (not the deleted one), secrets stored, fields mapped.
accounts=$(api '/admin/accounts?page_size=100')
check "accounts" "$(jq -c '[.items[] | [.name, .platform_type, .priority, .weight, .enabled]] | sort' <<<"$accounts")" \
  '[["console key","claude_console",10,50,true],["glm via proxy","claude_console",200,100,false],["max oauth","claude",100,100,true]]'
check "console account secret and group" \
  "$(jq -c --argjson t "$team" '.items[] | select(.name == "console key") | [.has_secret_key, .group_id == $t, .request_url]' <<<"$accounts")" \
  '[true,true,"https://api.example.test"]'
check "OAuth account tokens and expiry" \
  "$(jq -c '.items[] | select(.name == "max oauth") | [.has_access_token, .has_refresh_token, (.expires_at | startswith("2030-03-17"))]' <<<"$accounts")" \
  '[true,true,true]'
check "proxied account in the default group" \
  "$(jq -c --argjson d "$default_group" '.items[] | select(.name == "glm via proxy") | [(.proxy_url != null), .group_id == $d]' <<<"$accounts")" \
  '[true,true]'
jq -e 'tostring | (contains("seedsecret") or contains("seedaccess") or contains("seedrefresh")) | not' <<<"$accounts" >/dev/null \
  || fail "an account secret came back from the API"
stored=$(sql "$relay_db" -e "SELECT COUNT(*) FROM accounts WHERE secret_enc LIKE '%seedsecret%' OR access_token_enc LIKE '%seedaccess%'")
check "secrets are encrypted at rest" "$stored" 0

# Keys: the seed's own key works, with its name, limit, models and expiry.
usage() {
  curl -sS -o "$dir/usage.json" -w '%{http_code}' "http://$front/api/v1/public/key-usage" \
    -H 'content-type: application/json' --data "$(jq -nc --arg k "$1" '{key: $k}')"
}
check "alice's seed key is known" "$(usage sk-0123456789abcdef0123456789a)" 200
check "alice's seed key fields" \
  "$(jq -c '[.name, .enabled, .daily_limit_usd, .allowed_models, (.expires_at | startswith("2030-06-30"))]' "$dir/usage.json")" \
  '["alice laptop",true,5.5,["claude-sonnet-4-5","claude-haiku-4-5*"],true]'
check "bob's disabled key" "$(usage sk-bbbbbbbbbbbbbbbbbbbbbbbbbbb >/dev/null; jq -c .enabled "$dir/usage.json")" false
check "the deleted key is not imported" "$(usage sk-dddddddddddddddddddddddddd)" 404
stored=$(sql "$relay_db" -e "SELECT COUNT(*) FROM api_keys WHERE key_hash = SHA2('sk-cccccccccccccccccccccccccccc', 256) AND key_prefix = 'sk-cccc' AND group_id = $default_group")
check "admin's key of no group is in the default group" "$stored" 1

# The relay itself takes the seed key (the snapshot reloads after the import): anything but 401.
msg() {
  curl -sS -o /dev/null -w '%{http_code}' "http://$front/v1/messages" -H "x-api-key: $1" \
    -H 'content-type: application/json' -H 'anthropic-version: 2023-06-01' \
    --data '{"model":"claude-sonnet-4-5","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}'
}
code=401
for _ in $(seq 1 30); do
  code=$(msg sk-0123456789abcdef0123456789a)
  [ "$code" != 401 ] && break
  sleep 0.2
done
[ "$code" != 401 ] || fail "the relay refuses the imported seed key (401)"
passed=$((passed + 1))
check "an unknown key" "$(msg sk-0123456789abcdef0123456789b)" 401

echo "$passed passed, 0 failed"
