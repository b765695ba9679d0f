"""The ledger interface, shared by the SQLite and PostgreSQL backends, and `open_ledger(url)`.

The ledger is append-only and idempotent on event id. Each `write` is one transaction that
inserts the new events and adds them to the rollups (`genops_daily_spend` per UTC day and
`genops_hourly_spend` per UTC hour: sums per team/project/customer/provider/model/operation/
environment/operation kind/status). When every group/filter field is a rollup dimension, `spend`
reads whole UTC days from the daily rollup, the whole hours around them from the hourly one and
only sub-hour edges from raw events (plan.py); otherwise (user_id, custom attributes, service,
request/response model) it scans the raw events of the range. Every path gives the same exact totals.
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
from . import query, rollups
from .plan import plan
from .rows import (
    EVENT_COLUMNS,
    HOURLY_TABLE,
    MONEY_CONTEXT,
    day_of,
    event_to_row,
    from_pico,
    hourly_deltas,
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

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement; returns a cursor."""

    def lock_events(self) -> None:
        """Keep other writers out of the events table until the transaction ends."""


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
    url: str = ""  # the store's URL (it names the ledger's spool, spool.py)
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
            if new:
                tx.executemany(query.upsert_rollup_sql(), sorted(rollup_deltas(new), key=lambda d: (d[0], d[1])))
                tx.executemany(query.upsert_hourly_sql(), sorted(hourly_deltas(new), key=lambda d: (d[0], d[1])))
        return len(new)

    def rebuild_rollups(self, progress: rollups.Progress | None = None) -> int:
        """Recompute both rollups from the raw events, in one transaction (writers wait; readers see
        the old rollups until it commits). `progress(days_done, days)` is called per UTC day.
        Returns the number of events summed."""
        with self._transaction() as tx:
            tx.lock_events()
            return rollups.rebuild(tx.execute, tx.executemany, progress=progress)

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
        the requested one), operation, environment, user_id, operation_kind, status, service, and
        `attr:<key>` for a custom attribute. `filters` maps a field (those, or request_model/
        response_model) to a value, None (unset), or a collection of values. Naive datetimes are
        taken as UTC. Answered from the rollups where they can (see the module docstring).
        """
        return self._spend(start, end, group_by, filters, use_rollup=None)

    def _spend(
        self,
        start: datetime,
        end: datetime,
        group_by: Sequence[str],
        filters: Mapping[str, Any] | None,
        use_rollup: bool | str | None,
    ) -> list[SpendRow]:
        """`use_rollup`: None plans (rollups where they can answer), False reads raw events only,
        True the daily rollup only (whole UTC days), "hourly" the hourly rollup only (whole hours)."""
        groups = query.check_group_by(group_by)
        checked = query.check_filters(filters)
        start_us, end_us = to_us(start), to_us(end)
        if end_us <= start_us:
            return []
        statements: list[tuple[str, list[Any]]] = []
        if use_rollup is None and query.rollup_can_answer(groups, checked):
            for seg in plan(start_us, end_us):
                if seg.source == "daily":
                    statements.append(query.rollup_spend(groups, checked, *seg.days))
                elif seg.source == "hourly":
                    statements.append(query.rollup_spend(groups, checked, seg.start_us, seg.end_us, HOURLY_TABLE))
                else:
                    statements.append(query.raw_spend(groups, checked, seg.start_us, seg.end_us, self.dialect))
        elif use_rollup is True:
            if not (is_utc_midnight(start) and is_utc_midnight(end)):
                raise ValueError("the daily rollup answers whole UTC days only")
            statements.append(query.rollup_spend(groups, checked, day_of(start).isoformat(), day_of(end).isoformat()))
        elif use_rollup == "hourly":
            statements.append(query.rollup_spend(groups, checked, start_us, end_us, HOURLY_TABLE))
        else:
            statements.append(query.raw_spend(groups, checked, start_us, end_us, self.dialect))
        n = len(groups)
        totals: dict[tuple[Any, ...], _Group] = {}
        with self._snapshot() as q:
            for sql, params in statements:
                for row in q(sql, params):
                    values = tuple(row[:n])
                    pico, unknown, requests, tin, tout, inexact = (int(v or 0) for v in row[n:])
                    if not requests:
                        continue
                    g = totals.get(values)
                    if g is None:
                        totals[values] = _Group(values, pico, unknown, requests, tin, tout, inexact)
                    else:
                        g.pico += pico
                        g.unknown += unknown
                        g.requests += requests
                        g.input_tokens += tin
                        g.output_tokens += tout
                        g.inexact += inexact
            if any(g.inexact for g in totals.values()):
                sql, params = query.inexact_costs(groups, checked, start_us, end_us, self.dialect)
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
        for row in self.rows(EVENT_COLUMNS, start, end, filters):
            yield row_to_event(row)

    def rows(
        self,
        columns: Sequence[str],
        start: datetime | None = None,
        end: datetime | None = None,
        filters: Mapping[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[tuple[Any, ...]]:
        """Raw event rows (the given `EVENT_COLUMNS`, in that order) starting in [start, end),
        oldest first, read in pages of `page_size` (for exports: cheaper than whole events)."""
        unknown = [c for c in columns if c not in EVENT_COLUMNS]
        if unknown:
            raise ValueError(f"not ledger event columns: {unknown}")
        checked = query.check_filters(filters)
        start_us = None if start is None else to_us(start)
        end_us = None if end is None else to_us(end)
        size = page_size or self.PAGE_SIZE
        n = len(columns)
        after: tuple[int, str] | None = None
        while True:
            sql, params = query.event_page(checked, start_us, end_us, after, size, self.dialect, columns)
            with self._snapshot() as q:
                page = q(sql, params)
            for row in page:
                yield tuple(row[:n])
            if len(page) < size:
                return
            after = (page[-1][n], page[-1][n + 1])

    def count(self, start: datetime | None = None, end: datetime | None = None) -> int:
        """The number of events starting in [start, end)."""
        sql, params = query.count_events(None if start is None else to_us(start), None if end is None else to_us(end))
        with self._snapshot() as q:
            return int(q(sql, params)[0][0])

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


POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def split_storage_url(url: str | None, *, what: str = "", field: str | None = None) -> tuple[str, str]:
    """The kind of store at `url` and its target: ("sqlite", file path), ("postgresql", a psycopg
    URL) or (the scheme, the URL) for others. None or blank: the default SQLite ledger file.
    A malformed SQLite URL raises ConfigError ("bad SQLite {what}URL", naming `field`)."""
    if url is None or not url.strip():
        url = default_ledger_url()
    url = url.strip()
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise ConfigError(f"bad SQLite {what}URL {url!r}: use sqlite:///relative/path or sqlite:////absolute/path",
                              field=field)  # fmt: skip
        return "sqlite", url[len("sqlite:///") :]
    if scheme in POSTGRES_SCHEMES:
        return "postgresql", "postgresql" + url[len(scheme) :]
    return scheme, url


def open_ledger(url: str | None = None, *, allow_unreachable: bool = False) -> Ledger:
    """Open (creating and migrating as needed) the ledger at `url`.

    None -> the default SQLite file; `sqlite:///relative/path` or `sqlite:////absolute/path`;
    `postgresql://user@host:port/db` (psycopg 3; `?options=-csearch_path%3Dschema` selects a schema).
    An unreachable PostgreSQL store raises LedgerUnavailableError, unless `allow_unreachable`
    (the runtime: events are spooled meanwhile); its schema is then checked on first use.
    """
    kind, target = split_storage_url(url, what="ledger ", field="storage.url")
    if kind == "sqlite":
        from .sqlite import SQLiteLedger

        return SQLiteLedger(target)
    if kind == "postgresql":
        from .postgres import PostgresLedger

        return PostgresLedger(target, allow_unreachable=allow_unreachable)
    raise ConfigError(
        f"unsupported ledger URL {redact(target)!r}: use sqlite:///path or postgresql://...", field="storage.url"
    )
