"""What a budget alert says, rendered for each channel.

`BudgetAlert` holds the facts (the crossing, the period's top cost drivers, where it came from);
`subject`, `text_body`, `slack_blocks` and `webhook_payload` render them. Money in the webhook
JSON is an exact decimal string (`"8100.00"`, `"0.0125"`), never a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..policy.crossing import BudgetCrossing
from .drivers import Driver, Drivers

PAYLOAD_TYPE = "genops.budget.threshold"
PAYLOAD_VERSION = 1
CENT = Decimal("0.01")
UNATTRIBUTED = "(unattributed)"


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A budget threshold crossing with the context a reader needs to act on it."""

    crossing: BudgetCrossing
    drivers: Drivers
    period: str | None = None  # monthly, ... (None when the policy is not known here)
    service: str | None = None
    environment: str | None = None


# -- numbers ------------------------------------------------------------------------------------


def exact(value: Decimal) -> str:
    """An exact decimal string with at least cents: 8100 -> "8100.00", 0.0125 -> "0.0125"."""
    normal = value.normalize()
    if normal == 0 or normal.as_tuple().exponent >= -2:  # type: ignore[operator]
        return str(value.quantize(CENT))
    return format(normal, "f")


def usd(value: Decimal) -> str:
    """`$8,100.00` (sub-cent amounts keep their digits: `$0.0125`)."""
    text = exact(value)
    whole, _, frac = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}${int(whole.lstrip('-')):,}.{frac}"


def threshold_percent(threshold: float) -> str:
    """0.8 -> "80", 0.925 -> "92.5"."""
    return format((Decimal(repr(threshold)) * 100).normalize(), "f")


def local_time(when: datetime, tz: str) -> str:
    """`2026-04-01 00:00 UTC` / `2026-04-01 00:00 Europe/Berlin` (the budget's own timezone)."""
    return when.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M ") + tz


# -- text ---------------------------------------------------------------------------------------


def subject(alert: BudgetAlert) -> str:
    """`GenOps budget alert: team_a_budget at 80% (teams=[support]: $8,100.00 of $10,000.00)`."""
    c = alert.crossing
    return f"GenOps budget alert: {c.policy} at {threshold_percent(c.threshold)}% ({c.scope}: {usd(c.spent)} of {usd(c.limit)})"


def headline(alert: BudgetAlert) -> str:
    c = alert.crossing
    period = f"{alert.period} " if alert.period else ""
    what = "has reached its" if c.exceeded else f"has reached {threshold_percent(c.threshold)}% of its"
    return f"Budget {c.policy} ({c.enforcement}) {what} {period}limit."


def consequence(alert: BudgetAlert) -> str:
    c = alert.crossing
    if c.enforcement == "BLOCKED":
        return "BLOCKED: calls that could take spend over the limit are refused until the period ends."
    return "WARNING: calls continue; spend past the limit is recorded, not refused."


def facts(alert: BudgetAlert) -> list[tuple[str, str]]:
    """(label, value) pairs shown by every channel."""
    c = alert.crossing
    return [
        ("Scope", c.scope),
        ("Spent", f"{usd(c.spent)} of {usd(c.limit)} ({c.percent}%)"),
        ("Remaining", usd(c.remaining)),
        ("Period ends", local_time(c.period_end, c.timezone)),
        ("Enforcement", consequence(alert)),
    ]


def driver_lines(drivers: tuple[Driver, ...]) -> list[str]:
    return [f"{d.name or UNATTRIBUTED}: {usd(d.cost_usd)} ({d.requests} request{'' if d.requests == 1 else 's'})"
            for d in drivers]  # fmt: skip


def text_body(alert: BudgetAlert) -> str:
    """The plain-text message (email body)."""
    lines = [headline(alert), ""]
    width = max(len(label) for label, _ in facts(alert)) + 2
    lines += [f"{label + ':':<{width}}{value}" for label, value in facts(alert)]
    for title, drivers in (("Top models", alert.drivers.models), ("Top customers", alert.drivers.customers)):
        if drivers:
            lines += ["", f"{title} this period:"] + [f"  - {line}" for line in driver_lines(drivers)]
    if not alert.drivers.complete:
        lines += ["", "(The ledger did not yet hold all of this period's spend when the drivers were read.)"]
    origin = " ".join(filter(None, [alert.service, f"({alert.environment})" if alert.environment else None]))
    lines += ["", f"Sent by GenOps{' for ' + origin if origin else ''}. Run `genops budget status` for live figures."]
    return "\n".join(lines) + "\n"


# -- Slack --------------------------------------------------------------------------------------


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_blocks(alert: BudgetAlert) -> list[dict[str, Any]]:
    """Block Kit blocks: header, facts, top drivers, origin."""
    c = alert.crossing
    header = f"GenOps budget alert: {c.policy} at {threshold_percent(c.threshold)}%"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(headline(alert))}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{_mrkdwn(value)}"} for label, value in facts(alert)
        ]},
    ]  # fmt: skip
    for title, drivers in (("Top models", alert.drivers.models), ("Top customers", alert.drivers.customers)):
        if drivers:
            items = "\n".join(f"• {_mrkdwn(line)}" for line in driver_lines(drivers))
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*{title} this period*\n{items}"}})
    origin = " · ".join(filter(None, [alert.service, alert.environment]))
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": _mrkdwn(f"GenOps{' · ' + origin if origin else ''} · `genops budget status` for live figures")}
    ]})  # fmt: skip
    return blocks


# -- webhook ------------------------------------------------------------------------------------


def _driver_json(d: Driver, key: str) -> dict[str, Any]:
    return {key: d.name, "cost_usd": exact(d.cost_usd), "requests": d.requests}


def webhook_payload(alert: BudgetAlert) -> dict[str, Any]:
    """The JSON object POSTed by `webhook` channels (documented in docs/alerts.md)."""
    c = alert.crossing
    return {
        "type": PAYLOAD_TYPE,
        "version": PAYLOAD_VERSION,
        "policy": c.policy,
        "enforcement": c.enforcement,
        "scope": c.scope,
        "team": c.team,
        "project": c.project,
        "customer_id": c.customer_id,
        "threshold": format(Decimal(repr(c.threshold)), "f"),
        "threshold_percent": threshold_percent(c.threshold),
        "spent_usd": exact(c.spent),
        "limit_usd": exact(c.limit),
        "remaining_usd": exact(c.remaining),
        "percent": str(c.percent),
        "exceeded": c.exceeded,
        "period": alert.period,
        "period_start": c.period_start.isoformat(),
        "period_end": c.period_end.isoformat(),
        "timezone": c.timezone,
        "top_models": [_driver_json(d, "model") for d in alert.drivers.models],
        "top_customers": [_driver_json(d, "customer_id") for d in alert.drivers.customers],
        "drivers_complete": alert.drivers.complete,
        "service": alert.service,
        "environment": alert.environment,
        "text": subject(alert),
    }
