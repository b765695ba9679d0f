"""`genops ledger ...`: maintenance commands for the ledger."""

from __future__ import annotations

import typer

from .._cli_options import ConfigOpt, LedgerOpt

ledger_app = typer.Typer(help="Ledger maintenance.", no_args_is_help=True)


@ledger_app.command("rebuild-rollups")
def rebuild_rollups_command(
    ledger: LedgerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Recompute the daily and hourly spend rollups from the raw events (writers wait meanwhile)."""
    from ..analytics.cli import progress_bar
    from ..analytics.report import ledger_url_for
    from . import open_ledger

    with open_ledger(ledger_url_for(ledger, config)) as store, progress_bar("Rebuilding rollups (UTC days)") as bar:
        events = store.rebuild_rollups(progress=bar.update)
    typer.echo(f"rebuilt the rollups of {store!r} from {events:,} events")
