"""Policy state on PostgreSQL (psycopg 3): shared by every process on every host.

One connection per thread (and per process), autocommit; every step is one call of a PL/pgSQL
function (see `postgres_sql.py`), so reserve + settle are two round trips. A broken connection is
replaced on next use; an unreachable server raises `StoreError`.

Durability: the store's sessions use `synchronous_commit = off` (a commit does not wait for its
WAL flush; an fsync per reservation would cost milliseconds on a busy disk). Atomicity and
isolation are unchanged; only a crash of the PostgreSQL server itself can lose the last fraction
of a second of counter updates (like Redis without AOF, or SQLite WAL with synchronous=NORMAL on
power loss). The ledger, written on its own connections, stays fully durable and is the source of
truth. To make counter updates durable too, put `options=-csynchronous_commit%3Don` in the URL.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import Any

from ...ledger.base import redact
from . import postgres_sql as sql
from .base import (
    CounterKey,
    CounterMissing,
    CounterState,
    CounterStore,
    Override,
    RateResult,
    ReserveResult,
    SettleResult,
    StoreError,
    from_nano,
    from_timestamp,
    new_id,
    threshold_label,
    to_nano,
    window_retry_after,
)  # fmt: skip

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the install
    psycopg = None  # type: ignore[assignment]

CONNECT_TIMEOUT_SECONDS = 5


class PostgresStore(CounterStore):
    kind = "postgres"

    def __init__(self, url: str) -> None:
        if psycopg is None:
            raise StoreError("the PostgreSQL policy store needs psycopg: pip install 'genops-ai[postgres]'")
        self.url = url
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._migrated = False
        with suppress(StoreError):  # an unreachable server is an outage: retried on first use
            self._migrate()

    # -- plumbing ---------------------------------------------------------------------------------

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid() and not conn.closed and not conn.broken:
            return conn
        conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        if "synchronous_commit" not in self.url:
            conn.execute("SET synchronous_commit = off")
        with self._lock:
            self._connections = [c for c in self._connections if not c.closed]
            self._connections.append(conn)
        if not self._migrated:
            self._migrate_on(conn)
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreError(f"PostgreSQL policy store {redact(self.url)} unavailable: {exc}") from exc

    def _one(self, query: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        with self._translated():
            return self._conn().execute(query, params).fetchone()

    def _all(self, query: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._translated():
            return self._conn().execute(query, params).fetchall()

    def _migrate(self) -> None:
        with self._translated():
            self._conn()

    def _migrate_on(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (sql.SCHEMA_LOCK_KEY,))
            for statement in sql.TABLES:
                conn.execute(statement)
            row = conn.execute("SELECT max(version) FROM genops_policy_schema").fetchone()
            if row is None or row[0] is None or row[0] < sql.SCHEMA_VERSION:
                for statement in sql.FUNCTIONS:
                    conn.execute(statement)
                conn.execute("DELETE FROM genops_policy_schema")
                conn.execute("INSERT INTO genops_policy_schema (version) VALUES (%s)", (sql.SCHEMA_VERSION,))
        self._migrated = True

    # -- budgets ------------------------------------------------------------------------------

    def reserve(self, key: CounterKey, amount: int, limit: int, now: datetime, ttl_seconds: float) -> ReserveResult:
        t, rid = now.timestamp(), new_id()
        row = self._one(
            "SELECT * FROM genops_budget_reserve(%s, %s, %s, %s, %s, %s, %s, %s)",
            (key.policy, key.scope, key.period_start, amount, limit, t, t + ttl_seconds, rid),
        )
        assert row is not None
        status, spent, reserved, lim = row
        if status < 0:
            raise CounterMissing(key)
        return ReserveResult(status == 1, int(spent), int(reserved), int(lim), rid if status == 1 else None)

    def settle(self, key: CounterKey, reservation_id: str | None, amount: int | None, limit: int, now: datetime) -> SettleResult:
        row = self._one(
            "SELECT * FROM genops_budget_settle(%s, %s, %s, %s, %s::BIGINT, %s, %s)",
            (key.policy, key.scope, key.period_start, reservation_id, amount, limit, now.timestamp()),
        )
        assert row is not None
        status, before, after, lim = row
        if status < 0:
            raise CounterMissing(key)
        return SettleResult(int(before), int(after), int(lim))

    def release(self, key: CounterKey, reservation_id: str) -> None:
        with self._translated():
            conn = self._conn()
            with conn.transaction():
                row = conn.execute(
                    "DELETE FROM genops_budget_reservations WHERE id = %s RETURNING amount", (reservation_id,)
                ).fetchone()
                if row:
                    conn.execute(
                        "UPDATE genops_budget_counters SET reserved = GREATEST(reserved - %s, 0) "
                        "WHERE policy = %s AND scope = %s AND period_start = %s",
                        (row[0], key.policy, key.scope, key.period_start),
                    )

    _STATE_SQL = """SELECT c.scope, c.spent,
        (SELECT COALESCE(SUM(r.amount), 0) FROM genops_budget_reservations r
         WHERE r.policy = c.policy AND r.scope = c.scope AND r.period_start = c.period_start AND r.expires_at > %(now)s),
        genops_budget_limit(c.policy, c.scope, %(limit)s, %(now)s)
        FROM genops_budget_counters c WHERE c.policy = %(policy)s AND c.period_start = %(period)s"""

    def read(self, key: CounterKey, limit: int, now: datetime) -> CounterState:
        row = self._one(
            self._STATE_SQL + " AND c.scope = %(scope)s",
            {"now": now.timestamp(), "limit": limit, "policy": key.policy, "period": key.period_start, "scope": key.scope},  # type: ignore[arg-type]
        )
        if row is None:
            raise CounterMissing(key)
        return CounterState(row[0], int(row[1]), int(row[2]), int(row[3]))

    def init_counter(self, key: CounterKey, spent: int) -> None:
        with self._translated():
            self._conn().execute(
                "INSERT INTO genops_budget_counters (policy, scope, period_start, period_end, spent, reserved, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, 0, %s) ON CONFLICT DO NOTHING",
                (key.policy, key.scope, key.period_start, key.period_end, spent, key.period_start.timestamp()),
            )

    def counters(self, policy: str, period_start: datetime, limit: int, now: datetime) -> list[CounterState]:
        rows = self._all(self._STATE_SQL + " ORDER BY c.scope",
                         {"now": now.timestamp(), "limit": limit, "policy": policy, "period": period_start})  # type: ignore[arg-type]  # fmt: skip
        return [CounterState(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]

    # -- rate limits --------------------------------------------------------------------------

    def rate_acquire(self, key: str, now: datetime, window: float, weight: int,
                     max_requests: int | None, max_tokens: int | None) -> RateResult:  # fmt: skip
        t, entry = now.timestamp(), new_id()
        row = self._one(
            "SELECT * FROM genops_rate_acquire(%s, %s, %s, %s, %s::BIGINT, %s::BIGINT, %s)",
            (key, t, window, weight, max_requests, max_tokens, entry),
        )
        assert row is not None
        ok, count, tokens = row
        if ok:
            return RateResult(True, int(count), int(tokens), None, entry)
        entries = self._all(
            "SELECT ts, weight FROM genops_rate_events WHERE key = %s AND ts > %s ORDER BY ts, id", (key, t - window)
        )
        wait = window_retry_after([(float(a), int(b)) for a, b in entries], t, window, weight, max_requests, max_tokens)
        return RateResult(False, int(count), int(tokens), wait)

    def rate_adjust(self, key: str, entry_id: str, weight: int) -> None:
        with self._translated():
            self._conn().execute("UPDATE genops_rate_events SET weight = %s WHERE key = %s AND id = %s", (weight, key, entry_id))

    def rate_release(self, key: str, entry_id: str) -> None:
        with self._translated():
            self._conn().execute("DELETE FROM genops_rate_events WHERE key = %s AND id = %s", (key, entry_id))

    # -- alerts and overrides -------------------------------------------------------------------

    def claim_crossing(self, key: CounterKey, threshold: float, now: datetime) -> bool:
        row = self._one(
            "INSERT INTO genops_alert_claims (policy, scope, period_start, threshold, claimed_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
            (key.policy, key.scope, key.period_start, threshold_label(threshold), now.timestamp()),
        )
        return row is not None

    def set_override(self, override: Override) -> None:
        with self._translated():
            self._conn().execute(
                "INSERT INTO genops_budget_overrides (policy, scope, limit_nano, until, created_at, reason) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (policy, scope) DO UPDATE SET "
                "limit_nano = EXCLUDED.limit_nano, until = EXCLUDED.until, created_at = EXCLUDED.created_at, "
                "reason = EXCLUDED.reason",
                (override.policy, override.scope, to_nano(override.limit), override.until.timestamp(),
                 override.created_at.timestamp(), override.reason),
            )  # fmt: skip

    def overrides(self, policy: str | None = None) -> list[Override]:
        query = "SELECT policy, scope, limit_nano, until, created_at, reason FROM genops_budget_overrides"
        params: tuple[Any, ...] = ()
        if policy is not None:
            query, params = query + " WHERE policy = %s", (policy,)
        rows = self._all(query + " ORDER BY policy, scope", params)
        return [Override(p, s, from_nano(int(n)), from_timestamp(u), from_timestamp(c), r) for p, s, n, u, c, r in rows]

    def clear_override(self, policy: str, scope: str = "*") -> bool:
        row = self._one("DELETE FROM genops_budget_overrides WHERE policy = %s AND scope = %s RETURNING 1", (policy, scope))
        return row is not None

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(Exception):
                conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PostgresStore({redact(self.url)!r})"
