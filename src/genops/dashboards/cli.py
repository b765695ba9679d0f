"""`genops dashboards datadog|grafana`: generate (and optionally create) dashboards and alerts."""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from ..errors import ConfigError

dashboards_app = typer.Typer(help="Dashboards and alerts for Datadog, Grafana and Prometheus.", no_args_is_help=True)

ConfigOpt = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="genops.yaml; repeat for several services (default: $GENOPS_CONFIG)."),
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Directory to write into (created if missing).")]
LatencyOpt = Annotated[str, typer.Option("--latency-ms", help="High-latency alert: average latency above (ms).")]
CostOpt = Annotated[str, typer.Option("--cost-usd", help="High-cost alert: spend above (USD) in the same window.")]


def _decimal(value: str, option: str) -> Decimal:
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ConfigError(f"{option}: {value!r} is not a number", field=option) from None
    if not number.is_finite() or number <= 0:
        raise ConfigError(f"{option}: must be a positive number, got {value!r}", field=option)
    return number


def _plan(config: list[Path] | None):
    from .plan import load_plan

    plan = load_plan(config or [])
    if not plan.teams and not plan.budgets:
        typer.secho("note: no teams or budgets configured: only the all-teams views are generated", err=True)
    return plan


@dashboards_app.command("datadog")
def datadog_command(
    out: OutOpt,
    config: ConfigOpt = None,
    push: Annotated[bool, typer.Option("--push", help="Also create them via the Datadog API (DD_API_KEY, DD_APP_KEY).")] = False,
    site: Annotated[
        str | None, typer.Option("--site", help="Datadog site for links and --push (default: $DD_SITE, else datadoghq.com).")
    ] = None,
    api_url: Annotated[str | None, typer.Option("--api-url", help="Datadog API base URL for --push (overrides --site).")] = None,
    notify: Annotated[
        list[str] | None, typer.Option("--notify", help="Handle for monitor messages, e.g. @slack-ai-cost-alerts (repeat).")
    ] = None,
    org: Annotated[str | None, typer.Option("--org", help="Organisation name in the master dashboard's title.")] = None,
    latency_ms: LatencyOpt = "5000",
    cost_usd: CostOpt = "100",
) -> None:
    """Per-team dashboards, the all-teams dashboard and monitors for Datadog, from genops.yaml."""
    from .dd_monitors import MonitorSettings
    from .output import write_datadog

    site = site or os.environ.get("DD_SITE") or "datadoghq.com"
    cfg = MonitorSettings(
        notify=tuple(notify or ()), site=site, org=org,
        latency_ms=_decimal(latency_ms, "--latency-ms"), cost_usd=_decimal(cost_usd, "--cost-usd"),
    )
    plan = _plan(config)
    bundle = write_datadog(plan, out, cfg)
    typer.echo(f"{len(bundle.dashboards)} dashboards and {len(bundle.monitors)} monitors "
               f"(checked against the datadog-api-client models) in {out / 'datadog'}:")
    for path in bundle.files:
        typer.echo(f"  {path}")
    for note in bundle.notes:
        typer.secho(f"note: {note}", err=True)
    if push:
        from .dd_push import datadog_configuration
        from .dd_push import push as push_all

        configuration = datadog_configuration(site=site, api_url=api_url)
        result = push_all(bundle.dashboards, bundle.monitors, configuration,
                          on_created=lambda kind, what: typer.echo(f"created {kind}: {what}"))
        typer.echo(f"created {len(result.dashboards)} dashboards and {len(result.monitors)} monitors")


@dashboards_app.command("grafana")
def grafana_command(
    out: OutOpt,
    config: ConfigOpt = None,
    latency_ms: LatencyOpt = "5000",
    cost_usd: CostOpt = "100",
    window: Annotated[str, typer.Option("--window", help="PromQL range of the latency and cost alert.")] = "1h",
    title: Annotated[str, typer.Option("--title", help="Dashboard title.")] = "GenOps: AI Costs",
) -> None:
    """A Grafana dashboard and Prometheus alert rules over the `prometheus` exporter's metrics."""
    import re

    from .output import write_grafana

    if not re.fullmatch(r"(\d+(ms|s|m|h|d|w|y))+", window):
        raise ConfigError(f"--window: {window!r} is not a Prometheus duration (e.g. 15m, 1h)", field="--window")
    bundle = write_grafana(
        _plan(config), out, latency_ms=_decimal(latency_ms, "--latency-ms"), cost_usd=_decimal(cost_usd, "--cost-usd"),
        window=window, title=title,
    )
    typer.echo("Grafana dashboard and Prometheus alert rules (check them with `promtool check rules`):")
    for path in bundle.files:
        typer.echo(f"  {path}")
