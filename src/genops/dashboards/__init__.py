"""Dashboards and alerts generated from `genops.yaml`, over the metric names the SDK emits.

- `genops dashboards datadog --out DIR [--push]`: the case study's per-team and all-teams
  Datadog dashboards and its monitors (`datadog.py`, `dd_monitors.py`), checked against the
  `datadog-api-client` models (`dd_validate.py`) and optionally created (`dd_push.py`).
- `genops dashboards grafana --out DIR`: a Grafana dashboard (`grafana.py`) and Prometheus
  alert rules (`prom_rules.py`) over the names the `prometheus` exporter serves (`prom_names.py`).

Teams and budgets come from the configuration (`plan.py`).
"""

from __future__ import annotations

from .plan import BudgetScope, DashboardPlan, load_plan, plan_from_settings

__all__ = ["BudgetScope", "DashboardPlan", "load_plan", "plan_from_settings"]
