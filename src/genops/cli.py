"""`genops ...`: the command line. Domain errors become one clean line and exit code 2."""

from __future__ import annotations

import sys

import typer

from .errors import GenOpsError

app = typer.Typer(help="GenOps: governance for AI spend.", no_args_is_help=True, add_completion=False)
config_app = typer.Typer(help="Configuration commands.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@app.command()
def version() -> None:
    """Print the GenOps version."""
    from importlib.metadata import version as v

    typer.echo(f"genops-ai {v('genops-ai')}")


def main() -> None:
    try:
        app()
    except GenOpsError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)


if __name__ == "__main__":
    main()
