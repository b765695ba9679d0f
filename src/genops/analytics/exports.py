"""Finance exports: FOCUS rows as CSV or Parquet, and chargeback invoice lines as CSV.

FOCUS (focus.py): CSV with a header, values as FOCUS writes them (null = empty cell, exact
decimal numbers, ISO 8601 UTC dates); Parquet (the `parquet` extra, pyarrow) with decimal128(38, 18)
money and quantities, UTC timestamps and int64 counts.

Chargeback: one invoice line per customer for the period, for a finance system's CSV import
(the case study's SaaS chargeback, SKU "AI API Usage"). Columns:

    line_id       stable external id: genops-<first day>-<last day>-<customer_id> (re-imports update)
    customer_id   the attributed customer
    period_start  first day of the period (YYYY-MM-DD, reporting timezone)
    period_end    last day of the period, inclusive
    sku           `reporting.chargeback_sku` (default "AI API Usage")
    description   "AI API Usage, 2026-03-01 .. 2026-03-31: 1,234 requests, 567,890 tokens"
    quantity      1 (one usage charge per period)
    unit_price    = amount
    amount        cost x (1 + markup), rounded half-up to cents: what to invoice
    currency      USD
    cost_usd      the exact AI cost (no markup, no rounding)
    markup_pct    `reporting.chargeback_markup_percent`
    requests, input_tokens, output_tokens
    unpriced_requests  requests of unknown price (not in cost_usd: check before invoicing)

Usage without a customer_id is not invoiced; `chargeback_lines` returns it separately.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError, GenOpsError
from ..ledger import Ledger, SpendRow
from ..ledger.rows import MONEY_CONTEXT, decimal_text
from .focus import COLUMNS, COUNT_COLUMNS, DATE_COLUMNS, MONEY_COLUMNS, QUANTITY_COLUMNS, iso
from .periods import Period

EXPORT_FORMATS = ("focus", "chargeback")
CHARGEBACK_COLUMNS: tuple[str, ...] = (
    "line_id", "customer_id", "period_start", "period_end", "sku", "description", "quantity", "unit_price", "amount",
    "currency", "cost_usd", "markup_pct", "requests", "input_tokens", "output_tokens", "unpriced_requests",
)  # fmt: skip
_CENTS = Decimal("0.01")
logger = logging.getLogger("genops.analytics")


# -- FOCUS ------------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return iso(value)
    return value


def write_focus_csv(rows: Iterable[dict[str, Any]], out: IO[str]) -> int:
    """Write FOCUS rows as CSV (header first); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    n = 0
    for row in rows:
        writer.writerow([_cell(row[c]) for c in COLUMNS])
        n += 1
    return n


def write_focus_parquet(rows: Iterable[dict[str, Any]], path: Path, batch_rows: int = 50_000) -> int:
    """Write FOCUS rows to a Parquet file (needs pyarrow: `pip install 'genops-ai[parquet]'`)."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise GenOpsError("Parquet export needs pyarrow: pip install 'genops-ai[parquet]'") from None
    decimal = pa.decimal128(38, 18)
    types = {c: pa.string() for c in COLUMNS}
    types.update({c: decimal for c in (*MONEY_COLUMNS, *QUANTITY_COLUMNS)})
    types.update({c: pa.timestamp("us", tz="UTC") for c in DATE_COLUMNS})
    types.update({c: pa.int64() for c in COUNT_COLUMNS})
    schema = pa.schema([(c, types[c]) for c in COLUMNS], metadata={b"focus_version": b"1.2"})
    quantum = Decimal(1).scaleb(-18)
    rounded = 0

    def value(column: str, v: Any) -> Any:
        nonlocal rounded
        if isinstance(v, Decimal):
            with localcontext(MONEY_CONTEXT):
                q = v.quantize(quantum)
            rounded += q != v
            return q
        return v

    n = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in rows:
            batch.append({c: value(c, row[c]) for c in COLUMNS})
            if len(batch) >= batch_rows:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n += len(batch)
                batch = []
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
        n += len(batch)
    if rounded:
        logger.warning(
            "GenOps: %d values had more than 18 decimal places and were rounded half-even in Parquet "
            "(the CSV export is exact)",
            rounded,
        )
    return n


# -- chargeback -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chargeback:
    lines: list[dict[str, Any]]
    unattributed: SpendRow | None  # usage with no customer_id (not invoiced)


def chargeback_lines(
    ledger: Ledger, period: Period, *, sku: str = "AI API Usage", markup_percent: Decimal = Decimal(0)
) -> Chargeback:
    """One invoice line per customer with usage in `period`, most expensive first."""
    if markup_percent < 0:
        raise ConfigError(f"chargeback markup must not be negative, not {markup_percent}", field="markup")
    lines, unattributed = [], None
    for row in ledger.spend(period.start, period.end, ["customer_id"]):
        customer = row.group["customer_id"]
        if customer is None:
            unattributed = row
            continue
        with localcontext(MONEY_CONTEXT):
            amount = (row.cost_usd * (1 + markup_percent / 100)).quantize(_CENTS, rounding=ROUND_HALF_UP)
        tokens = row.input_tokens + row.output_tokens
        lines.append(
            {
                "line_id": f"genops-{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}-{customer}",
                "customer_id": customer,
                "period_start": period.first_day.isoformat(),
                "period_end": period.last_day.isoformat(),
                "sku": sku,
                "description": f"{sku}, {period.days}: {row.requests:,} requests, {tokens:,} tokens",
                "quantity": 1,
                "unit_price": decimal_text(amount),
                "amount": decimal_text(amount),
                "currency": "USD",
                "cost_usd": decimal_text(row.cost_usd),
                "markup_pct": decimal_text(markup_percent),
                "requests": row.requests,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "unpriced_requests": row.unknown_cost_requests,
            }
        )
    return Chargeback(lines, unattributed)


def write_chargeback_csv(chargeback: Chargeback, out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=CHARGEBACK_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(chargeback.lines)
    return len(chargeback.lines)
