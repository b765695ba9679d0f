"""Policy state in the SQLite ledger file (separate tables), safe across processes on one host.

Every mutation is one `BEGIN IMMEDIATE` transaction: SQLite's single writer lock serialises
reservations, settlements and rate-window updates across threads and processes. One connection
per thread (and per process: a forked child opens its own).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

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

BUSY_TIMEOUT_MS = 30_000

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS genops_budget_counters (
        policy TEXT NOT NULL, scope TEXT NOT NULL, period_start TEXT NOT NULL, period_end TEXT NOT NULL,
        spent INTEGER NOT NULL, reserved INTEGER NOT NULL, updated_at REAL NOT NULL,
        PRIMARY KEY (policy, scope, period_start))""",
    """CREATE TABLE IF NOT EXISTS genops_budget_reservations (
        id TEXT PRIMARY KEY, policy TEXT NOT NULL, scope TEXT NOT NULL, period_start TEXT NOT NULL,
        amount INTEGER NOT NULL, expires_at REAL NOT NULL)""",
    """CREATE INDEX IF NOT EXISTS genops_budget_reservations_key
        ON genops_budget_reservations (policy, scope, period_start, expires_at)""",
    """CREATE TABLE IF NOT EXISTS genops_budget_overrides (
        policy TEXT NOT NULL, scope TEXT NOT NULL, limit_nano INTEGER NOT NULL, until REAL NOT NULL,
        created_at REAL NOT NULL, reason TEXT, PRIMARY KEY (policy, scope))""",
    """CREATE TABLE IF NOT EXISTS genops_rate_events (
        key TEXT NOT NULL, id TEXT NOT NULL, ts REAL NOT NULL, weight INTEGER NOT NULL,
        PRIMARY KEY (key, id))""",
    "CREATE INDEX IF NOT EXISTS genops_rate_events_ts ON genops_rate_events (key, ts)",
    """CREATE TABLE IF NOT EXISTS genops_alert_claims (
        policy TEXT NOT NULL, scope TEXT NOT NULL, period_start TEXT NOT NULL, threshold TEXT NOT NULL,
        claimed_at REAL NOT NULL, PRIMARY KEY (policy, scope, period_start, threshold))""",
)

_OVERRIDE_SQL = """SELECT limit_nano FROM genops_budget_overrides
    WHERE policy = ? AND scope IN (?, '*') AND until > ? ORDER BY scope = '*' LIMIT 1"""


class SQLiteStore(CounterStore):
    kind = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._schema_pid = 0  # tables are created on first use (a missing file is an outage, not a crash)

    # -- plumbing ---------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        if self._schema_pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if self._schema_pid != os.getpid():
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA:
                    conn.execute(statement)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                conn.close()
                raise
            self._schema_pid = os.getpid()
        with self._lock:
            self._connections.append(conn)
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.OperationalError, OSError) as exc:
            raise StoreError(f"SQLite policy store {self.path} unavailable: {exc}") from exc

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._translated():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @staticmethod
    def _counter(conn: sqlite3.Connection, key: CounterKey) -> tuple[int, int]:
        row = conn.execute(
            "SELECT spent, reserved FROM genops_budget_counters WHERE policy = ? AND scope = ? AND period_start = ?",
            (key.policy, key.scope, key.period_start.isoformat()),
        ).fetchone()
        if row is None:
            raise CounterMissing(key)
        return int(row[0]), int(row[1])

    @staticmethod
    def _expire(conn: sqlite3.Connection, key: CounterKey, now: float) -> int:
        params = (key.policy, key.scope, key.period_start.isoformat(), now)
        where = "policy = ? AND scope = ? AND period_start = ? AND expires_at <= ?"
        expired = conn.execute(f"SELECT COALESCE(SUM(amount), 0) FROM genops_budget_reservations WHERE {where}", params)
        amount = int(expired.fetchone()[0])
        if amount:
            conn.execute(f"DELETE FROM genops_budget_reservations WHERE {where}", params)
        return amount

    @staticmethod
    def _limit(conn: sqlite3.Connection, key: CounterKey, limit: int, now: float) -> int:
        row = conn.execute(_OVERRIDE_SQL, (key.policy, key.scope, now)).fetchone()
        return int(row[0]) if row else limit

    @staticmethod
    def _set_counter(conn: sqlite3.Connection, key: CounterKey, spent: int, reserved: int, now: float) -> None:
        conn.execute(
            "UPDATE genops_budget_counters SET spent = ?, reserved = ?, updated_at = ? "
            "WHERE policy = ? AND scope = ? AND period_start = ?",
            (spent, reserved, now, key.policy, key.scope, key.period_start.isoformat()),
        )

    # -- budgets ------------------------------------------------------------------------------

    def reserve(self, key: CounterKey, amount: int, limit: int, now: datetime, ttl_seconds: float) -> ReserveResult:
        t = now.timestamp()
        with self._tx() as conn:
            spent, reserved = self._counter(conn, key)
            reserved -= self._expire(conn, key, t)
            limit = self._limit(conn, key, limit, t)
            if spent + reserved + amount > limit:
                self._set_counter(conn, key, spent, reserved, t)
                return ReserveResult(False, spent, reserved, limit)
            rid = new_id()
            if amount:
                conn.execute(
                    "INSERT INTO genops_budget_reservations (id, policy, scope, period_start, amount, expires_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (rid, key.policy, key.scope, key.period_start.isoformat(), amount, t + ttl_seconds),
                )
            self._set_counter(conn, key, spent, reserved + amount, t)
            return ReserveResult(True, spent, reserved + amount, limit, rid)

    def _drop(self, conn: sqlite3.Connection, reservation_id: str | None) -> int:
        if not reservation_id:
            return 0
        row = conn.execute("DELETE FROM genops_budget_reservations WHERE id = ? RETURNING amount", (reservation_id,))
        found = row.fetchone()
        return int(found[0]) if found else 0

    def settle(self, key: CounterKey, reservation_id: str | None, amount: int | None, limit: int, now: datetime) -> SettleResult:
        t = now.timestamp()
        with self._tx() as conn:
            spent, reserved = self._counter(conn, key)
            held = self._drop(conn, reservation_id)
            actual = held if amount is None else amount
            self._set_counter(conn, key, spent + actual, max(reserved - held, 0), t)
            return SettleResult(spent, spent + actual, self._limit(conn, key, limit, t))

    def release(self, key: CounterKey, reservation_id: str) -> None:
        with self._tx() as conn:
            held = self._drop(conn, reservation_id)
            if held:
                conn.execute(
                    "UPDATE genops_budget_counters SET reserved = MAX(reserved - ?, 0) "
                    "WHERE policy = ? AND scope = ? AND period_start = ?",
                    (held, key.policy, key.scope, key.period_start.isoformat()),
                )

    def read(self, key: CounterKey, limit: int, now: datetime) -> CounterState:
        t = now.timestamp()
        with self._translated():
            conn = self._conn()
            spent, _ = self._counter(conn, key)
            return CounterState(key.scope, spent, self._live_reserved(conn, key.policy, key.scope, key.period_start, t),
                                self._limit(conn, key, limit, t))  # fmt: skip

    @staticmethod
    def _live_reserved(conn: sqlite3.Connection, policy: str, scope: str, period_start: datetime, t: float) -> int:
        row = conn.execute(
            "SELECT COALESCE(SUM(amount), 0) FROM genops_budget_reservations "
            "WHERE policy = ? AND scope = ? AND period_start = ? AND expires_at > ?",
            (policy, scope, period_start.isoformat(), t),
        ).fetchone()
        return int(row[0])

    def init_counter(self, key: CounterKey, spent: int) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO genops_budget_counters "
                "(policy, scope, period_start, period_end, spent, reserved, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
                (key.policy, key.scope, key.period_start.isoformat(), key.period_end.isoformat(), spent,
                 key.period_start.timestamp()),
            )  # fmt: skip

    def counters(self, policy: str, period_start: datetime, limit: int, now: datetime) -> list[CounterState]:
        t = now.timestamp()
        with self._translated():
            conn = self._conn()
            rows = conn.execute(
                "SELECT scope, spent FROM genops_budget_counters WHERE policy = ? AND period_start = ? ORDER BY scope",
                (policy, period_start.isoformat()),
            ).fetchall()
            out = []
            for scope, spent in rows:
                key = CounterKey(policy, scope, period_start, period_start)
                out.append(CounterState(scope, int(spent), self._live_reserved(conn, policy, scope, period_start, t),
                                        self._limit(conn, key, limit, t)))  # fmt: skip
            return out

    # -- rate limits --------------------------------------------------------------------------

    def rate_acquire(self, key: str, now: datetime, window: float, weight: int,
                     max_requests: int | None, max_tokens: int | None) -> RateResult:  # fmt: skip
        t = now.timestamp()
        with self._tx() as conn:
            conn.execute("DELETE FROM genops_rate_events WHERE key = ? AND ts <= ?", (key, t - window))
            count, tokens = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(weight), 0) FROM genops_rate_events WHERE key = ?", (key,)
            ).fetchone()
            fits = (max_requests is None or count + 1 <= max_requests) and (max_tokens is None or tokens + weight <= max_tokens)
            if not fits:
                entries = conn.execute(
                    "SELECT ts, weight FROM genops_rate_events WHERE key = ? ORDER BY ts, id", (key,)
                ).fetchall()
                wait = window_retry_after([(float(a), int(b)) for a, b in entries], t, window, weight, max_requests, max_tokens)
                return RateResult(False, int(count), int(tokens), wait)
            entry = new_id()
            conn.execute("INSERT INTO genops_rate_events (key, id, ts, weight) VALUES (?, ?, ?, ?)", (key, entry, t, weight))
            return RateResult(True, int(count) + 1, int(tokens) + weight, None, entry)

    def rate_adjust(self, key: str, entry_id: str, weight: int) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE genops_rate_events SET weight = ? WHERE key = ? AND id = ?", (weight, key, entry_id))

    def rate_release(self, key: str, entry_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM genops_rate_events WHERE key = ? AND id = ?", (key, entry_id))

    # -- alerts and overrides -------------------------------------------------------------------

    def claim_crossing(self, key: CounterKey, threshold: float, now: datetime) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO genops_alert_claims (policy, scope, period_start, threshold, claimed_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (key.policy, key.scope, key.period_start.isoformat(), threshold_label(threshold), now.timestamp()),
            )
            return cur.rowcount == 1

    def set_override(self, override: Override) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO genops_budget_overrides (policy, scope, limit_nano, until, created_at, reason) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (override.policy, override.scope, to_nano(override.limit), override.until.timestamp(),
                 override.created_at.timestamp(), override.reason),
            )  # fmt: skip

    def overrides(self, policy: str | None = None) -> list[Override]:
        with self._translated():
            sql = "SELECT policy, scope, limit_nano, until, created_at, reason FROM genops_budget_overrides"
            params: tuple[Any, ...] = ()
            if policy is not None:
                sql, params = sql + " WHERE policy = ?", (policy,)
            rows = self._conn().execute(sql + " ORDER BY policy, scope", params).fetchall()
        return [Override(p, s, from_nano(int(n)), from_timestamp(u), from_timestamp(c), r) for p, s, n, u, c, r in rows]

    def clear_override(self, policy: str, scope: str = "*") -> bool:
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM genops_budget_overrides WHERE policy = ? AND scope = ?", (policy, scope))
            return cur.rowcount > 0

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

