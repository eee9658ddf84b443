# syntax=docker/dockerfile:1
# Claude Code Relay: one image with the `relay` binary, the built web console and the
# documented default config.yaml. Build: `make docker` (docker build -t claude-code-relay .).
# Run: docker compose up (docker-compose.yml: relay + MySQL 8 + Redis), or alone on SQLite:
#   docker run -p 8080:8080 -v relay-data:/app/data claude-code-relay
# Configure with RELAY__SECTION__KEY environment variables (e.g. RELAY__DATABASE__URL) and the
# secrets JWT_SECRET, RELAY_ENCRYPTION_KEY, ADMIN_PASSWORD. Lint: hadolint (make test).

# --- 1. the web console (web/dist) ------------------------------------------------------------
FROM node:20-bookworm-slim AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
RUN npm run build

# --- 2. the relay binary --------------------------------------------------------------------
FROM rust:1.95-bookworm AS build
# cmake for Pingora's zlib-ng, perl and make for the vendored OpenSSL and jemalloc. Debian's
# versions are whatever bookworm ships (pinning them would break every point release).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends cmake perl make pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY shared/ shared/
COPY proxy/ proxy/
COPY admin-api/ admin-api/
COPY bench/ bench/
COPY migrations/ migrations/
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p relay-proxy --bin relay \
    && install -D -m 0755 target/release/relay /out/relay

# --- 3. the runtime ---------------------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
# CA certificates to verify the upstreams' TLS, tzdata for `timezone` (daily limits, stats).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 relay \
    && useradd --system --uid 10001 --gid relay --home-dir /app --shell /usr/sbin/nologin relay \
    && install -d -o relay -g relay -m 0700 /app/data
WORKDIR /app
COPY --from=build /out/relay /usr/local/bin/relay
COPY --from=web /src/web/dist /app/web/dist
COPY config.yaml /app/config.yaml
# data/: the SQLite database (when database.url is sqlite), generated secrets, the first admin
# password file, the usage journal, spill and dead-letter files. Keep it on a volume.
VOLUME ["/app/data"]
ENV RELAY_CONFIG=/app/config.yaml
USER 10001:10001
EXPOSE 8080
# `relay healthcheck` asks GET /health on server.listen over loopback (no curl in the image).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["relay", "healthcheck"]
# SIGTERM drains (503 on /ready, streams finish within server.grace_period): give `docker stop`
# a timeout longer than the grace period (docker-compose.yml sets stop_grace_period).
STOPSIGNAL SIGTERM
ENTRYPOINT ["relay"]
CMD ["serve"]
