#!/usr/bin/env bash
# `make release`: release archives of the relay for Linux in dist/, one per architecture:
#   dist/claude-code-relay-<version>-linux-<arch>.tar.gz   relay, config.yaml, web/ (the built
#                                                          console), deploy/, README.md
#   dist/SHA256SUMS
# The binary links only glibc (OpenSSL is vendored and static, zlib-ng and jemalloc too), so it
# runs on any x86_64 / aarch64 Linux with glibc 2.36 or later (Debian 12, Ubuntu 22.04+).
#
# RELEASE_ARCHES (default "amd64 arm64") picks the architectures. arm64 is cross-compiled with
# Debian's gcc-aarch64-linux-gnu and rustup's aarch64-unknown-linux-gnu standard library, both
# installed here when missing; when either cannot be installed the arm64 archive is not built
# and the script says so on its last line (and exits 1 if arm64 was asked for explicitly).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
arches=${RELEASE_ARCHES:-amd64 arm64}
explicit=${RELEASE_ARCHES:+yes}

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi

triple() {
  case "$1" in
    amd64) echo x86_64-unknown-linux-gnu ;;
    arm64) echo aarch64-unknown-linux-gnu ;;
    *) echo "release: unknown architecture $1 (amd64 or arm64)" >&2; exit 1 ;;
  esac
}

# Prepares the arm64 cross toolchain; sets `why` and returns 1 when it cannot.
why=""
cross_arm64() {
  if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu >&2 \
      || { why="rustup cannot install the aarch64-unknown-linux-gnu standard library"; return 1; }
  fi
  if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
    { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        $sudo_cmd apt-get install -y -qq gcc-aarch64-linux-gnu g++-aarch64-linux-gnu; } >&2 \
      || { why="apt-get cannot install gcc-aarch64-linux-gnu"; return 1; }
  fi
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
  export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
  export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
}

./scripts/build-web.sh
[ -f web/dist/index.html ] || { echo "release: web/dist was not built (Node.js 18.18+ is needed)" >&2; exit 1; }
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
[ -n "$version" ] || { echo "release: no version in Cargo.toml" >&2; exit 1; }

mkdir -p dist
built=()
missing=()
for arch in $arches; do
  target=$(triple "$arch")
  if [ "$arch" = arm64 ]; then
    if ! cross_arm64; then
      missing+=("arm64: $why")
      continue
    fi
  fi
  echo "== relay $version for linux-$arch ($target)"
  cargo build --release --locked --target "$target" -p relay-proxy --bin relay
  bin="target/$target/release/relay"
  name="claude-code-relay-$version-linux-$arch"
  stage="target/dist/$name"
  rm -rf "$stage"
  mkdir -p "$stage/deploy"
  install -m 0755 "$bin" "$stage/relay"
  install -m 0644 config.yaml README.md "$stage/"
  cp -r web/dist "$stage/web"
  cp -r deploy/systemd deploy/prometheus deploy/grafana deploy/metrics.txt "$stage/deploy/"
  # Reproducible archive: sorted names, fixed owner and time.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00:00' \
    -C target/dist -czf "dist/$name.tar.gz" "$name"
  built+=("dist/$name.tar.gz")
done

if [ ${#built[@]} -gt 0 ]; then
  (cd dist && sha256sum -- "${built[@]#dist/}" >SHA256SUMS)
fi
for f in "${built[@]}"; do echo "built $f"; done
if [ ${#missing[@]} -gt 0 ]; then
  for m in "${missing[@]}"; do echo "release: NOT BUILT $m" >&2; done
  [ -n "$explicit" ] && exit 1
fi
exit 0
