"""What the dashboards and alerts are generated from: the teams and budgets in `genops.yaml`.

A `DashboardPlan` is read from one or more configuration files (the case study has one per
service: support, knowledge, sales). Teams come from each budget policy's `teams` and from
`attribution.team`, in the order they first appear. Each budget policy becomes a
`BudgetScope`: its limit (exact Decimal), period, enforcement, thresholds and the metric
attributes it covers, named as the SDK's `genops.*` metrics name them (`team`, `project`,
`customer_id`, `environment`, `model`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..config import Settings
from ..errors import ConfigError
from ..policy.schema import BudgetPolicy
from ..telemetry import names as n

# Budget scope filter -> the bare `genops.*` metric attribute it matches.
_TEAM, _PROJECT, _CUSTOMER, _ENVIRONMENT, _MODEL = ("team", "project", "customer_id", "environment", "model")
assert {_TEAM, _PROJECT, _CUSTOMER, _ENVIRONMENT, _MODEL} <= set(n.METRIC_ATTRIBUTES)

# `per:` of a budget policy -> the metric attribute whose every value has its own budget.
_PER_ATTRIBUTE = {"team": _TEAM, "project": _PROJECT, "customer": _CUSTOMER, "scope": None}

# Budget period -> its length in seconds (dashboard rollups, rolling alert windows).
PERIOD_SECONDS = {
    "daily": 86_400,
    "weekly": 604_800,
    "monthly": 2_592_000,  # 30 days, the case study's `.rollup(sum, 2592000)`
    "quarterly": 7_776_000,
    "yearly": 31_536_000,
}
PERIOD_NOUN = {"daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter", "yearly": "year"}


@dataclass(frozen=True)
class BudgetScope:
    """One budget policy as the dashboards and alerts see it.

    `filters`: (metric attribute, allowed values) pairs, all of which must match (values of
    one attribute are alternatives; `model` values are glob patterns). `per`: the attribute
    whose every value has its own budget of `limit` (None: one budget for the whole scope).
    """

    name: str
    limit: Decimal
    period: str
    timezone: str
    enforcement: str
    thresholds: tuple[Decimal, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...]
    per: str | None
    source: str | None = None

    @property
    def period_seconds(self) -> int:
        return PERIOD_SECONDS[self.period]

    @property
    def teams(self) -> tuple[str, ...]:
        return dict(self.filters).get(_TEAM, ())

    @property
    def label(self) -> str:
        """A short display name: the team for a one-team budget, else the policy name."""
        teams = self.teams
        if len(teams) == 1 and len(self.filters) == 1 and self.per is None:
            return teams[0]
        return self.name

    def amount(self, fraction: Decimal) -> Decimal:
        """`fraction` of the limit, exact."""
        return self.limit * fraction


@dataclass(frozen=True)
class DashboardPlan:
    """Teams (in first-seen order) and budgets the generated dashboards and alerts cover."""

    teams: tuple[str, ...]
    budgets: tuple[BudgetScope, ...]
    sources: tuple[str, ...] = ()


def budget_scope(policy: BudgetPolicy, source: str | None = None) -> BudgetScope:
    """The dashboard view of one budget policy."""
    filters: list[tuple[str, tuple[str, ...]]] = []
    for attribute, values in (
        (_TEAM, policy.teams),
        (_PROJECT, policy.projects),
        (_CUSTOMER, policy.customers),
        (_ENVIRONMENT, policy.environments),
        (_MODEL, policy.models),
    ):
        if values:
            filters.append((attribute, tuple(dict.fromkeys(values))))
    return BudgetScope(
        name=policy.name,
        limit=policy.limit,
        period=policy.period,
        timezone=policy.timezone,
        enforcement=policy.enforcement,
        thresholds=tuple(Decimal(repr(t)) for t in policy.thresholds),
        filters=tuple(filters),
        per=_PER_ATTRIBUTE[policy.per],
        source=source,
    )


def plan_from_settings(settings: Iterable[Settings]) -> DashboardPlan:
    """Merge the teams and budget policies of several configurations.

    The same policy name in two files must describe the same budget (else a ConfigError names
    both files).
    """
    teams: dict[str, None] = {}
    budgets: dict[str, BudgetScope] = {}
    sources: list[str] = []
    for s in settings:
        source = str(s.source_path) if s.source_path else None
        if source:
            sources.append(source)
        for policy in s.parsed_policies():
            if not isinstance(policy, BudgetPolicy):
                continue
            scope = budget_scope(policy, source)
            teams.update(dict.fromkeys(scope.teams))
            known = budgets.get(scope.name)
            if known is None:
                budgets[scope.name] = scope
            elif _without_source(known) != _without_source(scope):
                raise ConfigError(
                    f"budget policy {scope.name!r} differs between {known.source or 'settings'} and "
                    f"{source or 'settings'}; give the two budgets different names",
                    path=source,
                    field="policies.name",
                )
        if s.attribution.team:
            teams.setdefault(s.attribution.team, None)
    return DashboardPlan(teams=tuple(teams), budgets=tuple(budgets.values()), sources=tuple(sources))


def load_plan(config_paths: Sequence[str | Path]) -> DashboardPlan:
    """Load each configuration file (or `$GENOPS_CONFIG` when none is given) and merge them."""
    from ..config_loader import load_settings

    if not config_paths:
        return plan_from_settings([load_settings(None)])
    return plan_from_settings([load_settings(p) for p in config_paths])


def _without_source(scope: BudgetScope) -> BudgetScope:
    return BudgetScope(**{**scope.__dict__, "source": None})


def plain(value: Decimal) -> str:
    """A Decimal without exponent or trailing zeros: 8000.00 -> '8000', 0.50 -> '0.5'."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def percent(fraction: Decimal) -> str:
    """0.8 -> '80'."""
    return plain(fraction * 100)
