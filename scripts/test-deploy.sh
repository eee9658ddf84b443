#!/usr/bin/env bash
# The packaging and documentation checks of `make test` (issue 16), none of which needs a Docker
# engine or a running systemd:
#   - hadolint on the Dockerfile; scripts/check-packaging.py (build context, compose file
#     against the compose specification's JSON schema, systemd unit);
#   - `docker-compose config` (the pinned compose CLI) resolves the compose file with the
#     secrets set, and refuses it naming JWT_SECRET when they are not;
#   - systemd-analyze verify on the unit;
#   - promtool: the scrape config, the alert rules and their unit tests, and every dashboard
#     query run on synthetic series;
#   - scripts/check-metric-refs.py: every metric the dashboard and the alerts name is in
#     deploy/metrics.txt, with its labels;
#   - scripts/config-reference.py: the README's configuration reference matches config.yaml.
# Each checker is also run once on a broken copy and must fail, so none passes vacuously.
# A missing tool is a failure, never a skip (scripts/install-test-deps.sh installs them all).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "test-deploy: $*" >&2
  exit 1
}
need() {
  command -v "$1" >/dev/null 2>&1 || fail "$1 is not installed (run scripts/install-test-deps.sh)"
}
# must_fail WHAT COMMAND...: the command must exit non-zero (a checker shown to catch a break).
must_fail() {
  local what=$1
  shift
  if "$@" >"$tmp/out" 2>&1; then
    cat "$tmp/out" >&2
    fail "the check passed on a broken copy: $what"
  fi
}
passed=0
failed=0
step() {
  echo "== $*"
}
ok() {
  passed=$((passed + 1))
}

for tool in hadolint docker-compose promtool systemd-analyze python3; do need "$tool"; done
python3 -c 'import yaml, jsonschema' 2>/dev/null || fail "PyYAML and jsonschema are needed"

step "hadolint Dockerfile"
hadolint Dockerfile && ok
printf 'FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl\n' >"$tmp/Dockerfile"
must_fail "hadolint on an unpinned, uncleaned apt-get" hadolint "$tmp/Dockerfile"

step "packaging files (build context, compose schema, systemd unit)"
python3 scripts/check-packaging.py && ok
sed 's/condition: service_healthy/condition: service_happy/' docker-compose.yml >"$tmp/compose.yml"
must_fail "a compose file with an unknown depends_on condition" \
  python3 scripts/check-packaging.py --compose "$tmp/compose.yml"
grep -v '^TimeoutStopSec=' deploy/systemd/relay.service >"$tmp/relay.service"
must_fail "a unit without TimeoutStopSec" python3 scripts/check-packaging.py --unit "$tmp/relay.service"

step "docker-compose config"
secrets=(JWT_SECRET=compose-check-jwt-secret-0123456789abcdef
  RELAY_ENCRYPTION_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
  ADMIN_PASSWORD=compose-check-admin MYSQL_PASSWORD=compose-check-db MYSQL_ROOT_PASSWORD=compose-check-root)
env -i PATH="$PATH" HOME="$tmp" "${secrets[@]}" docker-compose -f docker-compose.yml config --quiet && ok
if env -i PATH="$PATH" HOME="$tmp" docker-compose -f docker-compose.yml config --quiet 2>"$tmp/err"; then
  fail "docker-compose config accepted the compose file without its secrets"
fi
grep -q 'required variable JWT_SECRET is missing' "$tmp/err" \
  || { cat "$tmp/err" >&2; fail "docker-compose config did not name the missing JWT_SECRET"; }
must_fail "docker-compose config on an unknown depends_on condition" \
  env -i PATH="$PATH" HOME="$tmp" "${secrets[@]}" docker-compose -f "$tmp/compose.yml" config --quiet

step "systemd-analyze verify deploy/systemd/relay.service"
# verify wants the ExecStart binary to exist: point it at a stand-in executable.
printf '#!/bin/sh\n' >"$tmp/relay" && chmod +x "$tmp/relay"
mkdir -p "$tmp/unit"
sed "s#/usr/local/bin/relay#$tmp/relay#" deploy/systemd/relay.service >"$tmp/unit/relay.service"
# An unknown key is only a warning to verify: any output at all fails the check.
verify_out=$(systemd-analyze verify "$tmp/unit/relay.service" 2>&1) \
  || { echo "$verify_out" >&2; fail "systemd-analyze verify failed"; }
[ -z "$verify_out" ] || { echo "$verify_out" >&2; fail "systemd-analyze verify warned"; }
ok
sed 's/^LimitNOFILE=/LimitNOFIL=/' "$tmp/unit/relay.service" >"$tmp/bad.service"
[ -n "$(systemd-analyze verify "$tmp/bad.service" 2>&1)" ] \
  || fail "systemd-analyze verify said nothing about an unknown key"

step "promtool: scrape config, alert rules and their unit tests"
promtool check config deploy/prometheus/prometheus.yml && ok
promtool check rules deploy/prometheus/alerts.yml && ok
(cd deploy/prometheus && promtool test rules alerts.test.yml) && ok
sed 's/for: 5m/for: 50m/' deploy/prometheus/alerts.yml >"$tmp/alerts.yml"
sed 's#^  - alerts.yml#  - '"$tmp"'/alerts.yml#' deploy/prometheus/alerts.test.yml >"$tmp/alerts.test.yml"
must_fail "alert unit tests on rules that wait 50 minutes" promtool test rules "$tmp/alerts.test.yml"

step "metric names of the dashboard and the alerts (deploy/metrics.txt)"
python3 scripts/check-metric-refs.py --known deploy/metrics.txt \
  --dashboard deploy/grafana/relay-dashboard.json --rules deploy/prometheus/alerts.yml \
  --promtool-test "$tmp/dashboard" && ok
promtool test rules "$tmp/dashboard/dashboard.test.yml" && ok
sed 's/relay_ttfb_seconds_bucket/relay_tffb_seconds_bucket/' deploy/grafana/relay-dashboard.json >"$tmp/dash.json"
must_fail "a dashboard naming relay_tffb_seconds_bucket" \
  python3 scripts/check-metric-refs.py --known deploy/metrics.txt --dashboard "$tmp/dash.json"
grep -q 'unknown metric `relay_tffb_seconds_bucket`' "$tmp/out" || fail "the typo was not named"
# A query that parses and names known series but can return nothing (the snapshot is never a
# billion seconds old): Prometheus's engine must see that.
sed 's/max(relay_snapshot_age_seconds{instance=~\\"$instance\\"})/max(relay_snapshot_age_seconds{instance=~\\"$instance\\"} > 1e9)/' \
  deploy/grafana/relay-dashboard.json >"$tmp/dash2.json"
cmp -s deploy/grafana/relay-dashboard.json "$tmp/dash2.json" && fail "the snapshot-age query was not found to break"
python3 scripts/check-metric-refs.py --known deploy/metrics.txt --dashboard "$tmp/dash2.json" \
  --promtool-test "$tmp/dashboard2" >/dev/null
must_fail "a dashboard query that matches no series" promtool test rules "$tmp/dashboard2/dashboard.test.yml"

step "configuration reference in README.md"
python3 scripts/config-reference.py --check && ok
grep -v '^| `usage.retention_days` |' README.md >"$tmp/README.md"
must_fail "a README without usage.retention_days" python3 scripts/config-reference.py --check --readme "$tmp/README.md"
grep -q 'usage.retention_days: in config.yaml, missing from the README table' "$tmp/out" \
  || fail "the missing key was not named"

echo "$passed passed, $failed failed"
