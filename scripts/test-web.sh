#!/usr/bin/env bash
# Every check of the web console, in the order a failure is cheapest to find: ESLint, the
# TypeScript check, the unit tests (Vitest), the production build, then the browser suite
# (playwright-core driving Debian's Chromium) against a real `relay serve` on SQLite with a
# mock upstream, the built console served by the relay itself. Screenshots and the relay's
# log land in web/test-results/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

"$root/scripts/install-web-deps.sh" --test
cd "$root/web"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run lint
npm run typecheck
npm test
npm run build

(cd "$root" && cargo build -p relay-proxy --bin relay)
RELAY_BIN="$root/target/debug/relay" npm run e2e
