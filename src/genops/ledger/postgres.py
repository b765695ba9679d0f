"""The shared ledger on PostgreSQL (psycopg 3), for many services and replicas.

Same schema and behaviour as SQLite. One connection per thread, autocommit with explicit
transactions: writes run at READ COMMITTED (inserts use `ON CONFLICT DO NOTHING`, rollups
`ON CONFLICT DO UPDATE`, rows in a fixed order so writers cannot deadlock); reads run in a
REPEATABLE READ, READ ONLY snapshot. Migrations run under a transaction-level advisory lock.
A broken connection is replaced on next use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from ..errors import GenOpsError
from . import migrations, query
from .base import Ledger, LedgerUnavailableError, Query, redact
from .rows import EVENTS_TABLE, MIGRATIONS_TABLE

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the install
    psycopg = None  # type: ignore[assignment]

# pg_advisory_xact_lock key for schema migrations ("genops" in ASCII).
MIGRATION_LOCK_KEY = 0x67656E6F7073
CONNECT_TIMEOUT_SECONDS = 10
WRITE_ATTEMPTS = 3


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class _Tx:
    def __init__(self, cur: Any) -> None:
        self.cur = cur

    def insert_events(self, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        self.cur.executemany(_pg(query.insert_event_sql() + " RETURNING id"), rows, returning=True)
        inserted: set[str] = set()
        while True:
            row = self.cur.fetchone()
            if row is not None:
                inserted.add(row[0])
            if not self.cur.nextset():
                break
        out, seen = [], set()
        for i, row in enumerate(rows):
            if row[0] in inserted and row[0] not in seen:
                seen.add(row[0])
                out.append(i)
        return out

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cur.executemany(_pg(sql), rows)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.cur.execute(_pg(sql), params)

    def lock_events(self) -> None:
        """Keep other writers out until commit (reads go on): for a rollup rebuild."""
        self.cur.execute(f"LOCK TABLE {EVENTS_TABLE} IN SHARE ROW EXCLUSIVE MODE")


class PostgresLedger(Ledger):
    dialect = "postgres"

    def __init__(self, url: str, *, allow_unreachable: bool = False) -> None:
        """Connects and migrates now; if the server cannot be reached and `allow_unreachable`,
        on first use instead (until then every operation raises LedgerUnavailableError)."""
        if psycopg is None:
            raise GenOpsError("the PostgreSQL ledger needs psycopg: pip install 'genops-ai[postgres]'")
        self.url = url
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self._migrated = False
        try:
            self._migrate()
        except LedgerUnavailableError:
            if not allow_unreachable:
                raise

    def _conn(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self._closed:
            raise GenOpsError(f"the ledger {redact(self.url)} is closed")
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
        except psycopg.OperationalError as exc:
            raise LedgerUnavailableError(f"PostgreSQL ledger {redact(self.url)} unavailable: {exc}") from exc
        with self._lock:
            self._connections = [c for c in self._connections if not c.closed]
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:
            raise LedgerUnavailableError(f"PostgreSQL ledger {redact(self.url)} unavailable: {exc}") from exc

    def _migrate(self) -> None:
        with self._translated():
            conn = self._conn()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
                cur.execute(migrations.CREATE_MIGRATIONS_TABLE)
                applied = {r[0] for r in cur.execute(f"SELECT name FROM {MIGRATIONS_TABLE}").fetchall()}
                migrations.migrate(
                    lambda sql, params: cur.execute(_pg(sql), params),
                    applied,
                    self.dialect,
                    lambda sql, rows: cur.executemany(_pg(sql), rows),
                )
        self._migrated = True

    def _ready(self) -> Any:
        """This thread's connection, the schema migrated (deferred when opened during an outage)."""
        if not self._migrated:
            self._migrate()
        return self._conn()

    def applied_migrations(self) -> list[tuple[str, str]]:
        with self._snapshot() as q:
            return [(r[0], r[1]) for r in q(f"SELECT name, applied_at FROM {MIGRATIONS_TABLE} ORDER BY name", ())]

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        with self._translated():
            conn = self._ready()
            with conn.transaction(), conn.cursor() as cur:
                yield _Tx(cur)

    def write(self, events: Sequence[Any]) -> int:
        """As `Ledger.write`; a deadlock or serialization failure is retried (the batch is atomic)."""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return super().write(events)
            except LedgerUnavailableError as exc:
                retriable = isinstance(
                    exc.__cause__, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)
                )
                if not retriable or attempt == WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def _snapshot(self) -> Iterator[Query]:
        with self._translated():
            conn = self._ready()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield lambda sql, params: cur.execute(_pg(sql), params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(Exception):  # closing a dead connection
                conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"PostgresLedger({redact(self.url)!r})"
