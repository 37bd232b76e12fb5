#!/usr/bin/env python3
"""Checks contrib/grafana/tripline.json, the Grafana dashboard.

  grafana_dashboard_check.py DASHBOARD.json [SCRAPE.prom]

Always: the file is valid JSON, a dashboard with panels, panel ids are unique,
panels side by side do not overlap (gridPos), every panel has at least one
query, and every query names at least one tripline_ metric.
With a scrape (the text of a real GET /metrics, tests/integration/metrics_test.sh):
every metric a query names is in it, so no panel stays empty for a typo or a
renamed metric. Exit 0 when all holds, 1 otherwise (each problem printed).
"""
import json
import re
import sys

METRIC = re.compile(r"\btripline_[a-z0-9_]+\b")


def panels(node):
    for p in node.get("panels", []):
        yield p
        yield from panels(p)  # rows hold panels of their own


def overlaps(a, b):
    return (a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
            and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"])


def layout_problems(siblings):
    """Panels laid out together (the top level, or a collapsed row's own)."""
    problems = []
    placed = []
    for p in siblings:
        g = p.get("gridPos")
        if not isinstance(g, dict) or not all(isinstance(g.get(k), int) for k in "xywh"):
            problems.append(f"panel {p.get('title')!r} has no gridPos x, y, w, h")
            continue
        for q, h in placed:
            if overlaps(g, h):
                problems.append(f"panels {q.get('title')!r} and {p.get('title')!r} overlap")
        placed.append((p, g))
        problems += layout_problems(p.get("panels", []))
    return problems


def scrape_names(path):
    names = set()
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 3 and parts[1] in ("TYPE", "HELP"):
                    names.add(parts[2])
                continue
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    problems = []
    try:
        with open(sys.argv[1]) as f:
            dash = json.load(f)
    except (OSError, ValueError) as e:
        print(f"FAIL: {sys.argv[1]}: {e}", file=sys.stderr)
        return 1
    all_panels = list(panels(dash))
    if not all_panels:
        problems.append("no panels")
    ids = {}
    for p in all_panels:
        if p.get("id") in ids:
            problems.append(f"panels {ids[p.get('id')]!r} and {p.get('title')!r} share id {p.get('id')}")
        ids.setdefault(p.get("id"), p.get("title"))
    problems += layout_problems(dash.get("panels", []))
    used = {}
    for p in all_panels:
        if p.get("type") == "row":
            continue
        targets = p.get("targets") or []
        if not targets:
            problems.append(f"panel {p.get('title')!r} has no query")
        for t in targets:
            names = METRIC.findall(t.get("expr", ""))
            if not names:
                problems.append(f"panel {p.get('title')!r}: query {t.get('expr')!r} names no tripline_ metric")
            for n in names:
                used.setdefault(n, p.get("title"))
    for v in dash.get("templating", {}).get("list", []):
        for n in METRIC.findall(str(v.get("query", ""))):
            used.setdefault(n, f"variable {v.get('name')}")
    if len(sys.argv) == 3:
        exported = scrape_names(sys.argv[2])
        for n, where in sorted(used.items()):
            if n not in exported:
                problems.append(f"{where!r} queries {n}, which the scrape does not have")
    for p in problems:
        print(f"FAIL: {sys.argv[1]}: {p}", file=sys.stderr)
    if not problems:
        print(f"{sys.argv[1]}: {len(all_panels)} panels, {len(used)} metrics"
              + (", all in the scrape" if len(sys.argv) == 3 else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
