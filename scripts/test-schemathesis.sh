#!/usr/bin/env bash
# Schemathesis against the live admin API (issue 12): a real `relay serve` on a fresh SQLite
# database, driven through the front door from its own /api/v1/openapi.json, once as the admin
# and once as a plain user (a fresh database each). Checks: no 5xx, every status code and
# response body as the document describes, no crash of the process. The example count is
# bounded (SCHEMATHESIS_MAX_EXAMPLES, default 20 per operation and phase) so both runs take a
# few minutes. Everything runs in a network namespace of its own with only loopback, so no
# generated URL (an account's upstream, a proxy) can reach another host.
#
# Fails loudly, never skips: a missing tool, a relay that does not start or dies, or any
# finding exits non-zero. Reports land in target/schemathesis/.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/target/schemathesis"
max_examples="${SCHEMATHESIS_MAX_EXAMPLES:-20}"
seed="${SCHEMATHESIS_SEED:-20261202}"

fail() {
  echo "test-schemathesis: $*" >&2
  exit 1
}

if [ "${1:-}" != "--inside" ]; then
  command -v schemathesis >/dev/null 2>&1 \
    || fail "schemathesis is not installed (run scripts/install-test-deps.sh)"
  command -v curl >/dev/null 2>&1 || fail "curl is needed"
  command -v unshare >/dev/null 2>&1 || fail "unshare (util-linux) is needed"
  (cd "$root" && cargo build -p relay-proxy --bin relay)
  rm -rf "$out"
  mkdir -p "$out"
  # A private network namespace: loopback only (needs root or user namespaces).
  exec unshare --net --map-root-user "$0" --inside \
    || fail "cannot create a network namespace for the run"
fi

ip link set lo up 2>/dev/null || fail "cannot bring up loopback in the namespace"
relay="$root/target/debug/relay"
[ -x "$relay" ] || fail "$relay was not built"

front=127.0.0.1:18080
admin_pass="schemathesis-admin-pass"
user_pass="schemathesis-user-pass"
pid=""

stop_relay() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  pid=""
}
trap stop_relay EXIT

# json FIELD: reads a JSON object on stdin and prints one top-level string field.
json() {
  python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

api() {
  local method=$1 path=$2 token=$3 body=${4:-}
  curl -sS --fail-with-body -X "$method" "http://$front/api/v1$path" \
    -H "authorization: Bearer $token" -H "content-type: application/json" \
    ${body:+--data "$body"}
}

start_relay() {
  local dir=$1
  mkdir -p "$dir/data"
  cat >"$dir/config.yaml" <<EOF
server:
  listen: $front
  data_dir: $dir/data
admin:
  listen: 127.0.0.1:18081
  rate_limit_per_minute: 0
metrics:
  listen: 127.0.0.1:19091
database:
  url: sqlite://$dir/data/relay.db
relay:
  anthropic_base_url: http://127.0.0.1:9
auth:
  oauth:
    token_url: http://127.0.0.1:9/token
log:
  level: warn
EOF
  (cd "$dir" && exec env -u RELAY_CONFIG ADMIN_PASSWORD="$admin_pass" \
    JWT_SECRET="schemathesis-jwt-secret-0123456789abcdef" \
    "$relay" --config "$dir/config.yaml" serve >"$dir/relay.log" 2>&1) &
  pid=$!
  for _ in $(seq 1 300); do
    if curl -sf "http://$front/health" >/dev/null 2>&1 \
      && curl -sf "http://$front/api/v1/openapi.json" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$dir/relay.log" >&2; fail "the relay exited at start"; }
    sleep 0.1
  done
  cat "$dir/relay.log" >&2
  fail "the relay did not answer within 30 s"
}

login() {
  curl -sS --fail-with-body "http://$front/api/v1/auth/login" \
    -H "content-type: application/json" \
    --data "{\"username\":\"$1\",\"password\":\"$2\"}" | json token
}

run_as() {
  local role=$1 token=$2
  echo "== schemathesis as $role (max $max_examples examples per operation and phase)"
  local status=0
  # Every operation of the document must be tested, less logout-all (left out below) and the
  # document itself (schemathesis does not test the operation that serves the schema).
  local min_operations
  min_operations=$(curl -sf "http://$front/api/v1/openapi.json" | python3 -c '
import json, sys
doc = json.load(sys.stdin)
ops = [m for item in doc["paths"].values() for m in item if m in ("get", "put", "post", "delete", "patch")]
print(len(ops) - 2)')
  # logout-all would revoke the very token the run uses; it is tested in admin-api/tests.
  schemathesis run "http://$front/api/v1/openapi.json" \
    --url "http://$front" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --exclude-path /api/v1/auth/logout-all \
    --phases examples,coverage,fuzzing \
    --max-examples "$max_examples" \
    --seed "$seed" \
    --workers 1 \
    --request-timeout 20 \
    --no-shrink \
    --report junit --report-junit-path "$out/$role.xml" \
    --report-dir "$out" \
    || status=$?
  kill -0 "$pid" 2>/dev/null || { cat "$dir/relay.log" >&2; fail "the relay died during the $role run"; }
  # A run that tested (almost) nothing is a failure too, never a silent pass.
  python3 - "$out/$role.xml" "$min_operations" <<'PY' || fail "the $role run tested too few operations"
import sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
tested = len(root.findall(".//testcase")) - len(root.findall(".//testcase/skipped"))
print(f"{sys.argv[1]}: {tested} operations tested")
sys.exit(0 if tested >= int(sys.argv[2]) else 1)
PY
  return $status
}

failed=()

dir=$(mktemp -d)
start_relay "$dir"
admin_token=$(login admin "$admin_pass")
run_as admin "$admin_token" || failed+=(admin)
stop_relay
cp "$dir/relay.log" "$out/relay-admin-run.log"

dir=$(mktemp -d)
start_relay "$dir"
admin_token=$(login admin "$admin_pass")
api POST /admin/users "$admin_token" \
  "{\"username\":\"fuzzer\",\"password\":\"$user_pass-given\",\"role\":\"user\"}" >/dev/null
first=$(login fuzzer "$user_pass-given")
user_token=$(api PUT /user/password "$first" \
  "{\"old_password\":\"$user_pass-given\",\"new_password\":\"$user_pass\"}" | json token)
run_as user "$user_token" || failed+=(user)
stop_relay
cp "$dir/relay.log" "$out/relay-user-run.log"

if [ ${#failed[@]} -gt 0 ]; then
  fail "schemathesis found problems in the ${failed[*]} run(s); see above and $out"
fi
echo "schemathesis: the admin and the user runs passed"
