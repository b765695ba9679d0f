"""`genops report`: spend for a period from the ledger, grouped, compared with the previous period.

JSON is an array of objects, one per group, most expensive first: the group fields, then
`cost_usd` (an exact decimal string), `requests`, `input_tokens`, `output_tokens`,
`unknown_cost_requests` (requests whose price was unknown: they are not counted as $0), and
since the reporting release `avg_cost_per_request_usd` (cost / priced requests, to the
picodollar), `share_of_total_pct` (of the period's total cost, 2 decimals),
`previous_cost_usd` and `previous_requests` (the same group in the previous period),
`change_usd` (exact) and `change_pct` (2 decimals; null when the group cost nothing before).
Percentages are decimal strings too. CSV has the same columns, with a header.

A custom attribute is grouped by its own name (`--group-by competitor`, or `attr:competitor`);
its column is named after the key.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..ledger import Ledger, SpendRow
from ..ledger.query import CUSTOM_PREFIX, GROUP_FIELDS, check_group_by, custom_key
from ..ledger.rows import MONEY_CONTEXT, decimal_text, tidy
from .periods import Period, previous_period

FORMATS = ("table", "json", "csv", "markdown")
COLUMNS = (
    "cost_usd", "requests", "input_tokens", "output_tokens", "unknown_cost_requests",
    "avg_cost_per_request_usd", "share_of_total_pct", "previous_cost_usd", "previous_requests", "change_usd",
    "change_pct",
)  # fmt: skip
# The case study's questions, as group-by + top N.
PRESETS: dict[str, tuple[str, int | None]] = {
    "top-customers": ("customer_id", 10),  # "Top 10 Customers by AI Cost"
    "expensive-operations": ("operation", 10),  # "Most Expensive Operations"
    "models": ("model", None),  # "Model Usage Summary"
    "teams": ("team", None),
}
_PICO = Decimal("1e-12")
_PCT = Decimal("0.01")


def resolve_group_by(text: str | Sequence[str]) -> tuple[str, ...]:
    """Report group-by names: built-in fields, `attr:<key>`, or any other name as a custom
    attribute key. A near miss of a built-in field (`teem`) is an error, not a custom attribute."""
    names = [g for g in (p.strip() for p in text.split(","))] if isinstance(text, str) else list(text)
    out = []
    for name in (n for n in names if n):
        if name not in GROUP_FIELDS and not name.startswith(CUSTOM_PREFIX):
            close = difflib.get_close_matches(name, GROUP_FIELDS, n=1, cutoff=0.75)
            if close:
                raise ConfigError(
                    f"unknown group-by field {name!r} (did you mean {close[0]!r}?); "
                    f"for a custom attribute of that name use {CUSTOM_PREFIX}{name}",
                    field="group_by",
                )
            name = CUSTOM_PREFIX + name
        out.append(name)
    return check_group_by(out)


def column_name(field_name: str) -> str:
    """The output column of a group field (`attr:competitor` -> `competitor`)."""
    return custom_key(field_name) or field_name


@dataclass(frozen=True)
class Report:
    period: Period
    group_by: tuple[str, ...]
    rows: list[SpendRow]
    previous_period: Period | None = None
    previous_rows: list[SpendRow] = field(default_factory=list)
    top: int | None = None

    @property
    def total(self) -> SpendRow:
        """The sum of every row (exact), top N or not."""
        return _sum(self.rows)

    @property
    def previous_total(self) -> SpendRow | None:
        return None if self.previous_period is None else _sum(self.previous_rows)

    @property
    def shown(self) -> list[SpendRow]:
        """The rows to show: the first `top` (all without --top)."""
        return self.rows if self.top is None else self.rows[: self.top]

    @property
    def others(self) -> SpendRow | None:
        """The rows left out by --top, summed (None when nothing was left out)."""
        rest = self.rows[len(self.shown) :]
        return _sum(rest) if rest else None

    @cached_property
    def _previous_by_group(self) -> dict[tuple[Any, ...], SpendRow]:
        return {tuple(r.group.values()): r for r in self.previous_rows}

    def previous(self, row: SpendRow) -> SpendRow | None:
        """The same group's spend in the previous period (zero if it spent nothing; None without a comparison)."""
        if self.previous_period is None:
            return None
        found = self._previous_by_group.get(tuple(row.group.values()))
        return found or SpendRow(row.group, Decimal(0), 0, 0, 0, 0)


def _sum(rows: Sequence[SpendRow]) -> SpendRow:
    return SpendRow(
        group={},
        cost_usd=tidy(sum((r.cost_usd for r in rows), Decimal(0))),
        unknown_cost_requests=sum(r.unknown_cost_requests for r in rows),
        requests=sum(r.requests for r in rows),
        input_tokens=sum(r.input_tokens for r in rows),
        output_tokens=sum(r.output_tokens for r in rows),
    )


def build_report(
    ledger: Ledger,
    period: Period,
    group_by: Sequence[str] | str = (),
    filters: Mapping[str, Any] | None = None,
    *,
    now: datetime | None = None,
    top: int | None = None,
) -> Report:
    """Spend in `period`, grouped by `group_by` (built-in fields, `attr:<key>`, or a list/`"team,project"`),
    most expensive first; with `now`, also the previous period's spend for the same groups."""
    groups = resolve_group_by(group_by)
    if top is not None and top < 1:
        raise ConfigError(f"--top must be at least 1, not {top}", field="top")
    rows = ledger.spend(period.start, period.end, groups, filters)
    if now is None:
        return Report(period, groups, rows, top=top)
    before = previous_period(period, now)
    previous = ledger.spend(before.start, before.end, groups, filters)
    return Report(period, groups, rows, before, previous, top)


# -- figures ----------------------------------------------------------------------------------


def average(row: SpendRow) -> Decimal | None:
    """Cost per priced request, rounded half-even to the picodollar (None: nothing was priced)."""
    priced = row.requests - row.unknown_cost_requests
    if priced <= 0:
        return None
    with localcontext(MONEY_CONTEXT):
        return tidy((row.cost_usd / priced).quantize(_PICO, rounding=ROUND_HALF_EVEN))


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """100 * part / whole to 2 decimals (None when whole is 0)."""
    if whole == 0:
        return None
    with localcontext(MONEY_CONTEXT):
        return (part * 100 / whole).quantize(_PCT, rounding=ROUND_HALF_EVEN)


def change(row: SpendRow, previous: SpendRow | None) -> tuple[Decimal | None, Decimal | None]:
    """(cost change in USD, in percent of the previous cost) — (None, None) without a comparison."""
    if previous is None:
        return None, None
    return row.cost_usd - previous.cost_usd, percent(row.cost_usd - previous.cost_usd, previous.cost_usd)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def records(report: Report) -> list[dict[str, Any]]:
    """One JSON-ready dict per shown row; money and percentages as exact decimal strings."""
    total = report.total.cost_usd
    out = []
    for row in report.shown:
        record: dict[str, Any] = {column_name(g): row.group[g] for g in report.group_by}
        prev = report.previous(row)
        delta, delta_pct = change(row, prev)
        record.update(
            cost_usd=decimal_text(row.cost_usd),
            requests=row.requests,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            unknown_cost_requests=row.unknown_cost_requests,
            avg_cost_per_request_usd=_text(average(row)),
            share_of_total_pct=_text(percent(row.cost_usd, total)),
            previous_cost_usd=None if prev is None else decimal_text(prev.cost_usd),
            previous_requests=None if prev is None else prev.requests,
            change_usd=_text(delta),
            change_pct=_text(delta_pct),
        )
        out.append(record)
    return out


def render_json(report: Report) -> str:
    return json.dumps(records(report), indent=2) + "\n"


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*(column_name(g) for g in report.group_by), *COLUMNS])
    for record in records(report):
        writer.writerow(["" if v is None else v for v in record.values()])
    return buffer.getvalue()


def money(value: Decimal) -> str:
    """`$1,234.50`, `$0.00012345`: exact, at least cents."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return f"${value:,f}"


def render_table(report: Report) -> Any:
    """A rich Table (see render.py)."""
    from .render import render_table as table

    return table(report)


def ledger_url_for(ledger_url: str | None, config_path: str | Path | None) -> str | None:
    """`--ledger`, else the configuration's `storage.url` (file from `--config` or
    `$GENOPS_CONFIG`, with `GENOPS_STORAGE_URL`), else None (the default ledger)."""
    if ledger_url:
        return ledger_url
    from ..config_loader import load_settings

    return load_settings(config_path).storage.url


def check_format(fmt: str, formats: Sequence[str] = FORMATS, what: str = "report") -> str:
    fmt = fmt.strip().lower()
    if fmt not in formats:
        raise ConfigError(f"unknown {what} format {fmt!r}; use one of {', '.join(formats)}", field="format")
    return fmt
