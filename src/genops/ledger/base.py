"""The ledger interface, shared by the SQLite and PostgreSQL backends, and `open_ledger(url)`.

The ledger is append-only and idempotent on event id. Each `write` is one transaction that
inserts the new events and adds them to the daily rollup (`genops_daily_spend`: sums per UTC
day and team/project/customer/provider/model/operation/environment/operation kind/status).
`spend` answers from the rollup when the range is whole UTC days and every group/filter field is
a rollup dimension, and from raw events otherwise; both give the same exact totals.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any, Protocol, Self
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError, GenOpsError
from ..events import UsageEvent
from . import query
from .rows import (
    MONEY_CONTEXT,
    day_of,
    event_to_row,
    from_pico,
    is_utc_midnight,
    residual,
    rollup_deltas,
    row_to_event,
    tidy,
    to_us,
)

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


class LedgerUnavailableError(GenOpsError):
    """The store could not be reached, or stayed locked/busy: the operation can be retried."""


@dataclass(frozen=True)
class SpendRow:
    """Spend of one group: `group` maps each group-by field to its value (None = unattributed)."""

    group: Mapping[str, str | None]
    cost_usd: Decimal  # exact sum of the known costs
    unknown_cost_requests: int  # requests whose price was unknown (not counted as $0)
    requests: int
    input_tokens: int
    output_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return {**self.group, "cost_usd": self.cost_usd, "unknown_cost_requests": self.unknown_cost_requests,
                "requests": self.requests, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens}  # fmt: skip


class Transaction(Protocol):
    def insert_events(self, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        """Insert rows, ignoring ids already present; the indices of the rows inserted."""

    def executemany(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None: ...


@dataclass
class _Group:
    values: tuple[Any, ...]
    pico: int = 0
    unknown: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    inexact: int = 0
    extra: Decimal = field(default_factory=lambda: Decimal(0))


class Ledger(ABC):
    """Append-only store of usage events. Thread-safe; safe across processes."""

    dialect: str = ""
    PAGE_SIZE = 1000

    # -- backend hooks ------------------------------------------------------------------------

    @abstractmethod
    def _transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction (serialised with other writers)."""

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[Query]:
        """A read-only, consistent view; yields `query(sql, params) -> rows` (`?` placeholders)."""

    @abstractmethod
    def applied_migrations(self) -> list[tuple[str, str]]:
        """(name, applied_at ISO time) of every migration applied to this store, in order."""

    @abstractmethod
    def close(self) -> None:
        """Close every connection this ledger opened."""

    # -- writing ------------------------------------------------------------------------------

    def write(self, events: Sequence[UsageEvent]) -> int:
        """Append `events` in one transaction; ids already stored are ignored. Returns rows inserted."""
        batch = sorted(events, key=lambda e: e.id)  # a fixed lock order: concurrent writers cannot deadlock
        if not batch:
            return 0
        rows = [event_to_row(e) for e in batch]
        with self._transaction() as tx:
            new = [batch[i] for i in tx.insert_events(rows)]
            deltas = sorted(rollup_deltas(new), key=lambda d: (d[0], d[1]))
            if deltas:
                tx.executemany(query.upsert_rollup_sql(), deltas)
        return len(new)

    # -- reading ------------------------------------------------------------------------------

    def spend(
        self,
        start: datetime,
        end: datetime,
        group_by: Sequence[str] = (),
        filters: Mapping[str, Any] | None = None,
    ) -> list[SpendRow]:
        """Spend of events starting in [start, end), grouped, most expensive first.

        `group_by` fields: team, project, customer_id, provider, model (the response model, else
        the requested one), operation, environment, user_id, operation_kind. `filters` maps a
        field (those, or service/status/request_model/response_model) to a value, None (unset),
        or a collection of values. Naive datetimes are taken as UTC.
        """
        return self._spend(start, end, group_by, filters, use_rollup=None)

    def _spend(
        self,
        start: datetime,
        end: datetime,
        group_by: Sequence[str],
        filters: Mapping[str, Any] | None,
        use_rollup: bool | None,
    ) -> list[SpendRow]:
        groups = query.check_group_by(group_by)
        checked = query.check_filters(filters)
        start_us, end_us = to_us(start), to_us(end)
        if end_us <= start_us:
            return []
        if use_rollup is None:
            use_rollup = is_utc_midnight(start) and is_utc_midnight(end) and query.rollup_can_answer(groups, checked)
        if use_rollup:
            sql, params = query.rollup_spend(groups, checked, day_of(start).isoformat(), day_of(end).isoformat())
        else:
            sql, params = query.raw_spend(groups, checked, start_us, end_us)
        n = len(groups)
        totals: dict[tuple[Any, ...], _Group] = {}
        with self._snapshot() as q:
            for row in q(sql, params):
                values = tuple(row[:n])
                pico, unknown, requests, tin, tout, inexact = (int(v or 0) for v in row[n:])
                if requests:
                    totals[values] = _Group(values, pico, unknown, requests, tin, tout, inexact)
            if any(g.inexact for g in totals.values()):
                sql, params = query.inexact_costs(groups, checked, start_us, end_us)
                for row in q(sql, params):
                    totals[tuple(row[:n])].extra += residual(row[n], row[n + 1])
        out = []
        for g in totals.values():
            with localcontext(MONEY_CONTEXT):
                cost = tidy(from_pico(g.pico) + g.extra)
            out.append(
                SpendRow(dict(zip(groups, g.values)), cost, g.unknown, g.requests, g.input_tokens, g.output_tokens)
            )
        out.sort(key=lambda r: (-r.cost_usd, -r.requests, [(v is None, v or "") for v in r.group.values()]))
        return out

    def events(
        self, start: datetime | None = None, end: datetime | None = None, **filters: Any
    ) -> Iterator[UsageEvent]:
        """Stored events starting in [start, end), oldest first, read in pages. `filters` as in `spend`."""
        checked = query.check_filters(filters)
        start_us = None if start is None else to_us(start)
        end_us = None if end is None else to_us(end)
        after: tuple[int, str] | None = None
        while True:
            sql, params = query.event_page(checked, start_us, end_us, after, self.PAGE_SIZE)
            with self._snapshot() as q:
                rows = q(sql, params)
            for row in rows:
                yield row_to_event(row)
            if len(rows) < self.PAGE_SIZE:
                return
            after = (rows[-1][1], rows[-1][0])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- opening ----------------------------------------------------------------------------------


def genops_home() -> Path:
    return Path(os.environ.get("GENOPS_HOME") or "~/.genops").expanduser()


def default_ledger_url() -> str:
    """`sqlite:///<GENOPS_HOME or ~/.genops>/ledger.db` (an absolute path: four slashes)."""
    return f"sqlite:///{genops_home().resolve() / 'ledger.db'}"


def redact(url: str) -> str:
    """`url` without its password, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rsplit("@", 1)
        user = netloc[0].split(":", 1)[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))
    except ValueError:
        return "<unparseable URL>"


def open_ledger(url: str | None = None) -> Ledger:
    """Open (creating and migrating as needed) the ledger at `url`.

    None -> the default SQLite file; `sqlite:///relative/path` or `sqlite:////absolute/path`;
    `postgresql://user@host:port/db` (psycopg 3; `?options=-csearch_path%3Dschema` selects a schema).
    """
    if url is None or not url.strip():
        url = default_ledger_url()
    url = url.strip()
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise ConfigError(f"bad SQLite ledger URL {url!r}: use sqlite:///relative/path or sqlite:////absolute/path",
                              field="storage.url")  # fmt: skip
        from .sqlite import SQLiteLedger

        return SQLiteLedger(url[len("sqlite:///") :])
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from .postgres import PostgresLedger

        return PostgresLedger("postgresql" + url[len(scheme) :])
    raise ConfigError(
        f"unsupported ledger URL {redact(url)!r}: use sqlite:///path or postgresql://...", field="storage.url"
    )
