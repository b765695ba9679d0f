"""A Grafana dashboard over the Prometheus names of the SDK's metrics.

Panels: spend, requests and average cost per request for the selected range; cost, tokens,
requests and latency per team over time; the top 10 customers by cost; and one
budget-utilisation bar per configured budget (rolling window of its period, % of its limit).
A `datasource` variable picks the Prometheus data source at import; a `team` variable
filters every panel. Import it through Grafana's "Import dashboard" or provisioning.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from .plan import DashboardPlan, percent, plain
from .prom_names import COST, LATENCY, REQUESTS, TOKENS_INPUT, TOKENS_OUTPUT
from .prom_rules import WINDOWS, budget_spend

DS = {"type": "prometheus", "uid": "${datasource}"}
TEAM = '{team=~"$team"}'
UID = "genops-ai-costs"


def _target(expr: str, legend: str = "", *, instant: bool = False) -> dict[str, Any]:
    """A Prometheus query of a panel (its refId is set by `_panel`)."""
    target: dict[str, Any] = {"datasource": DS, "expr": expr, "legendFormat": legend}
    if instant:
        target.update(instant=True, range=False)
    return target


def _panel(kind: str, title: str, targets: list[dict[str, Any]], *, unit: str = "short", w: int = 12, h: int = 8,
           **extra: Any) -> dict[str, Any]:
    panel: dict[str, Any] = {
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": 0, "y": 0},
        "targets": [{**t, "refId": chr(ord("A") + i)} for i, t in enumerate(targets)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    panel.update(extra)
    return panel


def _thresholds(plan: DashboardPlan) -> list[dict[str, Any]]:
    warn = min((t for b in plan.budgets for t in b.thresholds if t < 1), default=Decimal("0.8"))
    return [
        {"color": "green", "value": None},
        {"color": "orange", "value": float(percent(warn))},
        {"color": "red", "value": 100},
    ]


def _layout(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Left to right, top to bottom, in a 24-column grid."""
    x = y = row_h = 0
    for index, panel in enumerate(panels, start=1):
        grid = panel["gridPos"]
        if x + grid["w"] > 24:
            x, y, row_h = 0, y + row_h, 0
        grid["x"], grid["y"] = x, y
        x += grid["w"]
        row_h = max(row_h, grid["h"])
        panel["id"] = index
    return panels


def panels(plan: DashboardPlan) -> list[dict[str, Any]]:
    cost_range = f"sum(increase({COST}{TEAM}[$__range]))"
    ran = '{team=~"$team",status!="blocked"}'
    stat: dict[str, Any] = {"options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                        "colorMode": "value", "graphMode": "none"}}
    bars: dict[str, Any] = {"custom": {"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal", "group": "A"}}}
    out = [
        _panel("stat", "Spend (selected range)", [_target(cost_range, instant=True)], unit="currencyUSD", w=8, h=5,
               **stat),
        _panel("stat", "Requests (selected range)",
               [_target(f"sum(increase({REQUESTS}{TEAM}[$__range]))", instant=True)], w=8, h=5, **stat),
        _panel("stat", "Average cost per request",
               [_target(f"{cost_range} / sum(increase({REQUESTS}{ran}[$__range]))", instant=True)],
               unit="currencyUSD", w=8, h=5, **stat),
        _panel("timeseries", "Cost per team (USD per interval)",
               [_target(f"sum by (team) (increase({COST}{TEAM}[$__interval]))", "{{team}}")],
               unit="currencyUSD", interval="1m",
               fieldConfig={"defaults": {"unit": "currencyUSD", **bars}, "overrides": []}),
        _panel("timeseries", "Tokens per team (input / output)", [
            _target(f"sum by (team) (increase({TOKENS_INPUT}{TEAM}[$__interval]))", "{{team}} input"),
            _target(f"sum by (team) (increase({TOKENS_OUTPUT}{TEAM}[$__interval]))", "{{team}} output"),
        ], interval="1m"),
        _panel("timeseries", "Requests per team (per second)",
               [_target(f"sum by (team, status) (rate({REQUESTS}{TEAM}[$__rate_interval]))", "{{team}} {{status}}")],
               unit="reqps"),
        _panel("timeseries", "Latency per team (ms)", [
            _target(f"histogram_quantile(0.95, sum by (team, le) (rate({LATENCY}_bucket{TEAM}[$__rate_interval])))",
                    "{{team}} p95"),
            _target(f"sum by (team) (rate({LATENCY}_sum{TEAM}[$__rate_interval])) / "
                    f"sum by (team) (rate({LATENCY}_count{TEAM}[$__rate_interval]))", "{{team}} avg"),
        ], unit="ms"),
        _panel("bargauge", "Top 10 customers by cost (selected range)",
               [_target(f"sort_desc(topk(10, sum by (customer_id) (increase({COST}{TEAM}[$__range]))))",
                        "{{customer_id}}", instant=True)],
               unit="currencyUSD",
               options={"orientation": "horizontal", "displayMode": "basic",
                        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}),
    ]
    if plan.budgets:
        targets = [
            _target(f"100 * {budget_spend(b)} / {plain(b.limit)}",
                    f"{{{{{b.per}}}}} ({b.name}, {WINDOWS[b.period]})" if b.per else f"{b.label} ({WINDOWS[b.period]})")
            for b in plan.budgets
        ]
        out.append(_panel(
            "bargauge", "Budget utilisation (% of limit, rolling window of the budget period)", targets,
            unit="percent", w=24,
            fieldConfig={"defaults": {"unit": "percent", "min": 0, "max": 100,
                                      "thresholds": {"mode": "absolute", "steps": _thresholds(plan)}},
                         "overrides": []},
            options={"orientation": "horizontal", "displayMode": "gradient",
                     "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
        ))
    return _layout(out)


def dashboard(plan: DashboardPlan, *, title: str = "GenOps: AI Costs") -> dict[str, Any]:
    """The dashboard JSON (Grafana's dashboard model, importable as is)."""
    team_query = f"label_values({COST}, team)"
    return {
        "uid": UID,
        "title": title,
        "description": "Generated by `genops dashboards grafana` from the GenOps Prometheus metrics.",
        "tags": ["genops", "ai-costs"],
        "timezone": "browser",
        "editable": True,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [
            {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
             "current": {}, "hide": 0, "refresh": 1},
            {"name": "team", "label": "Team", "type": "query", "datasource": DS,
             "query": {"query": team_query, "refId": "team"}, "definition": team_query,
             "includeAll": True, "multi": True, "allValue": ".*", "current": {}, "refresh": 2, "sort": 1,
             "options": [], "hide": 0},
        ]},
        "annotations": {"list": []},
        "panels": panels(plan),
    }


def grafana_expressions(body: dict[str, Any]) -> list[str]:
    """Every PromQL expression of the dashboard (panel targets and template variable queries)."""
    exprs = [t["expr"] for panel in body["panels"] for t in panel.get("targets", [])]
    exprs += [v["definition"] for v in body["templating"]["list"] if v.get("type") == "query"]
    return exprs


_GRAFANA_VARS = {"$__range": "1h", "$__interval": "1m", "$__rate_interval": "1m", "$team": ".*"}


def as_plain_promql(expr: str) -> str:
    """An expression with Grafana's variables replaced (to run it against Prometheus directly)."""
    return re.sub(r"\$__rate_interval|\$__interval|\$__range|\$team", lambda m: _GRAFANA_VARS[m.group(0)], expr)
