"""`genops budget ...`: operate budgets.

    genops budget status [--config genops.yaml] [--format table|json]
    genops budget override team_c_budget --limit 12000 --until 2024-06-30 [--scope team=sales] [--reason ...]
    genops budget overrides            # list stored overrides (active and expired)
    genops budget clear-override team_c_budget [--scope team=sales]

Overrides live in the policy store (shared by every process); a raised limit applies to the
next call everywhere and stops applying at `--until` (a date means through the end of that day
in the budget's timezone).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import typer

from .._cli_options import ConfigOpt
from ..errors import ConfigError

budget_app = typer.Typer(help="Budgets: status and temporary limit overrides.", no_args_is_help=True)

@contextmanager
def _engine(config: Path | None) -> Iterator[Any]:
    from ..config_loader import load_settings
    from ..ledger import open_ledger
    from . import build_engine

    settings = load_settings(config)
    ledger = open_ledger(settings.storage.url)
    engine = None
    try:
        engine = build_engine(settings, SimpleNamespace(pricer=None, ledger=ledger))
        if engine is None or not engine.budget_rules:
            raise ConfigError("no budget policies are configured", path=str(settings.source_path or "") or None,
                              field="policies")  # fmt: skip
        yield engine
    finally:
        if engine is not None:
            engine.close()
        ledger.close()


def _money(value: Decimal) -> str:
    from .attempt import money

    return money(value)


def _json_value(value: Any) -> str:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _when(value: Any, tz: str = "UTC") -> str:
    from zoneinfo import ZoneInfo

    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M ") + tz


@budget_app.command("status")
def status(config: ConfigOpt = None, fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table") -> None:
    """Each budget: spent, reserved, remaining, percent, period end and projected spend."""
    from .. import _clock
    from .status import budget_status

    with _engine(config) as engine:
        now = _clock.now()
        rows = budget_status(engine, now)
        zones = {r.name: r.policy.timezone for r in engine.budget_rules}
    if fmt == "json":
        typer.echo(json.dumps([r.as_dict() for r in rows], default=_json_value, indent=2))
        return
    if fmt != "table":
        raise ConfigError(f"unknown format {fmt!r}; use table or json", field="format")
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Budgets at {_when(now)}")
    for name, justify in (("Policy", "left"), ("Scope", "left"), ("Enforcement", "left"), ("Spent", "right"),
                          ("Reserved", "right"), ("Limit", "right"), ("Remaining", "right"), ("%", "right"),
                          ("Period end", "left"), ("Projected", "right")):  # fmt: skip
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        limit = _money(r.limit)
        if r.override is not None:
            limit += f"\n(override until {_when(r.override.until, zones[r.policy])})"
        style = "red" if r.percent >= 100 else "yellow" if r.percent >= 80 else None
        table.add_row(Text(r.policy), Text(r.scope), r.enforcement, _money(r.spent), _money(r.reserved), limit,
                      _money(r.remaining), f"{r.percent}%", _when(r.period_end, zones[r.policy]),
                      _money(r.projected), style=style)  # fmt: skip
    import sys

    Console(width=None if sys.stdout.isatty() else 160).print(table)


@budget_app.command("override")
def override(
    policy: Annotated[str, typer.Argument(help="The budget policy's name.")],
    limit: Annotated[str, typer.Option("--limit", help="The temporary limit in USD, e.g. 12000.")],
    until: Annotated[str, typer.Option("--until", help="Last day (2024-06-30) or an ISO datetime.")],
    scope: Annotated[str, typer.Option("--scope", help="One value of a `per` budget, e.g. team=sales.")] = "*",
    reason: Annotated[str | None, typer.Option("--reason", help="Why (shown in listings).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Raise (or lower) a budget's limit until a date; stored in the shared policy store."""
    from .. import _clock
    from .status import parse_until
    from .store import Override

    try:
        amount = Decimal(limit)
    except InvalidOperation:
        raise ConfigError(f"--limit {limit!r} is not a number", field="limit") from None
    if not amount.is_finite() or amount <= 0:
        raise ConfigError(f"--limit must be a positive amount in USD, got {limit}", field="limit")
    with _engine(config) as engine:
        rule = next((r for r in engine.budget_rules if r.name == policy), None)
        if rule is None:
            names = ", ".join(r.name for r in engine.budget_rules)
            raise ConfigError(f"no budget policy named {policy!r} (budgets: {names})", field="policy")
        if scope != "*":
            per, _, value = scope.partition("=")
            if per != rule.policy.per or not value:
                raise ConfigError(f"--scope {scope!r}: {policy} is not a per-{per or '?'} budget "
                                  f"(per: {rule.policy.per}); use --scope {rule.policy.per}=VALUE", field="scope")  # fmt: skip
        try:
            end = parse_until(until, rule.policy.timezone)
        except ValueError as exc:
            raise ConfigError(str(exc), field="until") from None
        now = _clock.now()
        if end <= now:
            raise ConfigError(f"--until {until} is already past", field="until")
        engine.store.set_override(Override(policy, scope, amount, end, now, reason))
    shown = "" if scope == "*" else f" for {scope}"
    typer.echo(f"{policy}{shown}: limit {_money(amount)} (configured {_money(rule.policy.limit)}) "
               f"until {_when(end, rule.policy.timezone)}")  # fmt: skip


@budget_app.command("overrides")
def overrides(config: ConfigOpt = None) -> None:
    """List stored overrides, active and expired."""
    from .. import _clock

    with _engine(config) as engine:
        now = _clock.now()
        items = engine.store.overrides()
    if not items:
        typer.echo("no overrides")
    for o in items:
        state = "active" if o.active(now) else "expired"
        why = f" ({o.reason})" if o.reason else ""
        typer.echo(f"{o.policy} [{o.scope}] {_money(o.limit)} until {_when(o.until)}: {state}{why}")


@budget_app.command("clear-override")
def clear_override(
    policy: Annotated[str, typer.Argument(help="The budget policy's name.")],
    scope: Annotated[str, typer.Option("--scope", help="The override's scope value.")] = "*",
    config: ConfigOpt = None,
) -> None:
    """Remove an override (the configured limit applies again)."""
    with _engine(config) as engine:
        removed = engine.store.clear_override(policy, scope)
    typer.echo(f"{policy} [{scope}]: override removed" if removed else f"{policy} [{scope}]: no override")
