"""The local spool: usage events the ledger could not take yet, kept on disk until it can.

One SQLite file per ledger, `$GENOPS_HOME/spool-<sha1(ledger URL)[:12]>.db`, so two ledgers
never mix; it is created on the first spooled event and never deleted (another process may be
using it). Each event is stored as its ledger row (`rows.event_to_row`, as a JSON object keyed
by column) and read back with `rows.row_to_event`, so a spooled event is the event.

Several processes may share a spool. Writers take the file's write lock up front
(`BEGIN IMMEDIATE`). A replayer `claim`s the oldest unclaimed rows for `lease_seconds`, writes
them to the ledger and `delete`s them only after that write committed (or `release`s them when
the store is still down). A claim left by a crashed process expires; the ledger is idempotent
on event id, so an event written twice (crash between commit and delete) is stored once.
A row that cannot be decoded, or that the ledger rejects for a reason other than an outage, is
`set_aside` with the error: kept in the file for inspection, never replayed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .._clock import now as _now
from ..errors import GenOpsError
from ..events import UsageEvent
from .base import genops_home, redact, split_storage_url
from .rows import EVENT_COLUMNS, event_to_row, row_to_event, to_us

SPOOL_FORMAT = "1"
BUSY_TIMEOUT_MS = 30_000
LEASE_SECONDS = 120.0

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS genops_spool (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        event TEXT NOT NULL,
        spooled_us INTEGER NOT NULL,
        claim TEXT,
        claim_expires_us INTEGER,
        error TEXT
    )""",
    "CREATE TABLE IF NOT EXISTS genops_spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
# Rows a replayer may take: not set aside, not claimed (or the claim expired).
_CLAIMABLE = "error IS NULL AND (claim IS NULL OR claim_expires_us < ?)"


class SpoolError(GenOpsError):
    """The spool file could not be read or written."""


def ledger_key(ledger_url: str) -> str:
    """The ledger URL in a canonical form (an SQLite path made absolute), hashed to name the spool."""
    kind, target = split_storage_url(ledger_url)
    if kind == "sqlite":
        return f"sqlite:///{Path(target).expanduser().resolve()}"
    return target if kind == "postgresql" else ledger_url.strip()


def spool_path(ledger_url: str, home: Path | None = None) -> Path:
    """`<home or $GENOPS_HOME>/spool-<sha1(canonical ledger URL)[:12]>.db`."""
    digest = hashlib.sha1(ledger_key(ledger_url).encode(), usedforsecurity=False).hexdigest()[:12]
    return (home or genops_home()) / f"spool-{digest}.db"


def encode_event(event: UsageEvent) -> str:
    """The event's ledger row as JSON (column -> value); `decode_event` gives the event back."""
    return json.dumps(dict(zip(EVENT_COLUMNS, event_to_row(event))), separators=(",", ":"))


def decode_event(text: str) -> UsageEvent:
    values = json.loads(text)
    return row_to_event([values.get(column) for column in EVENT_COLUMNS])


class Spool:
    """A durable queue of usage events for one ledger. Thread-safe; safe across processes."""

    def __init__(self, path: str | Path, *, ledger_url: str = "", lease_seconds: float = LEASE_SECONDS) -> None:
        self.path = Path(path)
        self.ledger_url = ledger_url
        self.lease_seconds = lease_seconds
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"  # this replayer's claim tag
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_ledger(cls, ledger_url: str, home: Path | None = None, **options: Any) -> Spool:
        """The spool of the ledger at `ledger_url`, under `home` (default `$GENOPS_HOME`)."""
        return cls(spool_path(ledger_url, home), ledger_url=ledger_url, **options)

    # -- writing ------------------------------------------------------------------------------

    def append(self, events: Sequence[UsageEvent]) -> list[tuple[UsageEvent, Exception]]:
        """Store `events` (one transaction). Returns those that cannot be encoded at all, with the
        reason; they are not stored. Raises SpoolError if the file cannot be written."""
        rows, refused = [], []
        spooled_us = to_us(_now())
        for event in events:
            try:
                rows.append((event.id, encode_event(event), spooled_us))
            except Exception as exc:  # noqa: BLE001 - an unencodable event must not stop the others
                refused.append((event, exc))
        if rows:
            with self._write(create=True) as conn:
                conn.executemany("INSERT INTO genops_spool (event_id, event, spooled_us) VALUES (?, ?, ?)", rows)
        return refused

    def claim(self, limit: int) -> list[tuple[int, UsageEvent]]:
        """Take up to `limit` of the oldest claimable events for this replayer, as (seq, event).
        Rows that cannot be decoded are set aside instead."""
        if not self.path.exists():
            return []
        now_us = to_us(_now())
        claimed: list[tuple[int, UsageEvent]] = []
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT seq, event FROM genops_spool WHERE {_CLAIMABLE} ORDER BY seq LIMIT ?", (now_us, limit)
            ).fetchall()
            for seq, text in rows:
                try:
                    claimed.append((seq, decode_event(text)))
                except Exception as exc:  # noqa: BLE001
                    conn.execute("UPDATE genops_spool SET error = ? WHERE seq = ?", (f"unreadable: {exc!r}", seq))
            expires = now_us + int(self.lease_seconds * 1_000_000)
            conn.executemany(
                "UPDATE genops_spool SET claim = ?, claim_expires_us = ? WHERE seq = ?",
                [(self.owner, expires, seq) for seq, _ in claimed],
            )
        return claimed

    def delete(self, seqs: Sequence[int]) -> None:
        """Forget claimed events: the ledger has them."""
        self._update("DELETE FROM genops_spool WHERE seq = ? AND claim = ?", [(s, self.owner) for s in seqs])

    def release(self, seqs: Sequence[int]) -> None:
        """Give claimed events back (the ledger could not take them)."""
        self._update("UPDATE genops_spool SET claim = NULL, claim_expires_us = NULL WHERE seq = ? AND claim = ?",
                     [(s, self.owner) for s in seqs])  # fmt: skip

    def set_aside(self, seq: int, error: str) -> None:
        """Keep a claimed event that the ledger rejects in the file, out of every replay."""
        self._update("UPDATE genops_spool SET error = ?, claim = NULL WHERE seq = ? AND claim = ?",
                     [(error, seq, self.owner)])  # fmt: skip

    # -- reading ------------------------------------------------------------------------------

    def count(self) -> int:
        """Events waiting for the ledger (claimed by a replayer or not; set-aside ones excluded)."""
        return self._scalar("SELECT COUNT(*) FROM genops_spool WHERE error IS NULL", ())

    def has_claimable(self) -> bool:
        """Whether any event waits that no live replayer holds (cheap: a stat when there is no file)."""
        sql = f"SELECT EXISTS (SELECT 1 FROM genops_spool WHERE {_CLAIMABLE})"
        return bool(self._scalar(sql, (to_us(_now()),)))

    def events(self) -> list[UsageEvent]:
        """Every waiting event, oldest first (for inspection; claims are ignored)."""
        if not self.path.exists():
            return []
        with self._lock, self._translated():
            rows = self._connect().execute("SELECT event FROM genops_spool WHERE error IS NULL ORDER BY seq").fetchall()
        return [decode_event(text) for (text,) in rows]

    def set_aside_events(self) -> list[tuple[str, str]]:
        """(event id, error) of every event kept out of replay."""
        if not self.path.exists():
            return []
        with self._lock, self._translated():
            sql = "SELECT event_id, error FROM genops_spool WHERE error IS NOT NULL ORDER BY seq"
            return [(r[0], r[1]) for r in self._connect().execute(sql).fetchall()]

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(sqlite3.Error):
                conn.close()

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r}, ledger={redact(self.ledger_url)!r})"

    # -- internals ----------------------------------------------------------------------------

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise SpoolError(f"GenOps spool {self.path}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        """The connection (callers hold `_lock`), opened and set up on first use."""
        if self._conn is not None:
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)  # fmt: skip
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")  # a spooled event survives a power cut
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.executemany(
                    "INSERT OR IGNORE INTO genops_spool_meta (key, value) VALUES (?, ?)",
                    [("format", SPOOL_FORMAT), ("ledger", redact(self.ledger_url))],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    @contextmanager
    def _write(self, create: bool = False) -> Iterator[sqlite3.Connection]:
        """One write transaction (`BEGIN IMMEDIATE`: other processes wait, none deadlocks)."""
        with self._lock, self._translated():
            if not create and not self.path.exists():
                raise SpoolError(f"GenOps spool {self.path} does not exist")
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _update(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            with self._write() as conn:
                conn.executemany(sql, rows)

    def _scalar(self, sql: str, params: Sequence[Any]) -> int:
        if not self.path.exists():
            return 0
        with self._lock, self._translated():
            return int(self._connect().execute(sql, params).fetchone()[0])
