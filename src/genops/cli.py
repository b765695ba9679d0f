"""`genops ...`: the command line. Domain errors become one clean line and exit code 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from .errors import GenOpsError


def _report(exc: GenOpsError) -> None:
    """One `error: ...` line per problem (a ConfigError may carry several)."""
    for line in str(exc).splitlines() or [type(exc).__name__]:
        typer.secho(f"error: {line}", err=True, fg="red")


class _GenOpsGroup(TyperGroup):
    """Turns GenOps' own errors into clean error lines and exit code 2 (no traceback)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except GenOpsError as exc:
            _report(exc)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_GenOpsGroup, help="GenOps: governance for AI spend.", no_args_is_help=True, add_completion=False
)
config_app = typer.Typer(help="Configuration commands.", no_args_is_help=True)
app.add_typer(config_app, name="config")
from .policy.cli_budget import budget_app

app.add_typer(budget_app, name="budget")
from .dashboards.cli import dashboards_app

app.add_typer(dashboards_app, name="dashboards")


@app.command()
def version() -> None:
    """Print the GenOps version."""
    from importlib.metadata import version as v

    typer.echo(f"genops-ai {v('genops-ai')}")


@config_app.command("validate")
def config_validate(file: Annotated[Path, typer.Argument(help="The genops.yaml to check.")]) -> None:
    """Check a genops.yaml (with the current environment); print a summary, exit 2 on errors."""
    from .config_loader import load_settings

    s = load_settings(file)
    exporters = ", ".join(e.type + (f" ({e.endpoint})" if e.endpoint else "") for e in s.exporters) or "default"
    policies = ", ".join(f"{p.name} ({p.type}, {p.enforcement})" for p in s.parsed_policies())
    typer.echo(f"{file}: OK")
    typer.echo(f"  service: {s.service_name}")
    typer.echo(f"  environment: {s.environment}")
    typer.echo(f"  exporters: {exporters}")
    typer.echo(f"  providers: {', '.join(s.providers) or 'none configured'}")
    typer.echo(f"  {len(s.policies)} {'policy' if len(s.policies) == 1 else 'policies'}" + (f": {policies}" if policies else ""))


from .analytics.cli import export_command, report_command
from .ledger.cli_ledger import ledger_app

app.command("report")(report_command)
app.command("export")(export_command)
app.add_typer(ledger_app, name="ledger")


@app.command("demo")
def demo_command(
    ledger: Annotated[
        Path | None, typer.Option("--ledger", help="Demo ledger file (default: $GENOPS_HOME/demo.db, recreated).")
    ] = None,
) -> None:
    """Run the case study's three teams (OpenAI; Anthropic + Cohere; LiteLLM with fallbacks) against a
    local stand-in provider and print the spend by team and by customer."""
    from rich.console import Console

    from . import _clock, demo
    from .analytics import report as rep
    from .analytics.periods import parse_period
    from .ledger import open_ledger
    from .ledger.base import genops_home

    path = ledger or genops_home() / "demo.db"
    url, outcomes = demo.main(path)
    console = Console() if sys.stdout.isatty() else Console(width=140)  # piped: room for every column
    console.print("[bold]GenOps demo[/bold]: the case study's three teams, real provider SDKs, a local stand-in server")
    for o in outcomes:
        status = "ran" if o.ran else f"[yellow]skipped[/yellow] (not installed: {', '.join(o.missing)}; pip install 'genops-ai\\[demo]')"
        console.print(f"  Team {o.team.key}, {o.team.label}: {status}")
    console.print(f"ledger: {path}")
    span = parse_period("today", _clock.now())
    with open_ledger(url) as store:
        for group in (("team",), ("customer_id",), ("team", "model")):
            console.print(rep.render_table(rep.build_report(store, span, list(group))))
    console.print(f"Next: genops report --ledger {url} --group-by team,customer_id --format json")


def main() -> None:
    try:
        app()
    except GenOpsError as exc:  # raised outside a command (the group handles the rest)
        _report(exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
