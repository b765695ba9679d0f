"""Writing the generated bundles to a directory.

    genops dashboards datadog --out DIR   DIR/datadog/dashboards/<stem>.json, DIR/datadog/monitors/<key>.json
    genops dashboards grafana --out DIR   DIR/grafana/genops-ai-costs.json, DIR/prometheus/genops-alerts.yml

Each Datadog file is the body of one API call (`POST /api/v1/dashboard` or `/api/v1/monitor`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import datadog as dd
from . import grafana
from .dd_monitors import MonitorSettings, monitors
from .dd_validate import validate_dashboard, validate_monitor
from .plan import DashboardPlan
from .prom_rules import alert_rules, render_rules


@dataclass
class Bundle:
    """What a generator wrote: file paths, the bodies, and notes for the user."""

    files: list[Path] = field(default_factory=list)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    monitors: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _write(path: Path, text: str, bundle: Bundle) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror or exc}", field="--out") from None
    bundle.files.append(path)


def dump_json(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def build_datadog(plan: DashboardPlan, cfg: MonitorSettings | None = None, *, validate: bool = True) -> Bundle:
    """Dashboards and monitors for `plan`, each checked against the Datadog API models."""
    cfg = cfg or MonitorSettings()
    bundle = Bundle()
    bundle.dashboards = dd.dashboards(plan, org=cfg.org)
    generated = monitors(plan, cfg)
    bundle.monitors, bundle.notes = generated.bodies, generated.notes
    if validate:
        for stem, body in bundle.dashboards.items():
            validate_dashboard(body, f"dashboard {stem!r}")
        for key, body in bundle.monitors.items():
            validate_monitor(body, f"monitor {key!r}")
    return bundle


def write_datadog(plan: DashboardPlan, out: Path, cfg: MonitorSettings | None = None) -> Bundle:
    """Generate, check and write the Datadog bundle under `out/datadog/`."""
    bundle = build_datadog(plan, cfg)
    for stem, body in bundle.dashboards.items():
        _write(out / "datadog" / "dashboards" / f"{stem}.json", dump_json(body), bundle)
    for key, body in bundle.monitors.items():
        _write(out / "datadog" / "monitors" / f"{key}.json", dump_json(body), bundle)
    return bundle


def write_grafana(
    plan: DashboardPlan,
    out: Path,
    *,
    latency_ms: Decimal = Decimal(5000),
    cost_usd: Decimal = Decimal(100),
    window: str = "1h",
    title: str = "GenOps: AI Costs",
) -> Bundle:
    """Write the Grafana dashboard and the Prometheus alert rules under `out/`."""
    bundle = Bundle()
    _write(out / "grafana" / f"{grafana.UID}.json", dump_json(grafana.dashboard(plan, title=title)), bundle)
    rules = alert_rules(plan, latency_ms=latency_ms, cost_usd=cost_usd, window=window)
    _write(out / "prometheus" / "genops-alerts.yml", render_rules(rules), bundle)
    return bundle
