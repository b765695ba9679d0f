"""`genops report` and `genops export` (registered on the main app in genops/cli.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from .._cli_options import ConfigOpt, LedgerOpt
from ..errors import ConfigError


def _settings(config: Path | None) -> Any:
    from ..config_loader import load_settings

    return load_settings(config)


def parse_where(items: list[str]) -> dict[str, Any]:
    """`--where team=support --where customer_id=acme` -> filters; a custom attribute by name;
    `key=` (empty) matches events where the field is unset; a repeated key matches any of its values."""
    from ..ledger.query import FILTER_FIELDS
    from .report import resolve_group_by

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad --where {item!r}: use FIELD=VALUE, e.g. team=support", field="where")
        key = key.strip()
        name = key if key in FILTER_FIELDS else resolve_group_by(key)[0]
        v: Any = value.strip() or None
        if name in out:
            previous = out[name]
            out[name] = [*(previous if isinstance(previous, list) else [previous]), v]
        else:
            out[name] = v
    return out


class Bar:
    """A task on a rich progress bar."""

    def __init__(self, progress: Any, task: Any) -> None:
        self._progress, self._task = progress, task

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._task, n)

    def update(self, done: int, total: int) -> None:
        self._progress.update(self._task, completed=done, total=total)


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Bar]:
    """A rich progress bar on stderr (drawn when stderr is a terminal), removed when done."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        yield Bar(progress, progress.add_task(description, total=total))


def report_command(
    period: Annotated[
        str,
        typer.Option(
            "--period",
            "-p",
            help="today, yesterday, this-week, last-week, this-month, last-month, last-7-days, last-30-days, "
            "YYYY-MM or YYYY-MM-DD..YYYY-MM-DD (calendar days in --tz).",
        ),
    ] = "this-month",
    group_by: Annotated[
        str,
        typer.Option(
            "--group-by",
            "-g",
            help="Comma-separated: team, project, customer_id, provider, model, operation, environment, user_id, "
            "operation_kind, status, service, or a custom attribute name (e.g. competitor).",
        ),
    ] = "",
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json, csv or markdown.")] = "table",
    top: Annotated[int | None, typer.Option("--top", "-n", help="Only the N most expensive groups.")] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="Timezone of the calendar (default: reporting.timezone, else UTC).")
    ] = None,
    where: Annotated[
        list[str] | None, typer.Option("--where", "-w", help="Filter FIELD=VALUE (repeatable), e.g. team=support.")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="top-customers, expensive-operations, models or teams (sets --group-by/--top)."),
    ] = None,
    compare: Annotated[bool, typer.Option(help="Compare with the previous period.")] = True,
    ledger: LedgerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Spend for a period from the ledger, e.g. `genops report --period last-month --group-by team`."""
    from .. import _clock
    from ..ledger import open_ledger
    from . import report as rep
    from .periods import check_timezone, parse_period

    fmt = rep.check_format(fmt)
    if preset is not None:
        if preset not in rep.PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; use one of {', '.join(rep.PRESETS)}", field="preset")
        preset_group, preset_top = rep.PRESETS[preset]
        group_by = group_by or preset_group
        top = top if top is not None else preset_top
    if ledger is None or tz is None:
        settings = _settings(config)
        tz = tz or settings.reporting.timezone
        ledger = ledger or settings.storage.url
    zone = check_timezone(tz)
    now = _clock.now()
    span = parse_period(period, now, zone)
    filters = parse_where(where or [])
    with open_ledger(ledger) as store:
        result = rep.build_report(store, span, group_by, filters, now=now if compare else None, top=top)
    if fmt == "table":
        from rich.console import Console

        Console(width=None if sys.stdout.isatty() else 160).print(rep.render_table(result))  # piped: no cut cells
    elif fmt == "markdown":
        from .render import render_markdown

        typer.echo(render_markdown(result), nl=False)
    else:
        typer.echo(rep.render_json(result) if fmt == "json" else rep.render_csv(result), nl=False)


def export_command(
    fmt: Annotated[str, typer.Option("--format", "-f", help="focus (FinOps FOCUS 1.2) or chargeback.")] = "focus",
    period: Annotated[
        str, typer.Option("--period", "-p", help="As in `genops report` (calendar days in --tz).")
    ] = "last-month",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (.csv, or .parquet for FOCUS); default stdout.")
    ] = None,
    granularity: Annotated[str, typer.Option("--granularity", help="FOCUS rows per UTC day, hour or event.")] = "day",
    tz: Annotated[
        str | None, typer.Option("--tz", help="Timezone of the calendar (default: reporting.timezone, else UTC).")
    ] = None,
    ledger: LedgerOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Finance exports: FOCUS rows (CSV or Parquet) or chargeback invoice lines per customer (CSV)."""
    from .. import _clock
    from ..ledger import open_ledger
    from . import exports, focus
    from .periods import check_timezone, parse_period
    from .report import check_format, money

    fmt = check_format(fmt, exports.EXPORT_FORMATS, "export")
    if granularity not in focus.GRANULARITIES:
        raise ConfigError(f"unknown granularity {granularity!r}; use day, hour or event", field="granularity")
    parquet = out is not None and out.suffix.lower() == ".parquet"
    if parquet and fmt != "focus":
        raise ConfigError("Parquet is for FOCUS exports; write chargeback lines to a .csv file", field="out")
    settings = _settings(config)
    reporting = settings.reporting
    span = parse_period(period, _clock.now(), check_timezone(tz or reporting.timezone))
    handle = sys.stdout if out is None or parquet else out.open("w", newline="", encoding="utf-8")
    try:
        with open_ledger(ledger or settings.storage.url) as store:
            if fmt == "chargeback":
                result = exports.chargeback_lines(
                    store, span, sku=reporting.chargeback_sku, markup_percent=reporting.chargeback_markup_percent
                )
                n = exports.write_chargeback_csv(result, handle)
                what = f"{n} chargeback lines"
                if result.unattributed is not None:
                    u = result.unattributed
                    typer.echo(f"not invoiced: {u.requests:,} requests ({money(u.cost_usd)}) without a customer_id",
                               err=True)  # fmt: skip
            else:
                account = focus.Account(reporting.billing_account_id, reporting.billing_account_name)
                with progress_bar(f"FOCUS export, {span.label}", store.count(span.start, span.end)) as bar:
                    rows = focus.focus_rows(store, span, granularity, account, progress=bar.advance)  # type: ignore[arg-type]
                    if parquet:
                        assert out is not None
                        n = exports.write_focus_parquet(rows, out)
                    else:
                        n = exports.write_focus_csv(rows, handle)
                what = f"{n} FOCUS rows"
    finally:
        if handle is not sys.stdout:
            handle.close()
    typer.echo(f"{what}, {span.label}" + (f" -> {out}" if out else ""), err=True)
