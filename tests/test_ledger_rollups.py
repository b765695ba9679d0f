"""Hourly + daily rollups: the query plan, exact agreement with raw events over arbitrary ranges,
custom-attribute grouping, the rollup rebuild, and raw row scans; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from ledger_backends import make_event
from test_ledger import raw_sql

from genops.errors import ConfigError
from genops.ledger import open_ledger
from genops.ledger.plan import Segment, plan
from genops.ledger.rows import to_us

DAY = datetime(2026, 3, 10, tzinfo=UTC)
H = 3_600_000_000


def us(*args: int) -> int:
    return to_us(datetime(*args, tzinfo=UTC))


def test_plan_splits_a_range_into_raw_hourly_and_daily_parts() -> None:
    # Europe/Berlin's March 2026: 2026-02-28 23:00 UTC .. 2026-03-31 22:00 UTC.
    assert plan(us(2026, 2, 28, 23), us(2026, 3, 31, 22)) == [
        Segment("hourly", us(2026, 2, 28, 23), us(2026, 3, 1)),
        Segment("daily", us(2026, 3, 1), us(2026, 3, 31)),
        Segment("hourly", us(2026, 3, 31), us(2026, 3, 31, 22)),
    ]
    assert plan(us(2026, 3, 1), us(2026, 4, 1))[0].days == ("2026-03-01", "2026-04-01")
    # Asia/Kolkata (+05:30): the half hours at each end come from raw events.
    assert plan(us(2026, 2, 28, 18, 30), us(2026, 3, 31, 18, 30)) == [
        Segment("raw", us(2026, 2, 28, 18, 30), us(2026, 2, 28, 19)),
        Segment("hourly", us(2026, 2, 28, 19), us(2026, 3, 1)),
        Segment("daily", us(2026, 3, 1), us(2026, 3, 31)),
        Segment("hourly", us(2026, 3, 31), us(2026, 3, 31, 18)),
        Segment("raw", us(2026, 3, 31, 18), us(2026, 3, 31, 18, 30)),
    ]
    # Within one day: hours only; within one hour: raw only; empty ranges: nothing.
    assert plan(us(2026, 3, 1, 5, 10), us(2026, 3, 1, 9)) == [
        Segment("raw", us(2026, 3, 1, 5, 10), us(2026, 3, 1, 6)),
        Segment("hourly", us(2026, 3, 1, 6), us(2026, 3, 1, 9)),
    ]
    assert plan(us(2026, 3, 1, 5, 10), us(2026, 3, 1, 5, 50)) == [
        Segment("raw", us(2026, 3, 1, 5, 10), us(2026, 3, 1, 5, 50))
    ]
    assert plan(us(2026, 3, 1, 5), us(2026, 3, 1, 5)) == []


@pytest.fixture
def ledger(store_url: str) -> Any:
    store = open_ledger(store_url)
    yield store
    store.close()


def _random_events(n: int, seed: int = 11) -> list[Any]:
    rng = random.Random(seed)
    events = []
    for i in range(n):
        cost = rng.choice([None, "0.001", "0.0000123", "0.33333333333333333", str(rng.randint(1, 10**6) / 10**6)])
        event = make_event(
            f"r{i:04d}",
            DAY + timedelta(microseconds=rng.randint(0, 4 * 86_400_000_000)),
            cost=cost,
            team=rng.choice(["support", "knowledge", "sales", None]),
            customer_id=rng.choice(["acme", "globex", None]),
            provider=rng.choice(["openai", "anthropic"]),
            model=rng.choice(["m1", "m2"]),
            user_id=rng.choice(["u1", "u2", None]),
            status=rng.choice(["ok", "error"]),
            input_tokens=rng.choice([None, rng.randint(0, 5000)]),
        )
        competitor = rng.choice(["initech", "umbrella", None])
        if competitor:
            event = _with_custom(event, {"competitor": competitor})
        events.append(event)
    return events


def _with_custom(event: Any, custom: dict[str, str]) -> Any:
    return replace(event, attribution=replace(event.attribution, custom=custom))


def test_planned_spend_equals_raw_events_for_any_range(ledger: Any) -> None:
    events = _random_events(400)
    for i in range(0, len(events), 90):
        ledger.write(events[i : i + 90])
    rng = random.Random(5)
    ranges = [
        (DAY - timedelta(hours=1), DAY + timedelta(days=3, hours=22)),  # whole hours (Europe/Berlin-like)
        (DAY + timedelta(hours=5, minutes=30), DAY + timedelta(days=2, hours=5, minutes=30)),  # +05:30
        (DAY + timedelta(hours=2), DAY + timedelta(hours=7)),  # hours inside one day
    ]
    for _ in range(4):  # arbitrary instants
        a, b = sorted(rng.randint(0, 4 * 86_400_000_000) for _ in range(2))
        ranges.append((DAY + timedelta(microseconds=a), DAY + timedelta(microseconds=b)))
    groupings = [(), ("team",), ("team", "customer_id"), ("model", "provider"), ("status",)]
    filters = [None, {"team": "support"}, {"customer_id": [None, "acme"]}, {"status": "error"}]
    for start, end in ranges:
        for group_by in groupings:
            for where in filters:
                assert ledger.spend(start, end, group_by, where) == ledger._spend(start, end, group_by, where, False)
    whole_hours = (DAY + timedelta(hours=3), DAY + timedelta(days=2, hours=9))
    assert ledger._spend(*whole_hours, ["team"], None, "hourly") == ledger._spend(*whole_hours, ["team"], None, False)
    total = sum((Decimal(e.cost.total) for e in events if e.cost.total is not None), Decimal(0))
    assert ledger.spend(DAY, DAY + timedelta(days=5))[0].cost_usd == total


def test_custom_attribute_grouping_and_filters(ledger: Any) -> None:
    base = make_event("x", DAY)

    def ev(event_id: str, cost: str, **custom: str) -> Any:
        return _with_custom(make_event(event_id, DAY + timedelta(hours=1), cost=cost, team="sales"), custom)

    ledger.write(
        [
            ev("c1", "1.5", competitor="initech"),
            ev("c2", "0.25", competitor="initech", region="eu"),
            ev("c3", "2", competitor="umbrella"),
            ev("c4", "0.125"),
            base,
        ]
    )
    start, end = DAY, DAY + timedelta(days=1)
    rows = ledger.spend(start, end, ["attr:competitor"])
    assert [(r.group["attr:competitor"], r.cost_usd, r.requests) for r in rows] == [
        ("umbrella", Decimal(2), 1),
        ("initech", Decimal("1.75"), 2),
        (None, Decimal("0.126"), 2),
    ]
    rows = ledger.spend(start, end, ["team", "attr:region"], {"attr:competitor": "initech"})
    assert [(*r.group.values(), r.cost_usd) for r in rows] == [
        ("sales", None, Decimal("1.5")),
        ("sales", "eu", Decimal("0.25")),
    ]
    assert ledger.spend(start, end, [], {"attr:competitor": [None, "umbrella"]})[0].cost_usd == Decimal("2.126")
    with pytest.raises(ConfigError, match='bad custom attribute name "it\'s"'):
        ledger.spend(start, end, ["attr:it's"])
    with pytest.raises(ConfigError, match=r"or attr:<key> for a custom attribute"):
        ledger.spend(start, end, ["competitor"])


def test_rebuild_rollups_matches_incremental_writes(ledger: Any, store_url: str) -> None:
    events = _random_events(250, seed=3)
    for i in range(0, len(events), 60):
        ledger.write(events[i : i + 60])
    columns = "team, project, customer_id, provider, model, operation, environment, operation_kind, status, requests, unknown_cost_requests, inexact_cost_requests, cost_pico, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens"

    def snapshot() -> tuple[list[Any], list[Any]]:
        daily = raw_sql(store_url, f"SELECT day, group_key, {columns} FROM genops_daily_spend ORDER BY 1, 2")
        hourly = raw_sql(store_url, f"SELECT hour_us, group_key, {columns} FROM genops_hourly_spend ORDER BY 1, 2")
        return [tuple(str(v) for v in r) for r in daily], [tuple(str(v) for v in r) for r in hourly]

    before = snapshot()
    raw_sql(store_url, "DELETE FROM genops_hourly_spend WHERE hour_us % 7200000000 = 0")  # damage the rollups
    raw_sql(store_url, "UPDATE genops_daily_spend SET cost_pico = cost_pico + 1")
    assert snapshot() != before
    calls: list[tuple[int, int]] = []
    assert ledger.rebuild_rollups(progress=lambda done, total: calls.append((done, total))) == 250
    assert snapshot() == before
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]  # the events span 4 UTC days
    ledger.write([make_event("late", DAY, cost="1")])  # incremental writes continue on rebuilt rows
    assert ledger.spend(DAY, DAY + timedelta(days=1)) == ledger._spend(DAY, DAY + timedelta(days=1), (), None, False)


def test_rebuild_of_an_empty_ledger(ledger: Any) -> None:
    calls: list[tuple[int, int]] = []
    assert ledger.rebuild_rollups(progress=lambda done, total: calls.append((done, total))) == 0
    assert calls == [(0, 0)]


def test_rows_and_count(ledger: Any) -> None:
    ledger.write([make_event(f"p{i:02d}", DAY + timedelta(seconds=i // 3), cost="0.5") for i in range(10)])
    rows = list(ledger.rows(["id", "cost_usd", "team"], DAY, DAY + timedelta(seconds=3), page_size=4))
    assert rows == [(f"p{i:02d}", "0.5", "support") for i in range(9)]
    assert ledger.count() == 10
    assert ledger.count(DAY + timedelta(seconds=1), DAY + timedelta(seconds=3)) == 6
    with pytest.raises(ValueError, match="not ledger event columns"):
        list(ledger.rows(["id", "secret"]))
