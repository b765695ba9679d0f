"""Human-readable reports: a rich table for the terminal and Markdown for chat, email or a wiki.

Both show the rows `--top` keeps, a row summing the ones it left out, and the total of every
row; money is exact (at least cents), shares and changes are percentages to 2 decimals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..ledger import SpendRow
from .report import Report, average, change, column_name, money, percent

HEADERS = ("Cost (USD)", "Share", "Change", "Requests", "Avg/request", "Input tokens", "Output tokens", "Unpriced")


def _pct(value: Decimal | None) -> str:
    return "" if value is None else f"{value:f}%"


def _change(report: Report, row: SpendRow, previous: SpendRow | None) -> str:
    if previous is None:
        return ""
    if previous.cost_usd == 0:
        return "new" if row.cost_usd else "±0.00%"
    _, pct = change(row, previous)
    return f"{'+' if pct and pct > 0 else ''}{pct:f}%"


def _figures(report: Report, row: SpendRow, previous: SpendRow | None) -> list[str]:
    cost = "unknown" if row.requests and row.unknown_cost_requests == row.requests else money(row.cost_usd)
    avg = average(row)
    return [
        cost,
        _pct(percent(row.cost_usd, report.total.cost_usd)),
        _change(report, row, previous),
        f"{row.requests:,}",
        "" if avg is None else money(avg),
        f"{row.input_tokens:,}",
        f"{row.output_tokens:,}",
        f"{row.unknown_cost_requests:,}",
    ]


def _labels(report: Report, row: SpendRow) -> list[str]:
    """The group cells of a row (one empty cell when the report is not grouped)."""
    if not report.group_by:
        return [""]
    return ["(none)" if row.group[g] is None else str(row.group[g]) for g in report.group_by]


def _lines(report: Report) -> tuple[list[list[str]], list[str]]:
    """(body rows, total row) as text cells: the label cells, then the HEADERS figures."""
    n = max(len(report.group_by), 1)
    body = [_labels(report, row) + _figures(report, row, report.previous(row)) for row in report.shown]
    others = report.others
    if others is not None:
        left_out = len(report.rows) - len(report.shown)
        body.append([f"({left_out:,} more)"] + [""] * (n - 1) + _figures(report, others, None))
    total = ["Total"] + [""] * (n - 1) + _figures(report, report.total, report.previous_total)
    return body, total


def _titles(report: Report) -> list[str]:
    return [column_name(g) for g in report.group_by] or [""]


def _caption(report: Report) -> str | None:
    notes = []
    unknown = report.total.unknown_cost_requests
    if unknown:
        notes.append(f"{unknown:,} unpriced requests (unknown model price, or a failed call without usage) are not in the cost.")
    if report.previous_period is not None and report.previous_total is not None:
        notes.append(f"Change vs {report.previous_period.label}: {money(report.previous_total.cost_usd)}.")
    return " ".join(notes) or None


def render_table(report: Report) -> Any:
    """A rich Table with a total row (or a one-line message when nothing was recorded)."""
    from rich.table import Table
    from rich.text import Text

    if not report.rows:
        return Text(f"No usage recorded in {report.period.label}.")
    body, total = _lines(report)
    show_footer = len(body) > 1
    table = Table(title=f"AI spend, {report.period.label}", caption=_caption(report), show_footer=show_footer)
    titles = _titles(report)
    for i, (title, footer) in enumerate(zip([*titles, *HEADERS], total)):
        table.add_column(title, footer=footer, justify="left" if i < len(titles) else "right")
    for line in body:
        table.add_row(*(Text(cell) for cell in line))  # values are data, never rich markup
    return table


def _md(cell: str) -> str:
    return cell.replace("\\", "\\\\").replace("|", "\\|")


def render_markdown(report: Report) -> str:
    """A Markdown section: heading, a pipe table with a bold total row, and notes."""
    heading = f"### AI spend, {report.period.label}\n\n"
    if not report.rows:
        return heading + "No usage recorded.\n"
    body, total = _lines(report)
    titles = _titles(report)
    out = [
        "| " + " | ".join(_md(h) for h in [*titles, *HEADERS]) + " |",
        "|" + "|".join(["---"] * len(titles) + ["---:"] * len(HEADERS)) + "|",
    ]
    out += ["| " + " | ".join(_md(c) for c in line) + " |" for line in body]
    out.append("| " + " | ".join(f"**{_md(c)}**" if c else "" for c in total) + " |")
    caption = _caption(report)
    return heading + "\n".join(out) + "\n" + (f"\n{caption}\n" if caption else "")
