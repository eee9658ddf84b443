#!/usr/bin/env bash
# Installs what the web console needs, skipping what is already there: Node.js and npm from
# Debian's packages (to build it), and with --test also Debian's Chromium (the browser tests
# drive it through playwright-core; browser downloads are not used) and CJK fonts (the
# console's default language is Chinese; screenshots need the glyphs).
set -euo pipefail

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ "${1:-}" = "--test" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  fc-list 2>/dev/null | grep -qi 'Noto Sans CJK' || need+=(fonts-noto-cjk)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "installing web console dependencies: ${need[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi
