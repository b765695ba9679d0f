"""`genops report`: periods, grouping, exact money in every format, and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from ledger_backends import make_event
from typer.testing import CliRunner

from genops.analytics import parse_period
from genops.analytics.report import COLUMNS, build_report, money, render_csv, render_json
from genops.cli import app
from genops.errors import ConfigError
from genops.ledger import open_ledger

runner = CliRunner()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("today", utc(2026, 1, 2), utc(2026, 1, 3)),
        ("yesterday", utc(2026, 1, 1), utc(2026, 1, 2)),
        ("this-week", utc(2025, 12, 29), utc(2026, 1, 5)),  # ISO weeks start on Monday
        ("last-week", utc(2025, 12, 22), utc(2025, 12, 29)),
        ("this-month", utc(2026, 1, 1), utc(2026, 2, 1)),
        ("last-month", utc(2025, 12, 1), utc(2026, 1, 1)),
        ("last-7-days", utc(2025, 12, 27), utc(2026, 1, 3)),  # today and the 6 days before
        ("last-30-days", utc(2025, 12, 4), utc(2026, 1, 3)),
        ("2026-02-27..2026-03-02", utc(2026, 2, 27), utc(2026, 3, 3)),  # both end days included
        ("2024-02-29..2024-02-29", utc(2024, 2, 29), utc(2024, 3, 1)),
    ],
)
def test_period_bounds(name: str, start: datetime, end: datetime) -> None:
    now = utc(2026, 1, 2, 23, 59, 59)  # a Friday, late in the day
    period = parse_period(name, now)
    assert (period.start, period.end) == (start, end)


def test_period_labels_and_errors() -> None:
    now = utc(2026, 3, 10, 12)
    assert parse_period("Last-Month", now).label == "last-month (2026-02-01 .. 2026-02-28, UTC)"
    assert parse_period("2026-03-01..2026-03-07", now).label == "2026-03-01 .. 2026-03-07 (UTC)"
    assert parse_period("today", datetime(2026, 3, 10, 23, 30)).start == utc(2026, 3, 10)  # naive = UTC
    with pytest.raises(ConfigError, match="unknown period 'last-year'; use one of today, yesterday, this-week"):
        parse_period("last-year", now)
    with pytest.raises(ConfigError, match="the range ends before it starts"):
        parse_period("2026-03-07..2026-03-01", now)
    with pytest.raises(ConfigError, match="bad period '2026-02-30..2026-03-01'"):
        parse_period("2026-02-30..2026-03-01", now)


@pytest.fixture
def march_ledger(store_url: str) -> str:
    """A ledger with known March 2026 spend (and events just outside March)."""
    with open_ledger(store_url) as store:
        store.write(
            [
                make_event("a", utc(2026, 3, 1), cost="1.10", team="support", project="chatbot"),
                make_event("b", utc(2026, 3, 15, 9), cost="0.000123", team="support", project="chatbot"),
                make_event("c", utc(2026, 3, 31, 23, 59, 59), cost="2.5", team="knowledge", project="kb"),
                make_event("d", utc(2026, 3, 20), cost=None, team="knowledge", project="kb", input_tokens=7),
                make_event("e", utc(2026, 3, 2), cost="0.0000000000001234", team=None, project=None),
                make_event("feb", utc(2026, 2, 28, 23, 59, 59), cost="100", team="support", project="chatbot"),
                make_event("apr", utc(2026, 4, 1), cost="100", team="support", project="chatbot"),
            ]
        )
    return store_url


MARCH_JSON = """[
  {
    "team": "knowledge",
    "project": "kb",
    "cost_usd": "2.5",
    "requests": 2,
    "input_tokens": 107,
    "output_tokens": 100,
    "unknown_cost_requests": 1,
    "avg_cost_per_request_usd": "2.5",
    "share_of_total_pct": "69.44",
    "previous_cost_usd": "0",
    "previous_requests": 0,
    "change_usd": "2.5",
    "change_pct": null
  },
  {
    "team": "support",
    "project": "chatbot",
    "cost_usd": "1.100123",
    "requests": 2,
    "input_tokens": 200,
    "output_tokens": 100,
    "unknown_cost_requests": 0,
    "avg_cost_per_request_usd": "0.5500615",
    "share_of_total_pct": "30.56",
    "previous_cost_usd": "100",
    "previous_requests": 1,
    "change_usd": "-98.899877",
    "change_pct": "-98.90"
  },
  {
    "team": null,
    "project": null,
    "cost_usd": "0.0000000000001234",
    "requests": 1,
    "input_tokens": 100,
    "output_tokens": 50,
    "unknown_cost_requests": 0,
    "avg_cost_per_request_usd": "0",
    "share_of_total_pct": "0.00",
    "previous_cost_usd": "0",
    "previous_requests": 0,
    "change_usd": "0.0000000000001234",
    "change_pct": null
  }
]
"""


def test_cli_json_output(march_ledger: str) -> None:
    args = ["report", "--ledger", march_ledger, "--period", "2026-03-01..2026-03-31", "--group-by", "team,project"]
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert result.output == MARCH_JSON


def test_report_formats(march_ledger: str) -> None:
    march = parse_period("2026-03-01..2026-03-31", utc(2026, 4, 2))
    with open_ledger(march_ledger) as store:
        report = build_report(store, march, "team", now=utc(2026, 4, 2))
        total = build_report(store, march)  # no comparison
    expected = [{k: v for k, v in r.items() if k != "project"} for r in json.loads(MARCH_JSON)]
    assert json.loads(render_json(report)) == expected
    assert render_csv(report) == (
        "team,cost_usd,requests,input_tokens,output_tokens,unknown_cost_requests,avg_cost_per_request_usd,"
        "share_of_total_pct,previous_cost_usd,previous_requests,change_usd,change_pct\n"
        "knowledge,2.5,2,107,100,1,2.5,69.44,0,0,2.5,\n"
        "support,1.100123,2,200,100,0,0.5500615,30.56,100,1,-98.899877,-98.90\n"
        ",0.0000000000001234,1,100,50,0,0,0.00,0,0,0.0000000000001234,\n"
    )
    assert json.loads(render_json(total)) == [
        {
            "cost_usd": "3.6001230000001234",
            "requests": 5,
            "input_tokens": 407,
            "output_tokens": 250,
            "unknown_cost_requests": 1,
            "avg_cost_per_request_usd": "0.90003075",  # 3.6001230000001234 / 4 priced requests, to the picodollar
            "share_of_total_pct": "100.00",
            "previous_cost_usd": None,
            "previous_requests": None,
            "change_usd": None,
            "change_pct": None,
        }
    ]
    assert str(report.total.cost_usd) == "3.6001230000001234"
    assert report.previous_total.cost_usd == Decimal(100)


def test_cli_table(march_ledger: str) -> None:
    args = ["report", "--ledger", march_ledger, "--period", "2026-03-01..2026-03-31", "-g", "team"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "AI spend, 2026-03-01 .. 2026-03-31 (UTC)" in lines[0]
    [header] = [line for line in lines if "Cost (USD)" in line]
    assert [c.strip() for c in header.split("┃")[1:-1]] == [
        "team", "Cost (USD)", "Share", "Change", "Requests", "Avg/request", "Input tokens", "Output tokens", "Unpriced",
    ]  # fmt: skip
    cells = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]] for line in lines if "│" in line}
    assert cells["knowledge"] == ["$2.50", "69.44%", "new", "2", "$2.50", "107", "100", "1"]
    assert cells["support"] == ["$1.100123", "30.56%", "-98.90%", "2", "$0.5500615", "200", "100", "0"]
    assert cells["(none)"] == ["$0.0000000000001234", "0.00%", "new", "1", "$0.00", "100", "50", "0"]
    assert cells["Total"] == ["$3.6001230000001234", "100.00%", "-96.40%", "5", "$0.90003075", "407", "250", "1"]
    assert "1 unpriced requests (unknown model price, or a failed call without usage) are not in the cost." in result.output
    assert "Change vs 2026-01-29 .. 2026-02-28 (UTC): $100.00." in " ".join(result.output.split())
    assert money(Decimal("1234.5")) == "$1,234.50"

    unpriced = runner.invoke(
        app,
        ["report", "--ledger", march_ledger, "--period", "2026-03-20..2026-03-20", "-g", "team"],
        env={"COLUMNS": "200"},
    )
    [knowledge] = [line for line in unpriced.output.splitlines() if "knowledge" in line]
    assert knowledge.split()[:4] == ["│", "knowledge", "│", "unknown"]  # not $0

    empty = runner.invoke(app, ["report", "--ledger", march_ledger, "--period", "2020-01-01..2020-01-31"])
    assert empty.exit_code == 0
    assert empty.output.strip() == "No usage recorded in 2020-01-01 .. 2020-01-31 (UTC)."


def test_cli_named_period_uses_the_clock(march_ledger: str, fake_clock: Any) -> None:
    fake_clock.advance(timedelta(days=-9).total_seconds())  # 2026-03-01 12:00 UTC
    for period, expected in [("this-month", "3.6001230000001234"), ("last-month", "100"), ("today", "1.1")]:
        result = runner.invoke(app, ["report", "--ledger", march_ledger, "--period", period, "-f", "csv"])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines()[1].split(",")[0] == expected
    # this-month to date (2026-03-01 00:00 .. 12:00 UTC) is compared with February to the same point:
    # 2026-02-01 00:00 .. 12:00 UTC, when nothing was spent.
    result = runner.invoke(app, ["report", "--ledger", march_ledger, "-f", "json"])
    [row] = json.loads(result.output)
    assert (row["cost_usd"], row["previous_cost_usd"], row["change_pct"]) == ("3.6001230000001234", "0", None)


def test_cli_finds_the_ledger_in_the_config(march_ledger: str, tmp_path: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("GENOPS_STORAGE_URL", raising=False)
    monkeypatch.delenv("GENOPS_CONFIG", raising=False)
    config = tmp_path / "genops.yaml"
    config.write_text(f'genops:\n  service_name: reports\n  storage:\n    url: "{march_ledger}"\n')
    args = ["report", "--period", "2026-03-01..2026-03-31", "--format", "csv", "--no-compare"]
    total = "3.6001230000001234,5,407,250,1,0.90003075,100.00,,,,"
    result = runner.invoke(app, [*args, "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == total
    result = runner.invoke(app, args, env={"GENOPS_CONFIG": str(config)})
    assert result.output.splitlines()[1] == total
    # No --ledger and no config: the default ledger under GENOPS_HOME (empty here).
    result = runner.invoke(app, args, env={"GENOPS_HOME": str(tmp_path / "home")})
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [",".join(COLUMNS)]
    assert (tmp_path / "home" / "ledger.db").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group-by", "team,teem"], "error: unknown group-by field 'teem' (did you mean 'team'?); for a custom"),
        (["--group-by", "attr:it's"], 'error: bad custom attribute name "it\'s"'),
        (["--format", "xml"], "error: unknown report format 'xml'; use one of table, json, csv, markdown"),
        (["--period", "fortnight"], "error: unknown period 'fortnight'"),
        (["--period", "2026-13"], "error: bad period '2026-13': month must be 01..12"),
        (["--tz", "Mars/Olympus"], "error: unknown timezone 'Mars/Olympus': use an IANA name"),
        (["--top", "0"], "error: --top must be at least 1, not 0"),
        (["--where", "team"], "error: bad --where 'team': use FIELD=VALUE"),
        (["--preset", "best"], "error: unknown preset 'best'; use one of top-customers"),
        (["--ledger", "mysql://x"], "error: unsupported ledger URL 'mysql://x'"),
    ],
)
def test_cli_errors(args: list[str], message: str, tmp_path: Any) -> None:
    base = ["report", "--ledger", f"sqlite:///{tmp_path}/l.db", "--period", "today", "--tz", "UTC"]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2
    assert message in result.output


def test_table_shows_values_that_look_like_markup(tmp_path: Any) -> None:
    """Group values are data: `[acme]` must not be eaten as rich markup."""
    url = f"sqlite:///{tmp_path}/markup.db"
    with open_ledger(url) as ledger:
        ledger.write([make_event("m1", utc(2026, 3, 5), customer_id="[acme] eu", cost="1.5")])
    result = runner.invoke(app, ["report", "--ledger", url, "--period", "2026-03-05..2026-03-05", "-g", "customer_id"],
                           env={"COLUMNS": "200"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "│ [acme] eu " in result.output
