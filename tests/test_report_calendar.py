"""Reports in a timezone: exact period boundaries (month ends, daylight-saving changes, a +05:30
offset), previous-period deltas, --top, Markdown, custom attributes and filters; both backends."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from ledger_backends import make_event
from typer.testing import CliRunner

from genops.analytics.periods import parse_period, previous_period
from genops.analytics.render import render_markdown
from genops.analytics.report import build_report, records
from genops.cli import app
from genops.ledger import open_ledger

runner = CliRunner()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "tz", "now", "start", "end"),
    [
        # Europe/Berlin: CET (+01:00) until 2026-03-29 01:00 UTC, then CEST (+02:00).
        ("last-month", "Europe/Berlin", utc(2026, 4, 10), utc(2026, 2, 28, 23), utc(2026, 3, 31, 22)),
        ("this-month", "Europe/Berlin", utc(2026, 2, 28, 23), utc(2026, 2, 28, 23), utc(2026, 3, 31, 22)),
        ("this-month", "Europe/Berlin", utc(2026, 2, 28, 22, 59, 59), utc(2026, 1, 31, 23), utc(2026, 2, 28, 23)),
        # The week of the change is 167 hours long; its Sunday 23 hours.
        ("this-week", "Europe/Berlin", utc(2026, 3, 25), utc(2026, 3, 22, 23), utc(2026, 3, 29, 22)),
        ("today", "Europe/Berlin", utc(2026, 3, 29, 12), utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)),
        ("2026-10", "Europe/Berlin", utc(2026, 1, 1), utc(2026, 9, 30, 22), utc(2026, 10, 31, 23)),  # back to CET
        # America/New_York: EST (-05:00) until 2026-03-08 07:00 UTC, then EDT (-04:00).
        ("yesterday", "America/New_York", utc(2026, 3, 9, 12), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        ("last-week", "America/New_York", utc(2026, 3, 10), utc(2026, 3, 2, 5), utc(2026, 3, 9, 4)),
        # Asia/Kolkata: +05:30, a whole-day range.
        ("2026-03-01..2026-03-01", "Asia/Kolkata", utc(2026, 4, 1), utc(2026, 2, 28, 18, 30), utc(2026, 3, 1, 18, 30)),
        ("2024-02", "UTC", utc(2026, 4, 1), utc(2024, 2, 1), utc(2024, 3, 1)),  # leap February
    ],
)
def test_period_bounds_in_timezones(name: str, tz: str, now: datetime, start: datetime, end: datetime) -> None:
    period = parse_period(name, now, tz)
    assert (period.start, period.end) == (start, end)


@pytest.mark.parametrize(
    ("name", "now", "start", "end", "label"),
    [
        # Calendar units compare with the unit before, whole.
        ("last-month", utc(2026, 4, 10), utc(2026, 1, 31, 23), utc(2026, 2, 28, 23),
         "2026-02-01 .. 2026-02-28 (Europe/Berlin)"),
        ("last-week", utc(2026, 4, 1), utc(2026, 3, 15, 23), utc(2026, 3, 22, 23),
         "2026-03-16 .. 2026-03-22 (Europe/Berlin)"),  # 168 hours, before the 167-hour week
        # A running period compares to date: the same local wall time one unit earlier.
        ("this-month", utc(2026, 3, 31, 10), utc(2026, 1, 31, 23), utc(2026, 2, 28, 11),
         "2026-02-01 .. 2026-02-28 12:00 (Europe/Berlin)"),  # Mar 31 12:00 CEST -> Feb 28 12:00 CET
        ("today", utc(2026, 3, 30, 10), utc(2026, 3, 28, 23), utc(2026, 3, 29, 10),
         "2026-03-29 .. 2026-03-29 12:00 (Europe/Berlin)"),  # the 23-hour day, to 12:00 local
        # A range of days compares with as many days before it.
        ("2026-03-29..2026-03-30", utc(2026, 4, 10), utc(2026, 3, 26, 23), utc(2026, 3, 28, 23),
         "2026-03-27 .. 2026-03-28 (Europe/Berlin)"),
    ],
)  # fmt: skip
def test_previous_periods(name: str, now: datetime, start: datetime, end: datetime, label: str) -> None:
    previous = previous_period(parse_period(name, now, "Europe/Berlin"), now)
    assert (previous.start, previous.end, previous.label) == (start, end, label)


@pytest.fixture
def berlin_ledger(store_url: str) -> str:
    """Costs are powers of ten so every total says which events it counted."""
    events = [
        ("jan-end", utc(2026, 1, 31, 22, 59, 59), "0.001", "support"),  # Jan 31 23:59:59 CET
        ("feb-start", utc(2026, 1, 31, 23), "0.01", "support"),  # Feb 1 00:00 CET
        ("feb-end", utc(2026, 2, 28, 22, 59, 59), "0.1", "sales"),  # Feb 28 23:59:59 CET
        ("mar-start", utc(2026, 2, 28, 23), "1", "support"),  # Mar 1 00:00 CET (still February in UTC)
        ("mar-mid", utc(2026, 3, 15, 12, 30), "10", "knowledge"),
        ("dst-before", utc(2026, 3, 29, 0, 59, 59), "100", "support"),  # 01:59:59 CET
        ("dst-after", utc(2026, 3, 29, 1), "1000", "knowledge"),  # 03:00 CEST
        ("mar-end", utc(2026, 3, 31, 21, 59, 59), "10000", "sales"),  # Mar 31 23:59:59 CEST
        ("apr-start", utc(2026, 3, 31, 22), "100000", "support"),  # Apr 1 00:00 CEST (March in UTC)
    ]
    with open_ledger(store_url) as store:
        store.write([make_event(i, t, cost=c, team=team, customer_id=f"c-{team}") for i, t, c, team in events])
    return store_url


def test_last_month_in_berlin_and_in_utc(berlin_ledger: str) -> None:
    now = utc(2026, 4, 10)
    with open_ledger(berlin_ledger) as store:
        berlin = build_report(store, parse_period("last-month", now, "Europe/Berlin"), "team", now=now)
        in_utc = build_report(store, parse_period("last-month", now, "UTC"), "team", now=now)
    assert berlin.total.cost_usd == Decimal(11111)  # mar-start .. mar-end
    assert berlin.previous_total.cost_usd == Decimal("0.11")  # feb-start, feb-end
    assert [(r["team"], r["cost_usd"], r["previous_cost_usd"], r["change_usd"], r["change_pct"]) for r in records(berlin)] == [
        ("sales", "10000", "0.1", "9999.9", "9999900.00"),
        ("knowledge", "1010", "0", "1010", None),
        ("support", "101", "0.01", "100.99", "1009900.00"),
    ]  # fmt: skip
    assert in_utc.total.cost_usd == Decimal(111110)  # mar-mid .. apr-start
    # UTC February: feb-end and mar-start (feb-start, Jan 31 23:00 UTC, is January there).
    assert in_utc.previous_total.cost_usd == Decimal("1.1")


def test_daylight_saving_week_and_day(berlin_ledger: str) -> None:
    now = utc(2026, 3, 29, 20)  # Sunday 22:00 CEST, the day the clocks went forward
    with open_ledger(berlin_ledger) as store:
        day = build_report(store, parse_period("today", now, "Europe/Berlin"), "team", now=now)
        week = build_report(store, parse_period("this-week", now, "Europe/Berlin"), (), now=now)
    assert [(r.group["team"], r.cost_usd) for r in day.rows] == [
        ("knowledge", Decimal(1000)),
        ("support", Decimal(100)),
    ]
    assert day.previous_period.label == "2026-03-28 .. 2026-03-28 22:00 (Europe/Berlin)"
    assert week.total.cost_usd == Decimal(1100)
    assert (week.period.end - week.period.start) == timedelta(hours=167)


def test_half_hour_timezone_uses_raw_edges(berlin_ledger: str) -> None:
    with open_ledger(berlin_ledger) as store:
        store.write(
            [
                make_event("k-before", utc(2026, 3, 14, 18, 29, 59), cost="0.5", team="support"),
                make_event("k-first", utc(2026, 3, 14, 18, 30), cost="0.25", team="support"),
                make_event("k-last", utc(2026, 3, 15, 18, 29, 59, 999999), cost="0.125", team="support"),
                make_event("k-after", utc(2026, 3, 15, 18, 30), cost="0.0625", team="support"),
            ]
        )
        period = parse_period("2026-03-15..2026-03-15", utc(2026, 4, 1), "Asia/Kolkata")
        report = build_report(store, period, "team")
    assert [(r.group["team"], r.cost_usd, r.requests) for r in report.rows] == [
        ("knowledge", Decimal(10), 1),
        ("support", Decimal("0.375"), 2),
    ]


def test_top_n_markdown_and_others(berlin_ledger: str, fake_clock: Any) -> None:
    fake_clock.advance((utc(2026, 4, 10) - fake_clock.now()).total_seconds())
    args = ["report", "--ledger", berlin_ledger, "--period", "last-month", "--tz", "Europe/Berlin"]
    result = runner.invoke(app, [*args, "--preset", "top-customers", "--top", "2", "--format", "markdown"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "### AI spend, last-month (2026-03-01 .. 2026-03-31, Europe/Berlin)"
    assert lines[2] == (
        "| customer_id | Cost (USD) | Share | Change | Requests | Avg/request | Input tokens | Output tokens | Unpriced |"
    )
    assert lines[3] == "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    assert lines[4] == "| c-sales | $10,000.00 | 90.00% | +9999900.00% | 1 | $10,000.00 | 100 | 50 | 0 |"
    assert lines[5] == "| c-knowledge | $1,010.00 | 9.09% | new | 2 | $505.00 | 200 | 100 | 0 |"
    assert lines[6] == "| (1 more) | $101.00 | 0.91% |  | 2 | $50.50 | 200 | 100 | 0 |"
    assert lines[7] == (
        "| **Total** | **$11,111.00** | **100.00%** | **+10100809.09%** | **5** | **$2,222.20** | **500** | **250** | **0** |"
    )
    assert lines[9] == "Change vs 2026-02-01 .. 2026-02-28 (Europe/Berlin): $0.11."
    # JSON keeps only the top rows; shares stay relative to the whole period.
    top = runner.invoke(app, [*args, "-g", "customer_id", "--top", "1", "-f", "json"])
    [row] = json.loads(top.output)
    assert (row["customer_id"], row["share_of_total_pct"]) == ("c-sales", "90.00")


def test_reporting_timezone_from_config(berlin_ledger: str, tmp_path: Any, monkeypatch: Any, fake_clock: Any) -> None:
    monkeypatch.delenv("GENOPS_CONFIG", raising=False)
    monkeypatch.delenv("GENOPS_STORAGE_URL", raising=False)
    fake_clock.advance((utc(2026, 4, 10) - fake_clock.now()).total_seconds())
    config = tmp_path / "genops.yaml"
    config.write_text(f'genops:\n  storage:\n    url: "{berlin_ledger}"\n  reporting:\n    timezone: Europe/Berlin\n')
    args = ["report", "--config", str(config), "--period", "last-month", "-f", "csv", "--no-compare"]
    assert runner.invoke(app, args).output.splitlines()[1].startswith("11111,")
    assert runner.invoke(app, [*args, "--tz", "UTC"]).output.splitlines()[1].startswith("111110,")
    config.write_text("genops:\n  reporting:\n    timezone: Europe/Berlinn\n")
    bad = runner.invoke(app, args)
    assert bad.exit_code == 2
    assert "reporting.timezone" in bad.output and "unknown timezone 'Europe/Berlinn'" in bad.output


def test_custom_attributes_and_filters(store_url: str) -> None:
    def ev(event_id: str, cost: str, competitor: str | None, team: str = "sales") -> Any:
        event = make_event(event_id, utc(2026, 3, 5, 10), cost=cost, team=team, operation="competitor_analysis")
        custom = {"competitor": competitor} if competitor else {}
        return replace(event, attribution=replace(event.attribution, custom=custom))

    with open_ledger(store_url) as store:
        store.write(
            [ev("a", "3", "initech"), ev("b", "1", "initech"), ev("c", "2", "umbrella"), ev("d", "4", None, "support")]
        )
    base = ["report", "--ledger", store_url, "--period", "2026-03-05..2026-03-05", "--tz", "UTC", "-f", "json"]
    result = runner.invoke(app, [*base, "--group-by", "competitor"])
    assert result.exit_code == 0, result.output
    assert [(r["competitor"], r["cost_usd"], r["requests"]) for r in json.loads(result.output)] == [
        ("initech", "4", 2),
        (None, "4", 1),
        ("umbrella", "2", 1),
    ]
    result = runner.invoke(app, [*base, "-g", "team,competitor", "--where", "team=sales", "--where", "competitor=umbrella",
                                 "--where", "competitor=initech"])  # fmt: skip
    assert [(r["team"], r["competitor"], r["cost_usd"]) for r in json.loads(result.output)] == [
        ("sales", "initech", "4"),
        ("sales", "umbrella", "2"),
    ]
    unset = runner.invoke(app, [*base, "-g", "team", "--where", "competitor="])
    assert [(r["team"], r["cost_usd"]) for r in json.loads(unset.output)] == [("support", "4")]


def test_markdown_without_usage_and_without_groups(berlin_ledger: str) -> None:
    with open_ledger(berlin_ledger) as store:
        empty = build_report(store, parse_period("2020-01", utc(2026, 1, 1)))
        whole = build_report(store, parse_period("2026-03", utc(2026, 4, 10), "Europe/Berlin"))
    assert render_markdown(empty) == "### AI spend, 2020-01-01 .. 2020-01-31 (UTC)\n\nNo usage recorded.\n"
    lines = render_markdown(whole).splitlines()
    assert lines[2].startswith("|  | Cost (USD) |")
    assert lines[4] == "|  | $11,111.00 | 100.00% |  | 5 | $2,222.20 | 500 | 250 | 0 |"
    assert lines[5].startswith("| **Total** | **$11,111.00** |")
