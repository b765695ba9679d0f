"""Datadog monitors of the case study ("Configured Alerts" and Step 1.6), from the configured budgets.

Per budget policy: one monitor per threshold (the case study's "Budget Alert - 80% of Monthly
Limit"), and for a BLOCKED budget the "Budget Hard Limit" at 100%. Budgets are calendar
periods in GenOps, so monthly and daily budgets use Datadog's cumulative evaluation windows
(`current_1mo` from the 1st, `current_1d` from midnight, in the policy's timezone); a weekly
budget uses the rolling `last_1w`; quarterly and yearly budgets are longer than any metric
monitor window (one month) and get none (`MonitorSet.notes` says so).

Also: an anomaly monitor on cost by team, and "High Latency + High Cost" as a composite of a
latency and a cost monitor. A composite names its parts by Datadog monitor id, known only once
they exist: its query holds `${monitor:<key>}` placeholders that `push` fills in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from ..telemetry import names as n
from .datadog import master_dashboard_title, team_dashboard_title
from .dd_query import metric_query
from .plan import PERIOD_NOUN, BudgetScope, DashboardPlan, percent, plain

COST, LATENCY = n.METRIC_COST_TOTAL, n.METRIC_LATENCY
PLACEHOLDER = re.compile(r"\$\{monitor:([a-z0-9-]+)\}")
MANAGED_TAG = "managed-by:genops"

HIGH_LATENCY_KEY = "high-latency"
HIGH_COST_KEY = "high-cost"
COMPOSITE_KEY = "high-latency-high-cost"
ANOMALY_KEY = "cost-anomaly"


@dataclass(frozen=True)
class MonitorSettings:
    """Knobs of the generated monitors (defaults: the case study's figures)."""

    notify: tuple[str, ...] = ()  # e.g. ("@slack-ai-cost-alerts", "@team-a-leads")
    site: str = "datadoghq.com"  # for links in messages
    latency_ms: Decimal = Decimal(5000)
    cost_usd: Decimal = Decimal(100)
    window: str = "last_1h"  # of the latency and cost parts of the composite
    anomaly_deviations: int = 2
    org: str | None = None


@dataclass
class MonitorSet:
    """Monitor key -> `POST /api/v1/monitor` body (composites last), and notes on budgets left out."""

    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def app_url(site: str) -> str:
    """https://app.datadoghq.com for the US1 site, https://<site> for the regional ones (us3, us5, ap1...)."""
    host = f"app.{site}" if site in ("datadoghq.com", "datadoghq.eu") else site
    return f"https://{host}"


def dashboard_link(title: str, site: str) -> str:
    """A link that finds the dashboard by title (its id is only known once created)."""
    return f"{app_url(site)}/dashboard/lists?q={quote(title)}"


def _number(value: Decimal) -> int | float:
    """A JSON number for a monitor threshold (the same figure as in the query)."""
    return int(value) if value == value.to_integral_value() else float(plain(value))


def _window(budget: BudgetScope) -> tuple[str, dict[str, Any] | None] | None:
    tz = budget.timezone
    if budget.period == "monthly":
        return "current_1mo", {"month_starts": 1, "day_starts": "00:00", "timezone": tz}
    if budget.period == "daily":
        return "current_1d", {"day_starts": "00:00", "timezone": tz}
    if budget.period == "weekly":
        return "last_1w", None
    return None


def _who(budget: BudgetScope) -> str:
    if budget.per:
        return f"{budget.name} ({{{{{budget.per}.name}}}})"
    teams = budget.teams
    if len(teams) == 1 and budget.label == teams[0]:
        return f"Team {teams[0]}"
    return budget.name


def _dashboard_title(budget: BudgetScope, cfg: MonitorSettings) -> str:
    teams = budget.teams
    return team_dashboard_title(teams[0]) if len(teams) == 1 else master_dashboard_title(cfg.org)


def _tags(budget: BudgetScope, kind: str) -> list[str]:
    teams = [f"team:{t}" for t in budget.teams]
    return [*teams, f"budget:{kind}", f"policy:{slug(budget.name)}", MANAGED_TAG]


def _handles(cfg: MonitorSettings) -> str:
    return ("\n\n" + " ".join(cfg.notify)) if cfg.notify else ""


def budget_monitors(budget: BudgetScope, cfg: MonitorSettings) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The monitors of one budget, or a note saying why it has none."""
    window = _window(budget)
    if window is None:
        return {}, (
            f"budget {budget.name!r} is {budget.period}: Datadog metric monitors evaluate at most one month, "
            "so it has no monitor (GenOps still enforces it; the Prometheus rules and `genops budget status` cover it)"
        )
    span, evaluation_window = window
    by = [budget.per] if budget.per else []
    spend = metric_query("sum", COST, budget.filters, by, as_count=True)
    noun = PERIOD_NOUN[budget.period]
    period = budget.period.capitalize()
    who = _who(budget)
    link = dashboard_link(_dashboard_title(budget, cfg), cfg.site)
    fractions = [t for t in budget.thresholds if t < 1 or budget.enforcement == "WARNING"]
    if budget.enforcement == "BLOCKED":
        fractions.append(Decimal(1))
    out: dict[str, dict[str, Any]] = {}
    for fraction in fractions:
        amount = budget.amount(fraction)
        hard = budget.enforcement == "BLOCKED" and fraction == 1
        if hard:
            key = f"budget-{slug(budget.name)}-hard-limit"
            name = f"{who}: Budget Hard Limit - 100% of {period} Limit"
            lead = (f"🛑 {who} has reached its {budget.period} budget: {{{{value}}}} USD of ${plain(budget.limit)}.\n\n"
                    f"**Action**: GenOps policy `{budget.name}` (BLOCKED) now refuses calls that would exceed it.")
        else:
            key = f"budget-{slug(budget.name)}-{percent(fraction)}"
            name = f"{who}: Budget Alert - {percent(fraction)}% of {period} Limit"
            lead = (f"⚠️ {who} has spent {{{{value}}}} USD this {noun}: over {percent(fraction)}% "
                    f"(${plain(amount)}) of its {budget.period} budget.")
        message = (
            f"{lead}\n\n"
            f"**Budget**: ${plain(budget.limit)} per {noun} (policy `{budget.name}`, {budget.enforcement})\n"
            f"**Alert at**: ${plain(amount)} ({percent(fraction)}%)\n\n"
            f"**Top Cost Drivers**:\n"
            f"- Check the [{_dashboard_title(budget, cfg)}]({link}) dashboard\n"
            f"- Review the customer-level breakdown: `genops report --period this-{noun} --group-by customer_id`"
            f"{_handles(cfg)}"
        )
        options: dict[str, Any] = {
            "thresholds": {"critical": _number(amount)},
            "notify_no_data": False,
            "include_tags": True,
            "require_full_window": False,
        }
        if evaluation_window is not None:
            options["scheduling_options"] = {"evaluation_window": evaluation_window}
        out[key] = {
            "name": name,
            "type": "metric alert",
            "query": f"sum({span}):{spend} > {plain(amount)}",
            "message": message,
            "tags": _tags(budget, "hard-limit" if hard else "alert"),
            "priority": 1 if fraction >= 1 else 2,
            "options": options,
        }
    return out, None


def anomaly_monitor(cfg: MonitorSettings) -> dict[str, Any]:
    """"Anomaly Detection": cost by team far above its usual pattern."""
    series = metric_query("sum", COST, by=["team"], as_count=True)
    query = (f"avg(last_4h):anomalies({series}, 'agile', {cfg.anomaly_deviations}, direction='above', "
             "alert_window='last_15m', interval=60, count_default_zero='true') >= 1")
    return {
        "name": "AI Cost Anomaly by Team",
        "type": "query alert",
        "query": query,
        "message": ("📈 AI spend of team {{team.name}} is far above its usual pattern "
                    "(e.g. a team that normally spends $400/day suddenly spending $1,200/day).\n\n"
                    f"- Check the [{master_dashboard_title(cfg.org)}]"
                    f"({dashboard_link(master_dashboard_title(cfg.org), cfg.site)}) dashboard\n"
                    "- `genops report --period today --group-by team,operation`"
                    f"{_handles(cfg)}"),
        "tags": ["budget:anomaly", MANAGED_TAG],
        "priority": 3,
        "options": {
            "thresholds": {"critical": 1.0},
            "threshold_windows": {"trigger_window": "last_15m", "recovery_window": "last_15m"},
            "notify_no_data": False,
            "include_tags": True,
        },
    }


def latency_cost_monitors(cfg: MonitorSettings) -> dict[str, dict[str, Any]]:
    """"High Latency + High Cost": two silent parts and the composite that notifies."""
    latency = metric_query("avg", LATENCY, by=["team"])
    cost = metric_query("sum", COST, by=["team"], as_count=True)
    part_options = {"notify_no_data": False, "include_tags": True}
    return {
        HIGH_LATENCY_KEY: {
            "name": f"AI Latency High (avg > {plain(cfg.latency_ms)} ms)",
            "type": "metric alert",
            "query": f"avg({cfg.window}):{latency} > {plain(cfg.latency_ms)}",
            "message": "Part of the composite monitor \"Expensive Slow AI Queries\" (no notification of its own).",
            "tags": ["alert:latency", MANAGED_TAG],
            "options": {**part_options, "thresholds": {"critical": _number(cfg.latency_ms)}},
        },
        HIGH_COST_KEY: {
            "name": f"AI Cost High (> ${plain(cfg.cost_usd)} over {cfg.window.removeprefix('last_')})",
            "type": "metric alert",
            "query": f"sum({cfg.window}):{cost} > {plain(cfg.cost_usd)}",
            "message": "Part of the composite monitor \"Expensive Slow AI Queries\" (no notification of its own).",
            "tags": ["alert:cost", MANAGED_TAG],
            "options": {**part_options, "thresholds": {"critical": _number(cfg.cost_usd)}},
        },
        COMPOSITE_KEY: {
            "name": "Expensive Slow AI Queries (High Latency + High Cost)",
            "type": "composite",
            "query": f"${{monitor:{HIGH_LATENCY_KEY}}} && ${{monitor:{HIGH_COST_KEY}}}",
            "message": ("🐢💸 Expensive slow queries detected - possible optimization opportunity.\n\n"
                        f"Average latency above {plain(cfg.latency_ms)} ms and more than ${plain(cfg.cost_usd)} "
                        f"spent over the {cfg.window.removeprefix('last_')} window for team {{{{team.name}}}}."
                        f"{_handles(cfg)}"),
            "tags": ["alert:latency-cost", MANAGED_TAG],
            "priority": 3,
        },
    }


def monitors(plan: DashboardPlan, cfg: MonitorSettings | None = None) -> MonitorSet:
    """Every monitor for `plan` (keys are stable file stems; composites come last)."""
    cfg = cfg or MonitorSettings()
    result = MonitorSet()
    for budget in plan.budgets:
        bodies, note = budget_monitors(budget, cfg)
        result.bodies.update(bodies)
        if note:
            result.notes.append(note)
    result.bodies[ANOMALY_KEY] = anomaly_monitor(cfg)
    result.bodies.update(latency_cost_monitors(cfg))
    return result


def monitor_refs(body: dict[str, Any]) -> list[str]:
    """Keys of the monitors a composite's query refers to."""
    return PLACEHOLDER.findall(body.get("query", "")) if body.get("type") == "composite" else []


def resolve_refs(body: dict[str, Any], ids: dict[str, int]) -> dict[str, Any]:
    """A composite body with its `${monitor:key}` placeholders replaced by Datadog monitor ids."""
    if body.get("type") != "composite":
        return body
    return {**body, "query": PLACEHOLDER.sub(lambda m: str(ids[m.group(1)]), body["query"])}
