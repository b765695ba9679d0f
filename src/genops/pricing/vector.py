"""Prices of vector-database operations (Pinecone, Weaviate, Chroma).

A vector event carries its billing units in `Usage.units`:

- `read_units`, `write_units`: Pinecone serverless read/write units (priced per million);
- `queries`, `upserts`, `deletes`: the request itself (priced per request, for databases
  configured with a per-operation price);
- `storage_mb_hours`: a storage snapshot (`record_storage`), priced per GB-month;
- `vectors`: records read, written or deleted (informational, never priced).

Where prices come from:

- Pinecone: `PINECONE_SERVERLESS` below (reviewed public list price, source and date), with
  any field overridden by `pricing.vector_db.pinecone` in `genops.yaml`.
- Weaviate, Chroma (usually self-hosted): only `pricing.vector_db.<name>`. A configured database
  is priced exactly as configured (a field left out costs $0: a self-hosted Chroma configured as
  `chroma: {}` is priced at $0 with `source: config`). An unconfigured one is priced as unknown
  (`cost.total is None`), never silently $0.

Storage: `storage_mb_hours / (1000 * HOURS_PER_MONTH)` GB-months (1 GB = 1000 MB, a month =
730 hours, the usual cloud convention); that cost is rounded half-even to the picodollar.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from ..events import Cost, Usage

logger = logging.getLogger("genops.pricing")

VECTOR_PROVIDERS = frozenset({"pinecone", "weaviate", "chroma"})
MILLION = Decimal(1_000_000)
HOURS_PER_MONTH = 730
MB_PER_GB = 1000
PICO = Decimal("1e-12")

# unit name -> (price field, divisor)
_PER_MILLION = {"read_units": "read_unit_per_million", "write_units": "write_unit_per_million"}
_PER_REQUEST = {"queries": "query", "upserts": "upsert", "deletes": "delete"}
STORAGE_UNIT = "storage_mb_hours"


@dataclass(frozen=True)
class VectorPrice:
    """Prices of one vector database. `None` means "not set" (see the module doc)."""

    provider: str
    read_unit_per_million: Decimal | None = None
    write_unit_per_million: Decimal | None = None
    storage_gb_month: Decimal | None = None
    query: Decimal | None = None  # USD per query request
    upsert: Decimal | None = None  # USD per insert/upsert request
    delete: Decimal | None = None  # USD per delete request
    source: str = "config"
    checked: str | None = None
    url: str = ""
    note: str = ""

    def cost(self, usage: Usage) -> Cost:
        """The exact cost of `usage` at these prices (a price not set counts as $0)."""
        zero = Decimal(0)
        parts: dict[str, Decimal] = {}
        for unit, field_name in _PER_MILLION.items():
            if count := usage.units.get(unit, 0):
                parts[unit] = count * (getattr(self, field_name) or zero) / MILLION
        for unit, field_name in _PER_REQUEST.items():
            if count := usage.units.get(unit, 0):
                parts[unit] = count * (getattr(self, field_name) or zero)
        if mb_hours := usage.units.get(STORAGE_UNIT, 0):
            rate = self.storage_gb_month or zero
            parts["storage"] = (mb_hours * rate / (MB_PER_GB * HOURS_PER_MONTH)).quantize(PICO, ROUND_HALF_EVEN)
        total = sum(parts.values(), zero)
        return Cost(total=total, components=parts, source=self.source, version=self.checked)


PINECONE_PRICING = "https://www.pinecone.io/pricing/"

# Pinecone serverless, Standard plan, AWS us-east-1 (the case study's Team A). Enterprise plans
# and other regions list higher rates ($16-$18 per million RUs, $4-$4.50 per million WUs): set
# `pricing.vector_db.pinecone` in genops.yaml to yours.
PINECONE_SERVERLESS = VectorPrice(
    provider="pinecone",
    read_unit_per_million=Decimal(16),
    write_unit_per_million=Decimal(4),
    storage_gb_month=Decimal("0.33"),
    query=Decimal(0),
    upsert=Decimal(0),
    delete=Decimal(0),
    source="genops-vector-defaults",
    checked="2026-12-04",
    url=PINECONE_PRICING,
    note=(
        "Pinecone's pricing page could not be read from the build environment; the figures are its "
        "Standard-plan on-demand rates for AWS us-east-1 as transcribed from that page by independent "
        "price tables (captured 2026-10-07 and 2026-11-04), which agree: $16 per 1M read units, $4 per "
        "1M write units, $0.33 per GB-month of storage."
    ),
)

DEFAULTS: Mapping[str, VectorPrice] = {"pinecone": PINECONE_SERVERLESS}
PRICE_FIELDS = ("read_unit_per_million", "write_unit_per_million", "storage_gb_month", "query", "upsert", "delete")


class VectorPricer:
    """Prices vector events from the defaults table and `pricing.vector_db` config."""

    def __init__(self, configured: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.prices: dict[str, VectorPrice] = dict(DEFAULTS)
        for provider, values in (configured or {}).items():
            # price fields only (PRICE_FIELDS), so they can be passed as keyword arguments
            given: dict[str, Any] = {k: _decimal(v) for k, v in values.items() if k in PRICE_FIELDS and v is not None}
            base = DEFAULTS.get(provider)
            if base is not None:
                self.prices[provider] = replace(base, source="config" if given else base.source, **given)
            else:
                self.prices[provider] = VectorPrice(provider=provider, **given)
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def is_known(self, provider: str) -> bool:
        return provider in self.prices

    def price(self, provider: str, usage: Usage) -> Cost:
        if usage.provenance == "unavailable":
            return Cost(total=None, source="no-usage")
        entry = self.prices.get(provider)
        if entry is None:
            self._warn(provider)
            return Cost(total=None, source="unknown-vector-price")
        return entry.cost(usage)

    def _warn(self, provider: str) -> None:
        with self._lock:
            if provider in self._warned:
                return
            self._warned.add(provider)
        logger.warning(
            "GenOps has no prices for %s: its operations are recorded with cost unknown. Set "
            "pricing.vector_db.%s in genops.yaml (e.g. `%s: {query: 0}` for a self-hosted database).",
            provider, provider, provider,
        )  # fmt: skip


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))
