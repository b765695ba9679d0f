"""`genops report`: spend for a period from the ledger, grouped, as a table, JSON or CSV.

JSON is an array of objects: the group fields, then `cost_usd` (an exact decimal string),
`requests`, `input_tokens`, `output_tokens` and `unknown_cost_requests` (requests whose price was
unknown: they are not counted as $0). CSV has the same columns, with a header.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..ledger import Ledger, SpendRow
from ..ledger.query import check_group_by
from ..ledger.rows import decimal_text
from .periods import Period

FORMATS = ("table", "json", "csv")
COLUMNS = ("cost_usd", "requests", "input_tokens", "output_tokens", "unknown_cost_requests")


@dataclass(frozen=True)
class Report:
    period: Period
    group_by: tuple[str, ...]
    rows: list[SpendRow]

    @property
    def total(self) -> SpendRow:
        """The sum of every row (exact)."""
        return SpendRow(
            group={},
            cost_usd=sum((r.cost_usd for r in self.rows), Decimal(0)),
            unknown_cost_requests=sum(r.unknown_cost_requests for r in self.rows),
            requests=sum(r.requests for r in self.rows),
            input_tokens=sum(r.input_tokens for r in self.rows),
            output_tokens=sum(r.output_tokens for r in self.rows),
        )


def build_report(
    ledger: Ledger, period: Period, group_by: Sequence[str] | str = (), filters: Mapping[str, Any] | None = None
) -> Report:
    """Spend in `period`, grouped by `group_by` (a list or `"team,project"`), most expensive first."""
    groups = check_group_by(group_by)
    return Report(period, groups, ledger.spend(period.start, period.end, groups, filters))


def records(report: Report) -> list[dict[str, Any]]:
    """One JSON-ready dict per row; money as exact decimal strings."""
    out = []
    for row in report.rows:
        record: dict[str, Any] = {g: row.group[g] for g in report.group_by}
        record.update(
            cost_usd=decimal_text(row.cost_usd),
            requests=row.requests,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            unknown_cost_requests=row.unknown_cost_requests,
        )
        out.append(record)
    return out


def render_json(report: Report) -> str:
    return json.dumps(records(report), indent=2) + "\n"


def render_csv(report: Report) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*report.group_by, *COLUMNS])
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
    """A rich Table with a total row (or a one-line message when nothing was recorded)."""
    from rich.table import Table
    from rich.text import Text

    if not report.rows:
        return Text(f"No usage recorded in {report.period.label}.")
    total = report.total
    caption = None
    if total.unknown_cost_requests:
        caption = f"{total.unknown_cost_requests:,} unpriced requests (unknown model price) are not in the cost."
    table = Table(title=f"AI spend, {report.period.label}", caption=caption, show_footer=len(report.rows) > 1)
    for i, field in enumerate(report.group_by):
        table.add_column(field, footer="Total" if i == 0 else "")
    numbers = [
        ("Cost (USD)", money(total.cost_usd)),
        ("Requests", f"{total.requests:,}"),
        ("Input tokens", f"{total.input_tokens:,}"),
        ("Output tokens", f"{total.output_tokens:,}"),
        ("Unpriced", f"{total.unknown_cost_requests:,}"),
    ]
    for title, footer in numbers:
        table.add_column(title, justify="right", footer=footer)
    for row in report.rows:
        groups = ["(none)" if row.group[g] is None else str(row.group[g]) for g in report.group_by]
        table.add_row(
            *groups,
            "unknown" if row.unknown_cost_requests == row.requests else money(row.cost_usd),
            f"{row.requests:,}",
            f"{row.input_tokens:,}",
            f"{row.output_tokens:,}",
            f"{row.unknown_cost_requests:,}",
        )
    return table


def ledger_url_for(ledger_url: str | None, config_path: str | Path | None) -> str | None:
    """`--ledger`, else the configuration's `storage.url` (file from `--config` or
    `$GENOPS_CONFIG`, with `GENOPS_STORAGE_URL`), else None (the default ledger)."""
    if ledger_url:
        return ledger_url
    from ..config_loader import load_settings

    return load_settings(config_path).storage.url


def check_format(fmt: str) -> str:
    fmt = fmt.strip().lower()
    if fmt not in FORMATS:
        raise ConfigError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}", field="format")
    return fmt
