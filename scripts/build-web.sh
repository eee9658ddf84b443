#!/usr/bin/env bash
# Builds the web console into web/dist (which `relay serve` serves at /), installing Node.js
# from Debian's packages first when it is missing. Skips the build when web/dist is newer
# than every source. Without a usable Node.js it says so and exits 0: the relay then runs
# and shows a page with the command that builds the console.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  ../scripts/install-web-deps.sh || true
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "warning: Node.js and npm are not installed and could not be installed;" >&2
  echo "         the relay runs without its web console (build it later: cd web && npm ci && npm run build)" >&2
  exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "warning: Node.js $(node -v) is too old for the web console (18.18 or later);" >&2
  echo "         the relay runs without it (build it later: cd web && npm ci && npm run build)" >&2
  exit 0
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
if [ -f dist/index.html ] && [ -z "$(find src public index.html package-lock.json vite.config.ts -newer dist/index.html -print -quit)" ]; then
  echo "web console is up to date (web/dist)"
  exit 0
fi
npm run build
