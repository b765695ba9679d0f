"""Shared policy stores, selected by the `storage` section:

- `counters_url` (optional): `redis://...` (or `postgresql://...`, `sqlite:///...`) for budget
  counters, reservations, rate windows, overrides and alert claims;
- otherwise the ledger's `url`: SQLite (the same file as the ledger, separate tables) or
  PostgreSQL (the same database, separate tables).
"""

from __future__ import annotations

from ...errors import ConfigError
from ...ledger.base import default_ledger_url, redact
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
    if url is None or not url.strip():
        url = default_ledger_url()
    url = url.strip()
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        if not url.startswith("sqlite:///") or len(url) <= len("sqlite:///"):
            raise ConfigError(f"bad SQLite URL {url!r}: use sqlite:///relative/path or sqlite:////absolute/path")
        from .sqlite import SQLiteStore

        return SQLiteStore(url[len("sqlite:///") :])
    if scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        from .postgres import PostgresStore

        return PostgresStore("postgresql" + url[len(scheme) :])
    if scheme in ("redis", "rediss", "unix"):
        from .redis import RedisStore

        return RedisStore(url)
    raise ConfigError(f"unsupported policy store URL {redact(url)!r}: use sqlite:///, postgresql:// or redis://",
                      field="storage.counters_url")  # fmt: skip


def store_url(storage: object) -> str | None:
    """The URL the policy store uses for a `storage` config section."""
    return getattr(storage, "counters_url", None) or getattr(storage, "url", None)


__all__ = [
    "CounterKey", "CounterMissing", "CounterState", "CounterStore", "Override", "RateResult", "ReserveResult",
    "SettleResult", "StoreError", "from_nano", "open_store", "store_url", "to_nano",
]  # fmt: skip
