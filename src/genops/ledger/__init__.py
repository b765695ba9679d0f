"""The ledger: the source of truth for money.

CONTRACT (implemented in base.py, sqlite.py, postgres.py; schema in migrations.py, rows in rows.py):

- `open_ledger(url: str | None) -> Ledger`: `None` -> the default SQLite file
  (`$GENOPS_HOME/ledger.db`, GENOPS_HOME defaulting to `~/.genops`); `sqlite:///path`;
  `postgresql://...` (psycopg 3).
- `Ledger.write(events: Sequence[UsageEvent]) -> int`: append-only, idempotent on event id
  (a second write of the same id is ignored), one transaction per batch; returns rows inserted.
- `Ledger.spend(start, end, group_by: Sequence[str], filters: dict | None) -> list[SpendRow]`:
  totals in [start, end) by event start time; exact money (Decimal).
- `Ledger.events(start=None, end=None, **filters)` iterate stored events, oldest first.
- `LedgerUnavailableError`: the store is unreachable or stayed locked (retry later).
- `Ledger.close()`.
- `ledger.sink.LedgerSink(ledger)`: processor sink; `handle(batch)` writes the batch; a batch the
  store cannot take (outage) goes to the ledger's on-disk spool (`ledger.spool.Spool`) and is
  written back before the next batch, on flush, in the background, or by the next process.
"""

from .base import Ledger, LedgerUnavailableError, SpendRow, default_ledger_url, open_ledger

__all__ = ["Ledger", "LedgerUnavailableError", "SpendRow", "default_ledger_url", "open_ledger"]
