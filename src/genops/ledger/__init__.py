"""The ledger: the source of truth for money.

CONTRACT (to be implemented in this package):

- `open_ledger(url: str | None) -> Ledger`: `None` -> the default SQLite file
  (`$GENOPS_HOME/ledger.db`, GENOPS_HOME defaulting to `~/.genops`); `sqlite:///path`;
  `postgresql://...` (policies issue).
- `Ledger.write(events: Sequence[UsageEvent]) -> int`: append-only, idempotent on event id
  (a second write of the same id is ignored), one transaction per batch; returns rows inserted.
- `Ledger.spend(start, end, group_by: Sequence[str], filters: dict | None) -> list[SpendRow]`:
  totals in [start, end) by event start time; exact money (Decimal).
- `Ledger.events(...)` iterate raw events (for tests/exports).
- `Ledger.close()`.
- `ledger.sink.LedgerSink(ledger)`: processor sink; `handle(batch)` writes the batch.
"""

from .base import Ledger, LedgerUnavailableError, SpendRow, default_ledger_url, open_ledger

__all__ = ["Ledger", "LedgerUnavailableError", "SpendRow", "default_ledger_url", "open_ledger"]
