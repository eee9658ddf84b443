#!/usr/bin/env bash
# Installs what the tests need beyond the build: the official Anthropic Python SDK (the relay is
# driven with it), openapi-spec-validator (validates the admin API's OpenAPI document) and
# schemathesis (scripts/test-schemathesis.sh drives the live admin API from that document),
# pinned to a version known to work here.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5

have() {
  python3 - "$SCHEMATHESIS_VERSION" <<'PY' >/dev/null 2>&1
import sys
import anthropic, openapi_spec_validator  # noqa: F401
from importlib.metadata import version
sys.exit(0 if version("schemathesis") == sys.argv[1] else 1)
PY
}

if ! have; then
  echo "installing the Python packages the tests use"
  pkgs=(anthropic openapi-spec-validator "schemathesis==$SCHEMATHESIS_VERSION")
  python3 -m pip install --quiet "${pkgs[@]}" \
    || python3 -m pip install --quiet --user "${pkgs[@]}"
fi
have || { echo "the Python test packages are not importable after installing" >&2; exit 1; }
command -v schemathesis >/dev/null 2>&1 \
  || { echo "schemathesis is installed but not on PATH" >&2; exit 1; }
