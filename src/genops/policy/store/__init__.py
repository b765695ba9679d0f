"""Shared policy stores, selected by the `storage` section:

- `counters_url` (optional): `redis://...` (or `postgresql://...`, `sqlite:///...`) for budget
  counters, reservations, rate windows, overrides and alert claims;
- otherwise the ledger's `url`: SQLite (the same file as the ledger, separate tables) or
  PostgreSQL (the same database, separate tables).
"""

from __future__ import annotations

from ...errors import ConfigError
from ...ledger.base import redact, split_storage_url
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
    to_nano,
)  # fmt: skip


def open_store(url: str | None) -> CounterStore:
    """Open the policy store at `url` (None: the default SQLite ledger file)."""
    kind, target = split_storage_url(url)
    if kind == "sqlite":
        from .sqlite import SQLiteStore

        return SQLiteStore(target)
    if kind == "postgresql":
        from .postgres import PostgresStore

        return PostgresStore(target)
    if kind in ("redis", "rediss", "unix"):
        from .redis import RedisStore

        return RedisStore(target)
    raise ConfigError(f"unsupported policy store URL {redact(target)!r}: use sqlite:///, postgresql:// or redis://",
                      field="storage.counters_url")  # fmt: skip


def store_url(storage: object) -> str | None:
    """The URL the policy store uses for a `storage` config section."""
    return getattr(storage, "counters_url", None) or getattr(storage, "url", None)


__all__ = [
    "CounterKey", "CounterMissing", "CounterState", "CounterStore", "Override", "RateResult", "ReserveResult",
    "SettleResult", "StoreError", "from_nano", "open_store", "store_url", "to_nano",
]  # fmt: skip
