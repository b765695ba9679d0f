"""The ledger: exact money, idempotent appends, migrations, rollups, concurrency, both backends."""

from __future__ import annotations

import multiprocessing
import random
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from ledger_backends import T0, make_event

from genops import _guard
from genops.errors import ConfigError
from genops.events import UNKNOWN_COST, Attribution, Cost, PolicyDecision, Usage, UsageEvent
from genops.ledger import LedgerUnavailableError, default_ledger_url, open_ledger
from genops.ledger.migrations import MIGRATIONS
from genops.ledger.sink import LedgerSink
from genops.ledger.sqlite import SQLiteLedger
from genops.processor import EventProcessor

DAY = datetime(2026, 3, 10, tzinfo=UTC)


@pytest.fixture
def ledger(store_url: str) -> Any:
    store = open_ledger(store_url)
    yield store
    store.close()


def raw_sql(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run SQL on the store behind `url` outside GenOps (to inspect or damage it)."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url[len("sqlite:///") :]) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


def full_event() -> UsageEvent:
    """An event with every field set, its start time in a non-UTC zone."""
    start = datetime(2026, 3, 10, 14, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    return UsageEvent(
        id="full-1",
        start_time=start,
        end_time=start + timedelta(seconds=1, microseconds=234567),
        provider="anthropic",
        operation_kind="chat",
        request_model="claude-sonnet-4",
        response_model="claude-sonnet-4-20250514",
        usage=Usage(
            input_tokens=1200,
            output_tokens=300,
            cached_input_tokens=1000,
            cache_write_tokens=50,
            reasoning_tokens=20,
            units={"search_units": 2},
            provenance="estimated",
        ),
        cost=Cost(
            total=Decimal("0.0123456789012345678"),
            input=Decimal("0.0036"),
            output=Decimal("0.0087456789012345678"),
            components={"cache_read": Decimal("0.0003"), "cache_write": Decimal("1.875E-4")},
            source="genai-prices",
            version="0.0.40",
        ),
        attribution=Attribution(
            team="knowledge",
            project="kb",
            customer_id="acme",
            user_id="u-1",
            environment="staging",
            operation="answer",
            service="kb-api",
            custom={"region": "eu", "tier": "gold"},
        ),
        latency_ms=123.456,
        status="blocked",
        error_type="PolicyViolationError",
        stream=True,
        decisions=(
            PolicyDecision("team-budget", "budget", "block", "BUDGET_EXCEEDED", "spent $10.00 of $10.00"),
            PolicyDecision("models", "model", "allow"),
        ),
        substituted_from="gpt-4o",
    )


def bare_event() -> UsageEvent:
    """An event with nothing known: no tokens, no price, no attribution."""
    return UsageEvent(
        id="bare-1",
        start_time=T0,
        end_time=T0,
        provider="custom",
        operation_kind="vector.query",
        request_model=None,
        response_model=None,
        usage=Usage.unavailable(),
        cost=UNKNOWN_COST,
        attribution=Attribution(),
        latency_ms=0.5,
    )


def test_events_round_trip_exactly(ledger: Any) -> None:
    events = [full_event(), bare_event()]
    assert ledger.write(events) == 2
    stored = list(ledger.events())
    assert stored == [bare_event(), full_event()]  # oldest first: 12:00 UTC, then 12:30 UTC
    assert stored[1].cost.total == Decimal("0.0123456789012345678")
    assert stored[1].start_time.tzinfo == UTC
    assert stored[1].start_time == datetime(2026, 3, 10, 12, 30, 15, 123456, tzinfo=UTC)
    assert stored[0].usage.input_tokens is None and stored[0].cost.total is None
    assert list(ledger.events(team="knowledge")) == [full_event()]
    assert list(ledger.events(start=T0 + timedelta(microseconds=1))) == [full_event()]
    assert list(ledger.events(end=T0 + timedelta(microseconds=1))) == [bare_event()]


def test_write_is_idempotent(ledger: Any) -> None:
    batch = [make_event(f"e{i}", T0 + timedelta(minutes=i), cost="0.25") for i in range(4)]
    assert ledger.write(batch) == 4
    assert ledger.write(batch) == 0
    assert ledger.write([*batch[2:], make_event("e4", T0, cost="1"), make_event("e4", T0, cost="1")]) == 1
    assert ledger.write([]) == 0
    assert len(list(ledger.events())) == 5
    for use_rollup in (True, False):  # the rollup was not counted twice either
        [row] = ledger._spend(DAY, DAY + timedelta(days=1), ["team"], None, use_rollup)
        assert (row.cost_usd, row.requests, row.input_tokens, row.output_tokens) == (Decimal(2), 5, 500, 250)


def test_spend_totals_are_exact(ledger: Any) -> None:
    costs = ["0.000123", "1.10", "0.0000000000001234", "0.3333333333333333333", None, "2"]
    tokens = [100, 200, None, 300, 400, 500]
    ledger.write(
        [
            make_event(f"c{i}", T0 + timedelta(hours=i), cost=c, input_tokens=t)
            for i, (c, t) in enumerate(zip(costs, tokens))
        ]
    )
    whole_day = ledger.spend(DAY, DAY + timedelta(days=1))
    partial = ledger.spend(T0, T0 + timedelta(hours=11, minutes=59))
    raw = ledger._spend(DAY, DAY + timedelta(days=1), (), None, False)
    for rows in (whole_day, partial, raw):
        [row] = rows
        assert row.group == {}
        assert row.cost_usd == Decimal("3.4334563333334567333")
        assert str(row.cost_usd) == "3.4334563333334567333"
        assert (row.requests, row.unknown_cost_requests) == (6, 1)
        assert (row.input_tokens, row.output_tokens) == (1500, 300)
    assert ledger.spend(T0 + timedelta(hours=4), T0 + timedelta(hours=5))[0].cost_usd == Decimal(0)
    assert ledger.spend(T0 + timedelta(days=1), T0 + timedelta(days=2)) == []


def test_spend_groups_and_filters(ledger: Any) -> None:
    ledger.write(
        [
            make_event("s1", T0, cost="0.50", team="support", model="gpt-4o-mini"),
            make_event("s2", T0, cost="0.25", team="support", model="gpt-4o", response_model="gpt-4o-2024-08-06"),
            make_event("k1", T0, cost="1.00", team="knowledge", provider="anthropic", model="claude-sonnet-4"),
            make_event("k2", T0, cost=None, team="knowledge", provider="anthropic", model="claude-sonnet-4"),
            make_event("n1", T0, cost="0.10", team=None, model="gpt-4o-mini", user_id="u7"),
        ]
    )
    start, end = T0, T0 + timedelta(hours=1)

    def summary(rows: list[Any]) -> list[tuple[Any, ...]]:
        return [(*r.group.values(), r.cost_usd, r.requests, r.unknown_cost_requests) for r in rows]

    assert summary(ledger.spend(start, end, ["team"])) == [
        ("knowledge", Decimal(1), 2, 1),
        ("support", Decimal("0.75"), 2, 0),
        (None, Decimal("0.1"), 1, 0),
    ]
    assert summary(ledger.spend(start, end, ["model"])) == [
        ("claude-sonnet-4", Decimal(1), 2, 1),
        ("gpt-4o-mini", Decimal("0.6"), 2, 0),
        ("gpt-4o-2024-08-06", Decimal("0.25"), 1, 0),
    ]
    assert summary(ledger.spend(start, end, "team, provider")) == [
        ("knowledge", "anthropic", Decimal(1), 2, 1),
        ("support", "openai", Decimal("0.75"), 2, 0),
        (None, "openai", Decimal("0.1"), 1, 0),
    ]
    assert summary(ledger.spend(start, end, ["user_id"], {"model": "gpt-4o-mini"})) == [
        (None, Decimal("0.5"), 1, 0),
        ("u7", Decimal("0.1"), 1, 0),
    ]
    assert summary(ledger.spend(start, end, ["team"], {"team": None})) == [(None, Decimal("0.1"), 1, 0)]
    assert summary(ledger.spend(start, end, [], {"team": ["support", None]})) == [(Decimal("0.85"), 3, 0)]
    assert summary(ledger.spend(start, end, [], {"team": []})) == []
    assert summary(ledger.spend(start, end, [], {"provider": "anthropic", "status": "ok"})) == [(Decimal(1), 2, 1)]


def test_spend_rejects_unknown_fields(ledger: Any) -> None:
    with pytest.raises(ConfigError, match="cannot group spend by 'region'; allowed: team, project, customer_id"):
        ledger.spend(T0, T0 + timedelta(days=1), ["team", "region"])
    with pytest.raises(ConfigError, match="cannot filter spend by 'cost'"):
        ledger.spend(T0, T0 + timedelta(days=1), [], {"cost": "1"})


def test_spend_period_boundaries(ledger: Any) -> None:
    start, end = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    ledger.write(
        [
            make_event("before", start - timedelta(microseconds=1), cost="1"),
            make_event("first", start, cost="10"),
            make_event("last", end - timedelta(microseconds=1), cost="100"),
            make_event("after", end, cost="1000"),
        ]
    )
    for use_rollup in (True, False):
        [row] = ledger._spend(start, end, (), None, use_rollup)
        assert (row.cost_usd, row.requests) == (Decimal(110), 2)
    # Naive datetimes are UTC; an aware one in another zone is the same instant.
    assert ledger.spend(start.replace(tzinfo=None), end.replace(tzinfo=None))[0].cost_usd == Decimal(110)
    plus_one = timezone(timedelta(hours=1))
    assert ledger.spend(start.astimezone(plus_one), end.astimezone(plus_one))[0].cost_usd == Decimal(110)
    assert ledger.spend(end, start) == []


def test_rollup_and_raw_events_agree(ledger: Any) -> None:
    rng = random.Random(7)
    events = []
    for i in range(300):
        cost = rng.choice([None, "0.001", "0.0000123", "0.33333333333333333", str(rng.randint(1, 10**6) / 10**6)])
        events.append(
            make_event(
                f"r{i:03d}",
                DAY + timedelta(seconds=rng.randint(0, 5 * 86400 - 1)),
                cost=cost,
                team=rng.choice(["support", "knowledge", "sales", None]),
                customer_id=rng.choice(["acme", "globex", None]),
                provider=rng.choice(["openai", "anthropic"]),
                model=rng.choice(["m1", "m2"]),
                response_model=rng.choice([None, "m1-2025"]),
                status=rng.choice(["ok", "error"]),
                input_tokens=rng.choice([None, rng.randint(0, 5000)]),
            )
        )
    for i in range(0, 300, 70):
        ledger.write(events[i : i + 70])
    ranges = [(DAY, DAY + timedelta(days=5)), (DAY + timedelta(days=1), DAY + timedelta(days=3))]
    groupings = [(), ("team",), ("team", "customer_id"), ("model", "provider"), ("customer_id",)]
    filters = [None, {"team": "support"}, {"customer_id": [None, "acme"]}, {"status": "error"}]
    for start, end in ranges:
        for group_by in groupings:
            for where in filters:
                rollup = ledger._spend(start, end, group_by, where, True)
                assert rollup == ledger._spend(start, end, group_by, where, False)
                assert rollup == ledger.spend(start, end, group_by, where)
    total = sum((Decimal(e.cost.total) for e in events if e.cost.total is not None), Decimal(0))
    assert ledger.spend(DAY, DAY + timedelta(days=5))[0].cost_usd == total


def test_migrations_are_recorded_and_applied_once(store_url: str) -> None:
    names = [m.name for m in MIGRATIONS]
    assert names == ["0001_events", "0002_daily_spend", "0003_hourly_spend"]
    with open_ledger(store_url) as first:
        applied = first.applied_migrations()
        assert [name for name, _ in applied] == names
    with open_ledger(store_url) as again:
        assert again.applied_migrations() == applied  # not re-applied
    # A store missing a migration gets it on the next open.
    raw_sql(store_url, "DROP TABLE genops_daily_spend")
    raw_sql(store_url, "DELETE FROM genops_schema_migrations WHERE name = '0002_daily_spend'")
    with open_ledger(store_url) as upgraded:
        assert [name for name, _ in upgraded.applied_migrations()] == names
        assert upgraded.write([make_event("m1", cost="0.5")]) == 1
        assert upgraded.spend(DAY, DAY + timedelta(days=1))[0].cost_usd == Decimal("0.5")


def test_hourly_migration_backfills_existing_events(store_url: str) -> None:
    """A ledger written before `0003_hourly_spend` gets the hourly rollup filled from its events."""
    with open_ledger(store_url) as store:
        store.write(
            [make_event(f"h{i}", T0 + timedelta(minutes=25 * i), cost="0.25", team=f"t{i % 2}") for i in range(6)]
        )
    raw_sql(store_url, "DROP TABLE genops_hourly_spend")
    raw_sql(store_url, "DELETE FROM genops_schema_migrations WHERE name = '0003_hourly_spend'")
    with open_ledger(store_url) as upgraded:
        assert [n for n, _ in upgraded.applied_migrations()][-1] == "0003_hourly_spend"
        start, end = T0, T0 + timedelta(hours=3)
        hourly = upgraded._spend(start, end, ["team"], None, "hourly")
        assert hourly == upgraded._spend(start, end, ["team"], None, False)
        assert [(r.group["team"], r.cost_usd, r.requests) for r in hourly] == [
            ("t0", Decimal("0.75"), 3),
            ("t1", Decimal("0.75"), 3),
        ]
        assert upgraded.write([make_event("h9", T0, cost="1", team="t0")]) == 1  # increments the backfilled row
        assert upgraded._spend(T0, T0 + timedelta(hours=1), ["team"], None, "hourly")[0].cost_usd == Decimal("1.5")


def _write_from_process(url: str, worker: int, results: Any) -> None:
    with open_ledger(url) as store:
        inserted = 0
        for batch in range(6):
            own = [make_event(f"w{worker}-{batch}-{i}", T0 + timedelta(seconds=i), cost="0.000001") for i in range(50)]
            shared = [make_event(f"shared-{batch}-{i}", T0, cost="0.000001") for i in range(10)]
            inserted += store.write(own + shared if worker else shared + own)
        results.put(inserted)


def test_two_processes_write_concurrently(store_url: str) -> None:
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    workers = [ctx.Process(target=_write_from_process, args=(store_url, w, results)) for w in (0, 1)]
    for p in workers:  # both open (and migrate) a store nobody has opened yet
        p.start()
    counts = [results.get(timeout=120) for _ in workers]
    for p in workers:
        p.join(30)
        assert p.exitcode == 0
    # Each process inserted its own 300 events; the 60 shared ids landed exactly once between them.
    assert sum(counts) == 660 and min(counts) >= 300
    with open_ledger(store_url) as store:
        assert len(list(store.events())) == 660
        for use_rollup in (True, False):
            [row] = store._spend(DAY, DAY + timedelta(days=1), (), None, use_rollup)
            assert (row.requests, row.cost_usd) == (660, Decimal("0.00066"))


def test_events_are_read_in_pages(ledger: Any) -> None:
    ledger.PAGE_SIZE = 3
    batch = [make_event(f"p{i:02d}", T0 + timedelta(seconds=i // 4)) for i in range(10)]
    ledger.write(list(reversed(batch)))
    assert [e.id for e in ledger.events()] == [e.id for e in batch]


def test_sink_writes_through_the_processor(ledger: Any) -> None:
    processor = EventProcessor([LedgerSink(ledger)], batch_size=4)
    try:
        for i in range(10):
            processor.submit(make_event(f"q{i}", T0, cost="0.01"))
        assert processor.flush()
        [row] = ledger.spend(T0, T0 + timedelta(seconds=1))
        assert (row.requests, row.cost_usd) == (10, Decimal("0.1"))
    finally:
        processor.close()


def test_sink_spools_events_while_sqlite_is_locked(tmp_path: Any) -> None:
    path = tmp_path / "ledger.db"
    store = SQLiteLedger(path, busy_timeout_ms=50)
    sink = LedgerSink(store)
    _guard.clear_errors()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        with pytest.raises(LedgerUnavailableError, match="database is locked"):
            store.write([make_event("x0")])
        sink.handle([(make_event(f"x{i}"), None) for i in range(3)])
        assert sink.pending == 3
        assert [e.id for e in sink.spool.events()] == ["x0", "x1", "x2"]
        assert list(store.events()) == []
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    sink.flush()  # the lock is gone: the spool is written, oldest first
    sink.handle([(make_event("x3"), None)])
    assert sink.pending == 0
    assert [e.id for e in store.events()] == ["x0", "x1", "x2", "x3"]
    assert _guard.recent_errors() == []  # an outage is not a GenOps bug
    sink.close()
    store.close()


def test_sink_retries_after_postgres_connection_loss(pg_schemas: Any) -> None:
    url = pg_schemas()
    store = open_ledger(url)
    sink = LedgerSink(store)
    _guard.clear_errors()
    sink.handle([(make_event("y0"), None)])
    pid = store._conn().info.backend_pid
    raw_sql(url, f"SELECT pg_terminate_backend({pid})")  # the server drops our connection
    sink.handle([(make_event("y1"), None), (make_event("y2"), None)])
    assert sink.pending == 2
    sink.flush()  # reconnects and writes what was spooled
    assert sink.pending == 0
    assert [e.id for e in store.events()] == ["y0", "y1", "y2"]
    assert _guard.recent_errors() == []
    sink.close()
    store.close()


def test_sink_logs_what_neither_the_ledger_nor_the_spool_could_take(tmp_path: Any, caplog: Any) -> None:
    from genops.ledger.spool import Spool

    path = tmp_path / "ledger.db"
    store = SQLiteLedger(path, busy_timeout_ms=20)
    (tmp_path / "not-a-dir").write_text("")
    sink = LedgerSink(store, spool=Spool(tmp_path / "not-a-dir" / "spool.db"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    sink.handle([(make_event(f"z{i}"), None) for i in range(3)])
    blocker.execute("ROLLBACK")
    blocker.close()
    assert (sink.pending, sink.dropped) == (0, 3)
    assert "3 usage events could not be written to the ledger nor to its spool and are lost" in caplog.text
    sink.close()
    store.close()


def test_sink_drops_only_an_event_that_cannot_be_stored(ledger: Any) -> None:
    sink = LedgerSink(ledger)
    _guard.clear_errors()
    poison = make_event("p1", cost="NaN")  # no picodollar value exists
    sink.handle([(make_event("g1"), None), (poison, None), (make_event("g2"), None)])
    assert (sink.pending, sink.dropped) == (0, 1)
    assert [e.id for e in ledger.events()] == ["g1", "g2"]
    assert len(_guard.recent_errors()) == 2  # the failed batch, then the event dropped
    _guard.clear_errors()


def test_open_ledger_urls(tmp_path: Any, monkeypatch: Any) -> None:
    home = tmp_path / "home" / "genops"
    monkeypatch.setenv("GENOPS_HOME", str(home))
    assert default_ledger_url() == f"sqlite:///{home}/ledger.db"
    with open_ledger(None) as store:
        store.write([make_event("d1")])
    assert (home / "ledger.db").is_file()
    with sqlite3.connect(home / "ledger.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    monkeypatch.delenv("GENOPS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_ledger_url() == f"sqlite:///{tmp_path}/user/.genops/ledger.db"

    monkeypatch.chdir(tmp_path)
    with open_ledger("sqlite:///data/relative.db") as store:
        assert store.write([make_event("r1")]) == 1
    assert (tmp_path / "data" / "relative.db").is_file()

    with pytest.raises(ConfigError, match="unsupported ledger URL") as err:
        open_ledger("mysql://admin:s3cret@db.internal/genops")
    assert "s3cret" not in str(err.value) and "admin:***@db.internal" in str(err.value)
    with pytest.raises(ConfigError, match="bad SQLite ledger URL"):
        open_ledger("sqlite://ledger.db")


def test_postgres_unreachable_is_a_clear_error() -> None:
    with pytest.raises(LedgerUnavailableError, match=r"PostgreSQL ledger postgresql://genops:\*\*\*@127.0.0.1:1/x"):
        open_ledger("postgresql://genops:pw@127.0.0.1:1/x")
