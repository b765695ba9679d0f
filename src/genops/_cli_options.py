"""Command-line options shared by the `genops` sub-commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="genops.yaml (default: $GENOPS_CONFIG).")]
LedgerOpt = Annotated[
    str | None, typer.Option("--ledger", help="Ledger URL (default: the config's storage.url, else ~/.genops).")
]
