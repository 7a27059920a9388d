"""The Grafana dashboard: well-formed, on a Prometheus datasource variable, and querying only (and
every one of) the metrics bot/metrics.py defines."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import Counter, Gauge, Histogram

from bot import metrics

DASHBOARD = Path(__file__).resolve().parents[1] / "ops" / "grafana" / "whatsapp-bot.json"
_NAME = re.compile(r"\bwbot_[a-z0-9_]+")
_BY = re.compile(r"\bby \(([^)]*)\)")
_SELECTOR = re.compile(r"\{([^}]*)\}")


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = orjson.loads(DASHBOARD.read_bytes())
    return dashboard


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p["targets"]]


def defined() -> dict[str, tuple[str, frozenset[str]]]:
    """Every sample name the metrics module exposes -> (metric, its label names)."""
    names: dict[str, tuple[str, frozenset[str]]] = {}
    for attr in metrics.__all__:
        metric = getattr(metrics, attr)
        if not isinstance(metric, Counter | Gauge | Histogram):
            continue
        base = metric._name
        labels = frozenset(metric._labelnames)
        if isinstance(metric, Counter):
            suffixes = ["_total"]
        elif isinstance(metric, Histogram):
            suffixes = ["_bucket", "_sum", "_count"]
            labels |= {"le"}
        else:
            suffixes = [""]
        for suffix in suffixes:
            names[base + suffix] = (base, labels)
    return names


def test_the_dashboard_is_well_formed() -> None:
    dashboard = load()
    assert dashboard["title"] and dashboard["uid"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 12
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24 and grid["h"] > 0
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])


def test_every_panel_queries_the_prometheus_datasource_variable() -> None:
    dashboard = load()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    source = {"type": "prometheus", "uid": "${datasource}"}
    for panel in dashboard["panels"]:
        assert panel["datasource"] == source
        assert all(t["datasource"] == source for t in panel["targets"])


def test_every_queried_metric_and_label_exists_and_every_metric_is_shown() -> None:
    known = defined()
    used: set[str] = set()
    for expr in exprs(load()):
        names = _NAME.findall(expr)
        assert names, expr
        for name in names:
            assert name in known, f"{name} is not defined in bot/metrics.py ({expr})"
            used.add(known[name][0])
        labels = frozenset().union(*(known[n][1] for n in names)) | {"instance"}
        grouped = {label.strip() for group in _BY.findall(expr) for label in group.split(",")}
        matched = {m.split("=")[0].strip() for s in _SELECTOR.findall(expr) for m in s.split(",")}
        assert grouped | matched <= labels, expr
    assert used == {base for base, _ in known.values()}
