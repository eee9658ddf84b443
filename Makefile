# Build, run and test the relay. `make run` and `make test` are the README's two commands.
.PHONY: deps test-deps run build release docker test lint fmt web web-test

deps:
	./scripts/install-deps.sh

test-deps: deps
	./scripts/install-test-deps.sh

# Builds the web console (installing Node.js from Debian's packages when it is missing; without
# it the relay still runs and says how to build the console), then builds and runs
# `relay serve` on the embedded SQLite database (data/ in this folder).
run: deps web
	cargo run --release -p relay-proxy --bin relay -- serve

# The web console into web/dist (skipped when it is up to date).
web:
	./scripts/build-web.sh

# The web console's lint, type check, unit tests, build and browser suite.
web-test:
	./scripts/test-web.sh

build: deps
	cargo build --workspace

# Release archives in dist/ (relay + config.yaml + web console + deploy/): linux amd64, and arm64
# cross-compiled when its toolchain installs here (RELEASE_ARCHES=amd64 for one; the last line
# says when arm64 was not built and why).
release: deps
	./scripts/release.sh

# The container image (Dockerfile). Needs a Docker engine: the machines this project is built and
# tested on have only the client, so `make test` lints the Dockerfile instead of building it.
docker:
	docker build -t claude-code-relay .

fmt:
	cargo fmt --all

lint: deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# Every check and test. MySQL tests use MariaDB on 127.0.0.1:3306 (root, no password) or
# RELAY_TEST_MYSQL_URL; with CI set they fail when it is unreachable.
test: lint test-deps
	cargo test --workspace
	./scripts/test-schemathesis.sh
	./scripts/test-web.sh
	./scripts/test-deploy.sh
	./scripts/test-seed-import.sh

# The benchmark of SPEC §15 (bench/): the relay against bare Pingora, nginx and a direct
# connection in one run on loopback; writes bench/RESULTS.md. Takes about 4 minutes.
.PHONY: bench
bench: deps
	cargo build --release -p relay-proxy -p relay-bench
	cargo run --release -p relay-bench -- all --no-build
