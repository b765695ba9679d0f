"""The embedded ledger: one SQLite file in WAL mode.

One connection per thread (the background processor writes; the CLI, reports and policies
read). Writers take the write lock up front (`BEGIN IMMEDIATE`) and wait up to
`BUSY_TIMEOUT_MS` for another process's transaction, so many processes can share one file.
Limit: sums are 64-bit integers of picodollars, i.e. up to $9.2M per group in one query.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..errors import GenOpsError
from . import migrations, query
from .base import Ledger, LedgerUnavailableError, Query
from .rows import MIGRATIONS_TABLE

BUSY_TIMEOUT_MS = 30_000
# Result codes that mean "the store is busy or unreachable", not "GenOps has a bug".
_OUTAGE_CODES = {
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
}  # fmt: skip


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        code = getattr(exc, "sqlite_errorcode", None)
        if code is None or code & 0xFF in _OUTAGE_CODES:
            raise LedgerUnavailableError(f"SQLite ledger {path} unavailable: {exc}") from exc
        raise


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def insert_events(self, rows: Sequence[tuple[Any, ...]]) -> list[int]:
        sql = query.insert_event_sql()
        return [i for i, row in enumerate(rows) if self.conn.execute(sql, row).rowcount == 1]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(sql, params)

    def lock_events(self) -> None:
        """Nothing to do: `BEGIN IMMEDIATE` already keeps other writers out."""


class SQLiteLedger(Ledger):
    dialect = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        self.path = Path(path).expanduser()
        self.busy_timeout_ms = busy_timeout_ms
        self.url = f"sqlite:///{self.path}"
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        with _translated(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._migrate()

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise GenOpsError(f"the ledger {self.path} is closed")
        # check_same_thread=False only so close() can close it from another thread; each
        # connection is used by the thread that opened it.
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=self.busy_timeout_ms / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _migrate(self) -> None:
        conn = self._conn()
        if not migrations.pending(self._applied_names(conn)):
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(migrations.CREATE_MIGRATIONS_TABLE)
            migrations.migrate(conn.execute, self._applied_names(conn), self.dialect, conn.executemany)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _applied_names(self, conn: sqlite3.Connection) -> set[str]:
        exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (MIGRATIONS_TABLE,))
        if exists.fetchone() is None:
            return set()
        return {r[0] for r in conn.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}

    def applied_migrations(self) -> list[tuple[str, str]]:
        with self._snapshot() as q:
            return [(r[0], r[1]) for r in q(f"SELECT name, applied_at FROM {MIGRATIONS_TABLE} ORDER BY name", ())]

    @contextmanager
    def _transaction(self) -> Iterator[_Tx]:
        with _translated(self.path):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _snapshot(self) -> Iterator[Query]:
        with _translated(self.path):
            conn = self._conn()
            conn.execute("BEGIN")  # deferred: a consistent WAL snapshot from the first read
            try:
                yield lambda sql, params: conn.execute(sql, params).fetchall()
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteLedger({str(self.path)!r})"
