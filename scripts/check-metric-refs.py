#!/usr/bin/env python3
"""Checks that the Grafana dashboard and the Prometheus alert rules name only series the relay
exports, with the labels those series carry.

    scripts/check-metric-refs.py --known deploy/metrics.txt \
        --dashboard deploy/grafana/relay-dashboard.json --rules deploy/prometheus/alerts.yml

`--known` is the list of series (deploy/metrics.txt: name, type, labels, one per line; a label
may list its values as `label=a|b`). Every PromQL expression of the dashboard (panel targets,
template variable queries) and of the rule files is tokenised; each metric selector must name a
known series (histograms through `_bucket`/`_sum`/`_count`), each label matcher a label of that
series (`job` and `instance` are added by Prometheus, `le` by `_bucket`) and a listed value when
the label's values are listed; grouping labels (`by`, `without`, `on`, `ignoring`,
`group_left`, `group_right`) and legend `{{label}}` / annotation `$labels.x` names must belong
to the series of their expression; functions must be PromQL's. The dashboard must also parse as
a Grafana dashboard (unique panel ids, a layout on the 24-column grid without overlaps, every
query on the `${datasource}` variable) and show every known series at least once.

`--list` prints the metric names each file references; `--promtool-test DIR` writes a
`promtool test rules` file in which every dashboard query must return data once every known
series exists (Prometheus's own parser and engine then judge the PromQL). Exit 1 with every
problem listed.
"""

import argparse
import json
import re
import sys

import yaml

TARGET_LABELS = {"job", "instance"}
# Series that Prometheus itself writes for every target.
BUILTIN_SERIES = {"up": set(), "scrape_duration_seconds": set()}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

AGGREGATORS = {
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
}
FUNCTIONS = AGGREGATORS | {
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min",
    "day_of_month", "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp",
    "floor", "histogram_avg", "histogram_count", "histogram_fraction", "histogram_quantile",
    "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta",
    "increase", "irate", "label_join", "label_replace", "ln", "log2", "log10", "minute",
    "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort",
    "sort_desc", "sqrt", "time", "timestamp", "vector", "year", "avg_over_time",
    "min_over_time", "max_over_time", "sum_over_time", "count_over_time",
    "quantile_over_time", "stddev_over_time", "stdvar_over_time", "last_over_time",
    "present_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh", "cos", "cosh",
    "sin", "sinh", "tan", "tanh", "deg", "rad", "pi",
}
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}

TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:[smhdwy]|ms)*
               (?:[0-9]+(?:ms|[smhdwy]))*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],:@])
    """,
    re.VERBOSE,
)


class Known:
    """The series of deploy/metrics.txt."""

    def __init__(self, path):
        self.types = {}
        self.labels = {}
        self.values = {}
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.split("#", 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) != 3 or parts[1] not in ("counter", "gauge", "histogram"):
                    raise SystemExit(f"{path}:{n}: expected `name type labels`, got `{line}`")
                name, kind, labels = parts
                if name in self.types:
                    raise SystemExit(f"{path}:{n}: {name} listed twice")
                self.types[name] = kind
                self.labels[name] = set()
                self.values[name] = {}
                for spec in [] if labels == "-" else labels.split(","):
                    label, _, vals = spec.partition("=")
                    self.labels[name].add(label)
                    if vals:
                        self.values[name][label] = set(vals.split("|"))

    def resolve(self, series):
        """(base name, labels, listed values) of a series name, or None when unknown."""
        if series in BUILTIN_SERIES:
            return series, set(BUILTIN_SERIES[series]) | TARGET_LABELS, {}
        if series in self.types and self.types[series] != "histogram":
            return series, self.labels[series] | TARGET_LABELS, self.values[series]
        for suffix in HISTOGRAM_SUFFIXES:
            base = series[: -len(suffix)]
            if series.endswith(suffix) and self.types.get(base) == "histogram":
                extra = {"le"} if suffix == "_bucket" else set()
                return base, self.labels[base] | TARGET_LABELS | extra, self.values[base]
        return None


def tokenize(expr):
    pos, out = 0, []
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read `{expr[pos:pos + 20]}`")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def check_expr(expr, known, where, problems, extra_labels=()):
    """Checks one PromQL expression; returns (base metric names, labels of its series)."""
    try:
        toks = tokenize(expr)
    except ValueError as e:
        problems.append(f"{where}: {e} in `{expr}`")
        return set(), set()
    names, labels, grouped = set(), set(extra_labels), []
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else None
        if kind == "ident" and text in GROUPING and nxt == "(":
            j = i + 2
            while j < len(toks) and toks[j][1] != ")":
                if toks[j][0] == "ident":
                    grouped.append(toks[j][1])
                j += 1
            i = j + 1
            continue
        if kind == "ident" and text in AGGREGATORS and nxt in ("by", "without"):
            i += 1
            continue
        if kind == "ident" and nxt == "(":
            if text not in FUNCTIONS:
                problems.append(f"{where}: `{text}` is not a PromQL function, in `{expr}`")
            i += 1
            continue
        if kind == "ident" and text.lower() in KEYWORDS:
            i += 1
            continue
        if kind == "ident" or (kind == "op" and text == "{"):
            series = text if kind == "ident" else None
            resolved = known.resolve(series) if series else None
            if series and resolved is None:
                problems.append(f"{where}: unknown metric `{series}` in `{expr}`")
            if resolved:
                names.add(resolved[0])
                labels |= resolved[1]
            i += 1 if kind == "ident" else 0
            if i < len(toks) and toks[i][1] == "{":
                j = i + 1
                while j < len(toks) and toks[j][1] != "}":
                    if toks[j][0] == "ident" and j + 2 < len(toks):
                        label, op, value = toks[j][1], toks[j + 1][1], toks[j + 2]
                        if resolved and label not in resolved[1]:
                            problems.append(
                                f"{where}: `{series}` has no label `{label}`, in `{expr}`")
                        listed = resolved[2].get(label) if resolved else None
                        literal = value[0] == "string" and "$" not in value[1]
                        if listed and op in ("=", "!=") and literal:
                            v = value[1][1:-1]
                            if v not in listed:
                                problems.append(
                                    f"{where}: `{series}{{{label}}}` is never `{v}` "
                                    f"(one of {'|'.join(sorted(listed))}), in `{expr}`")
                        j += 3
                    else:
                        j += 1
                i = j + 1
            continue
        i += 1
    for label in grouped:
        if label not in labels:
            problems.append(f"{where}: no series of the expression has label `{label}` "
                            f"(grouping), in `{expr}`")
    return names, labels


def template_labels(text):
    return set(re.findall(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", text or ""))


def check_rules(path, known, problems):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    names = set()
    groups = (doc or {}).get("groups") or []
    if not groups:
        problems.append(f"{path}: no rule groups")
    for group in groups:
        for rule in group.get("rules") or []:
            title = rule.get("alert") or rule.get("record")
            where = f"{path}: {title}"
            found, labels = check_expr(str(rule.get("expr", "")), known, where, problems)
            if not found:
                problems.append(f"{where}: the expression names no metric")
            names |= found
            if "alert" in rule:
                if not (rule.get("labels") or {}).get("severity"):
                    problems.append(f"{where}: no severity label")
                annotations = rule.get("annotations") or {}
                if not annotations.get("summary"):
                    problems.append(f"{where}: no summary annotation")
                for text in annotations.values():
                    for label in re.findall(r"\$labels\.([A-Za-z_][A-Za-z0-9_]*)", text):
                        if label not in labels:
                            problems.append(f"{where}: annotation names `$labels.{label}`, "
                                            "which the expression's series do not have")
    return names


def walk_panels(panels):
    for panel in panels or []:
        yield panel
        yield from walk_panels(panel.get("panels"))


# Grafana's variables, replaced for Prometheus: every multi-value variable matches anything.
GRAFANA_VARS = [("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "1h")]


def grafana_to_promql(expr):
    for var, value in GRAFANA_VARS:
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", ".*", expr)


def dashboard_queries(path):
    """(name, PromQL) of every query of the dashboard, its variables included."""
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    out = []
    for var in (dash.get("templating") or {}).get("list", []):
        if var.get("type") == "query":
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*", q or "")
            if m:
                out.append((f"variable_{var['name']}", grafana_to_promql(m.group(1))))
    for panel in walk_panels(dash.get("panels")):
        for t in panel.get("targets") or []:
            out.append((f"panel_{panel.get('id')}_{t.get('refId')}", grafana_to_promql(t["expr"])))
    return out


def write_promtool_test(path, known, out_dir):
    """Writes a rule file and a `promtool test rules` file that check, with Prometheus's own
    parser and engine, that every query of the dashboard returns data once every known series
    exists: each query becomes an alert `absent(query)` that must not fire."""
    import os

    os.makedirs(out_dir, exist_ok=True)
    defaults = {"account": "acct-a", "group": "default", "model": "claude-sonnet-4-5",
                "outcome": "ok", "state": "error", "stream": "true", "result": "ok",
                "version": "0.1.0", "type": "input", "status_class": "2xx", "reason": "full"}
    series = []

    def emit(name, labels, values):
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        series.append({"series": f"{name}{{{inner}}}", "values": values})

    for name, kind in known.types.items():
        variants = [{}]
        for label, vals in known.values[name].items():
            variants += [{label: v} for v in sorted(vals)]
        for variant in variants:
            labels = {"job": "relay", "instance": "relay-1:9091"}
            labels.update({k: defaults.get(k, "x") for k in known.labels[name]})
            labels.update(variant)
            if kind == "counter":
                emit(name, labels, "0+10x90")
            elif kind == "gauge":
                emit(name, labels, "1x90")
            else:
                for n, le in enumerate(["0.001", "0.01", "0.1", "+Inf"], 1):
                    emit(f"{name}_bucket", {**labels, "le": le}, f"0+{n * 10}x90")
                emit(f"{name}_sum", labels, "0+2x90")
                emit(f"{name}_count", labels, "0+40x90")
    queries = dashboard_queries(path)
    rules = {"groups": [{"name": "dashboard-queries", "rules": [
        {"alert": name, "expr": f"absent({expr})"} for name, expr in queries]}]}
    with open(os.path.join(out_dir, "dashboard-rules.yml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(rules, f, sort_keys=False, width=1000)
    test = {"rule_files": ["dashboard-rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [{"eval_time": "80m", "alertname": name, "exp_alerts": []}
                            for name, _ in queries]}]}
    with open(os.path.join(out_dir, "dashboard.test.yml"), "w", encoding="utf-8") as f:
        yaml.safe_dump(test, f, sort_keys=False, width=1000)
    return len(queries)


def check_dashboard(path, known, problems):
    with open(path, encoding="utf-8") as f:
        try:
            dash = json.load(f)
        except json.JSONDecodeError as e:
            problems.append(f"{path}: not JSON: {e}")
            return set()
    for key in ("title", "uid", "schemaVersion", "panels", "templating"):
        if key not in dash:
            problems.append(f"{path}: no `{key}`")
    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problems.append(f"{path}: no `datasource` variable of type datasource (prometheus)")
    names, ids, boxes = set(), set(), []
    for var in variables.values():
        if var.get("type") != "query":
            continue
        query = var.get("query")
        query = query.get("query") if isinstance(query, dict) else query
        where = f"{path}: variable {var.get('name')}"
        m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query or "")
        if not m:
            problems.append(f"{where}: expected label_values(selector, label), got `{query}`")
            continue
        found, labels = check_expr(m.group(1), known, where, problems)
        names |= found
        if m.group(2) not in labels:
            problems.append(f"{where}: `{m.group(1)}` has no label `{m.group(2)}`")
    for panel in walk_panels(dash.get("panels")):
        title = panel.get("title", "?")
        where = f"{path}: panel {panel.get('id')} \"{title}\""
        if panel.get("id") in ids:
            problems.append(f"{where}: id {panel.get('id')} used twice")
        ids.add(panel.get("id"))
        g = panel.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "hwxy"):
            problems.append(f"{where}: no gridPos h, w, x, y")
            continue
        if g["x"] < 0 or g["w"] < 1 or g["x"] + g["w"] > 24 or g["h"] < 1:
            problems.append(f"{where}: gridPos {g} is off the 24-column grid")
        for other_where, o in boxes:
            if (g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"]
                    and g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"]):
                problems.append(f"{where}: overlaps {other_where}")
        boxes.append((where, g))
        if panel.get("type") == "row":
            continue
        if not panel.get("type") or not title.strip() or title == "?":
            problems.append(f"{where}: no type or title")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no queries")
        ref_ids = set()
        for t in targets:
            tw = f"{where} query {t.get('refId')}"
            if not t.get("refId") or t.get("refId") in ref_ids:
                problems.append(f"{tw}: missing or repeated refId")
            ref_ids.add(t.get("refId"))
            for obj in (panel, t):
                if (obj.get("datasource") or {}).get("uid") != "${datasource}":
                    problems.append(f"{tw}: datasource is not ${{datasource}}")
            expr = t.get("expr") or ""
            found, labels = check_expr(expr, known, tw, problems)
            if not found:
                problems.append(f"{tw}: the expression names no metric: `{expr}`")
            names |= found
            for label in template_labels(t.get("legendFormat")):
                if label not in labels:
                    problems.append(f"{tw}: legend names `{label}`, which `{expr}` lacks")
    missing = sorted(set(known.types) - names)
    if missing:
        problems.append(f"{path}: shows none of {', '.join(missing)}")
    return names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--known", required=True, help="deploy/metrics.txt")
    ap.add_argument("--dashboard", action="append", default=[])
    ap.add_argument("--rules", action="append", default=[])
    ap.add_argument("--list", action="store_true", help="print the names each file uses")
    ap.add_argument("--promtool-test", metavar="DIR",
                    help="write DIR/dashboard.test.yml for `promtool test rules`: every "
                         "dashboard query must return data when every known series exists")
    args = ap.parse_args()
    if not args.dashboard and not args.rules:
        ap.error("nothing to check: give --dashboard and/or --rules")
    known = Known(args.known)
    if not known.types:
        raise SystemExit(f"{args.known}: no series listed")
    problems, used = [], {}
    for path in args.dashboard:
        used[path] = check_dashboard(path, known, problems)
    for path in args.rules:
        used[path] = check_rules(path, known, problems)
    if args.list:
        for path, names in used.items():
            print(f"{path}: {' '.join(sorted(names))}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        print(f"check-metric-refs: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    if args.promtool_test:
        for path in args.dashboard:
            n = write_promtool_test(path, known, args.promtool_test)
            print(f"check-metric-refs: {n} queries of {path} written to "
                  f"{args.promtool_test}/dashboard.test.yml")
    total = sum(len(n) for n in used.values())
    print(f"check-metric-refs: {len(used)} files, {total} metric references, all in "
          f"{args.known} ({len(known.types)} series)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
