#!/usr/bin/env bash
# Installs what the tests need beyond the build: the official Anthropic Python SDK (the relay is
# driven with it) and openapi-spec-validator (validates the admin API's OpenAPI document).
set -euo pipefail

if ! python3 -c "import anthropic, openapi_spec_validator" >/dev/null 2>&1; then
  echo "installing the Python packages the tests use"
  python3 -m pip install --quiet anthropic openapi-spec-validator \
    || python3 -m pip install --quiet --user anthropic openapi-spec-validator
fi

