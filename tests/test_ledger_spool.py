"""The ledger spool: usage events recorded while the store is down are kept on disk and reach the
ledger exactly once when it is back, in this process or the next one.

Outages are real: PostgreSQL behind a TCP relay that the test takes down (store_relay.py), calls
made through the real OpenAI SDK against the stand-in server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from ledger_backends import PG_DSN, T0, make_event
from store_relay import Relay

from genops import GenOps, _guard
from genops.events import Attribution, Cost, PolicyDecision, Usage, UsageEvent
from genops.ledger import LedgerUnavailableError, open_ledger
from genops.ledger.migrations import MIGRATIONS
from genops.ledger.sink import LedgerSink
from genops.ledger.spool import Spool, spool_path

ASK = [{"role": "user", "content": "Summarise the incident report."}]
CALL_COST = Decimal("0.025")  # gpt-4-turbo, 1000 input tokens at $10/M + 500 output at $30/M


@pytest.fixture
def client(server: Any) -> openai.OpenAI:
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def pg_outage(pg_schemas: Any) -> Any:
    """(direct URL, URL through a relay the test can take down, the relay) for a fresh, migrated ledger."""
    direct = pg_schemas()
    open_ledger(direct).close()  # create the schema while the store is up
    relay = Relay(("127.0.0.1", 5432))
    try:
        yield direct, direct.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}"), relay
    finally:
        relay.close()


def stored(url: str) -> list[UsageEvent]:
    """The ledger's events, read past the relay."""
    with open_ledger(url) as ledger:
        return list(ledger.events())


class Recorder:
    """A processor sink that keeps every event handed to the sinks (the originals)."""

    def __init__(self) -> None:
        self.events: list[UsageEvent] = []

    def handle(self, batch: Any) -> None:
        self.events.extend(event for event, _ctx in batch)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


def rich_event(event_id: str, cost: str | None = "0.0000000000001234") -> UsageEvent:
    """An event using every field the ledger stores (a cost finer than a picodollar, decisions...)."""
    return UsageEvent(
        id=event_id,
        start_time=datetime(2026, 3, 10, 12, 30, 15, 123456, tzinfo=UTC),
        end_time=datetime(2026, 3, 10, 12, 30, 16, 5, tzinfo=UTC),
        provider="cohere",
        operation_kind="rerank",
        request_model="rerank-v3.5",
        response_model="rerank-v3.5-2025",
        usage=Usage(
            input_tokens=12,
            output_tokens=0,
            cached_input_tokens=3,
            cache_write_tokens=1,
            reasoning_tokens=0,
            units={"search_units": 2},
            provenance="estimated",
        ),
        cost=Cost(
            total=None if cost is None else Decimal(cost),
            input=Decimal("0.0000000000001"),
            output=Decimal("0.0000000000000234"),
            components={"search_units": Decimal("0.004")},
            source="override",
            version="2026-03",
        ),
        attribution=Attribution(
            team="knowledge",
            project="kb",
            customer_id="acme",
            user_id="u-7",
            environment="production",
            operation="search",
            service="kb-api",
            custom={"region": "eu", "tier": "gold"},
        ),
        latency_ms=123.456789,
        status="ok",
        stream=True,
        decisions=(
            PolicyDecision(
                policy="kb_budget", policy_type="budget", action="warn", reason="BUDGET_THRESHOLD", detail="80% of $100"
            ),
        ),
        substituted_from="rerank-v3",
    )


# -- the spool file ---------------------------------------------------------------------------------


def test_spooled_events_round_trip_exactly(tmp_path: Path, genops_home: Path, fake_clock: Any) -> None:
    spool = Spool.for_ledger(f"sqlite:///{tmp_path}/ledger.db")
    assert (spool.path.parent, spool.path.name.startswith("spool-"), spool.path.suffix) == (genops_home, True, ".db")
    assert spool.count() == 0 and not spool.path.exists()  # created on the first spooled event
    events = [rich_event("r1"), rich_event("r2", cost=None), make_event("m1", cost="1.10")]
    assert spool.append(events) == []
    assert spool.events() == events
    assert spool.events()[0].cost.total == Decimal("0.0000000000001234")
    assert spool.count() == 3
    # An event with no storable form is refused (with the reason), the others are kept.
    [(refused, reason)] = spool.append([make_event("bad", cost="NaN"), make_event("m2")])
    assert refused.id == "bad" and isinstance(reason, (ValueError, ArithmeticError))
    assert [e.id for e in spool.events()] == ["r1", "r2", "m1", "m2"]
    spool.close()


def test_each_ledger_has_its_own_spool(tmp_path: Path, genops_home: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    a = spool_path("sqlite:///data/ledger.db")
    assert a == spool_path(f"sqlite:///{tmp_path}/data/ledger.db")  # the same file, spelled two ways
    assert a != spool_path(f"sqlite:///{tmp_path}/other.db")
    pg = spool_path(f"{PG_DSN}?options=-csearch_path%3Dtenant_a")
    assert pg == spool_path(PG_DSN.replace("postgresql:", "postgres:") + "?options=-csearch_path%3Dtenant_a")
    assert pg != spool_path(f"{PG_DSN}?options=-csearch_path%3Dtenant_b")
    assert len({a, pg}) == 2 and all(p.parent == genops_home for p in (a, pg))


def test_claims_keep_replayers_apart_until_they_expire(tmp_path: Path, fake_clock: Any) -> None:
    path = tmp_path / "spool.db"
    first, second = Spool(path), Spool(path)  # two processes sharing one spool
    first.append([make_event(f"s{i}") for i in range(5)])
    a = first.claim(2)
    b = second.claim(10)
    assert [e.id for _, e in a] == ["s0", "s1"] and [e.id for _, e in b] == ["s2", "s3", "s4"]
    assert second.claim(10) == [] and first.claim(10) == []
    assert second.count() == 5  # claimed events still wait until they are deleted
    second.delete([seq for seq, _ in a])  # only the claimer can delete or release its claims
    first.release([seq for seq, _ in b])
    assert second.count() == 5
    second.delete([seq for seq, _ in b])
    assert [e.id for e in first.events()] == ["s0", "s1"]
    # `first` crashes holding s0, s1: its claim expires after the lease.
    assert second.claim(10) == []
    fake_clock.advance(first.lease_seconds + 1)
    assert [e.id for _, e in second.claim(10)] == ["s0", "s1"]
    first.close()
    second.close()


# -- outages, in process ----------------------------------------------------------------------------


def test_calls_during_a_postgres_outage_reach_the_ledger_once_it_is_back(
    genops_runtime: Any, client: openai.OpenAI, pg_outage: Any, fake_clock: Any, caplog: Any
) -> None:
    direct, relayed, relay = pg_outage
    rt = genops_runtime(storage={"url": relayed}, attribution={"team": "support"})
    recorder = Recorder()
    rt.processor.sinks.append(recorder)
    spool = rt.ledger_sink.spool
    with GenOps.track(customer_id="before"):
        client.chat.completions.create(model="gpt-4-turbo", messages=ASK)
    rt.flush()
    assert len(stored(direct)) == 1 and not spool.path.exists()

    relay.down()
    for i in range(3):
        with GenOps.track(customer_id=f"during-{i}"):
            reply = client.chat.completions.create(model="gpt-4-turbo", messages=ASK)
        assert reply.usage.completion_tokens == 500  # the user's call is not affected
    rt.flush()  # tries the store, which is down: the events stay in the spool
    during = recorder.events[1:]
    assert [e.attribution.customer_id for e in during] == ["during-0", "during-1", "during-2"]
    assert spool.events() == during
    assert rt.ledger_sink.pending == 3
    assert [e.id for e in stored(direct)] == [recorder.events[0].id]
    assert "ledger unavailable, usage events go to the spool" in caplog.text

    relay.up = True
    with GenOps.track(customer_id="after"):
        client.chat.completions.create(model="gpt-4-turbo", messages=ASK)
    rt.flush()
    ledger = stored(direct)
    assert sorted(ledger, key=lambda e: e.id) == sorted(recorder.events, key=lambda e: e.id)  # each once, exactly
    assert len(ledger) == 5 and sum(e.cost.total for e in ledger) == 5 * CALL_COST
    assert spool.count() == 0 and rt.ledger_sink.dropped == 0
    assert _guard.recent_errors() == []  # an outage is not a GenOps bug


def test_a_spool_left_behind_is_replayed_in_the_background_at_start(
    genops_runtime: Any, pg_outage: Any, fake_clock: Any
) -> None:
    direct, relayed, _relay = pg_outage
    left = [rich_event(f"left-{i}") for i in range(3)]
    Spool.for_ledger(relayed).append(left)
    rt = genops_runtime(storage={"url": relayed})
    # No flush, no new event: the sink's background thread writes the spool on its own.
    for _ in range(400):
        if rt.ledger_sink.pending == 0:
            break
        time.sleep(0.025)
    assert rt.ledger_sink.pending == 0, "the spool left by an earlier process was not replayed"
    assert stored(direct) == left


def test_spooled_events_the_ledger_rejects_are_set_aside(pg_schemas: Any, fake_clock: Any) -> None:
    url = pg_schemas()
    ledger = open_ledger(url)
    spool = Spool.for_ledger(url)
    poison = make_event("p1", team="nul\x00byte")  # PostgreSQL text cannot hold a NUL character
    spool.append([make_event("g1"), poison, make_event("g2")])
    sink = LedgerSink(ledger, spool=spool)
    _guard.clear_errors()
    sink.flush()
    assert [e.id for e in ledger.events()] == ["g1", "g2"]
    assert sink.pending == 0
    [(event_id, error)] = spool.set_aside_events()
    assert event_id == "p1" and "NUL" in error
    assert len(_guard.recent_errors()) == 2  # the failed batch, then the event set aside
    _guard.clear_errors()
    sink.close()
    ledger.close()


def test_concurrent_replayers_write_each_event_once(pg_schemas: Any, fake_clock: Any) -> None:
    url = pg_schemas()
    events = [make_event(f"c{i:04d}", T0 + timedelta(seconds=i), cost="0.001") for i in range(600)]
    Spool.for_ledger(url).append(events)
    ledgers = [open_ledger(url), open_ledger(url)]
    sinks = [LedgerSink(ledger, spool=Spool.for_ledger(url), batch_size=50) for ledger in ledgers]
    threads = [threading.Thread(target=sink.flush) for sink in sinks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stored(url) == events
    [row] = ledgers[0].spend(T0, T0 + timedelta(hours=1))
    assert (row.requests, row.cost_usd) == (600, Decimal("0.6"))  # the rollups counted each event once
    assert sinks[0].pending == 0 and sinks[0].spool.set_aside_events() == []
    for sink, ledger in zip(sinks, ledgers):
        sink.close()
        ledger.close()


def test_a_postgres_ledger_opened_during_an_outage_migrates_on_first_use(pg_schemas: Any) -> None:
    direct = pg_schemas()  # a fresh schema: no tables yet
    relay = Relay(("127.0.0.1", 5432))
    relayed = direct.replace("127.0.0.1:5432", f"127.0.0.1:{relay.port}")
    try:
        relay.down()
        with pytest.raises(LedgerUnavailableError):
            open_ledger(relayed)
        ledger = open_ledger(relayed, allow_unreachable=True)
        with pytest.raises(LedgerUnavailableError):
            ledger.write([make_event("late-1")])
        relay.up = True
        assert ledger.write([make_event("late-1")]) == 1
        assert [name for name, _at in ledger.applied_migrations()] == [m.name for m in MIGRATIONS]
        ledger.close()
    finally:
        relay.close()
    assert [e.id for e in stored(direct)] == ["late-1"]


# -- outages across processes -----------------------------------------------------------------------

CALLS_DURING_OUTAGE = """
import sys
import openai
from genops import GenOps

GenOps.init(storage={"url": sys.argv[1]}, exporters=[{"type": "none"}], attribution={"team": "batch"})
client = openai.OpenAI(base_url=sys.argv[2], api_key="sk-test", max_retries=0)
for i in range(4):
    with GenOps.track(customer_id=f"job-{i}"):
        client.chat.completions.create(model="gpt-4-turbo", messages=[{"role": "user", "content": "hi"}])
print("calls made", flush=True)
if sys.argv[3] == "crash":
    import os

    GenOps.flush()  # the events left the calling thread (into the spool)...
    os._exit(1)  # ...then the process dies: no atexit, no shutdown
"""  # "exit": exits normally, GenOps flushes at interpreter exit

START_AND_STOP = """
import sys
from genops import GenOps

GenOps.init(storage={"url": sys.argv[1]}, exporters=[{"type": "none"}])
GenOps.shutdown()
"""


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", script, *args], check=False, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("end", ["exit", "crash"])
def test_a_process_that_ends_during_an_outage_leaves_its_events_to_the_next(
    client: openai.OpenAI, server: Any, pg_outage: Any, end: str
) -> None:
    direct, relayed, relay = pg_outage
    relay.down()  # down from the start: GenOps.init must not fail on it
    first = run(CALLS_DURING_OUTAGE, relayed, server.openai_base_url, end)
    assert first.returncode == (0 if end == "exit" else 1), first.stderr
    assert first.stdout.strip() == "calls made"
    assert len(server.requests) == 4
    spool = Spool.for_ledger(relayed)
    if end == "exit":
        assert f"4 usage events wait in the spool {spool.path}" in first.stderr
    spooled = spool.events()
    assert [(e.attribution.team, e.attribution.customer_id) for e in spooled] == [
        ("batch", f"job-{i}") for i in range(4)
    ]
    assert [(e.usage.input_tokens, e.usage.output_tokens, e.cost.total) for e in spooled] == [
        (1000, 500, CALL_COST)
    ] * 4
    assert stored(direct) == []

    relay.up = True
    second = run(START_AND_STOP, relayed)
    assert second.returncode == 0, second.stderr
    assert sorted(stored(direct), key=lambda e: e.id) == sorted(spooled, key=lambda e: e.id)
    assert spool.count() == 0
    with open_ledger(direct) as ledger:
        [row] = ledger.spend(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC), ["team"])
    assert (row.group, row.requests, row.cost_usd) == ({"team": "batch"}, 4, 4 * CALL_COST)
    spool.close()


def test_a_stream_read_to_its_end_after_shutdown_reaches_the_ledger_through_the_spool(
    genops_runtime: Any, client: openai.OpenAI, ledger_url: str, fake_clock: Any
) -> None:
    genops_runtime()
    stream = client.chat.completions.create(model="gpt-4-turbo", messages=ASK, stream=True,
                                            stream_options={"include_usage": True})  # fmt: skip
    GenOps.shutdown()  # the ledger is closed while the application still reads the stream
    assert len(list(stream)) > 1
    assert _guard.recent_errors() == []
    with open_ledger(ledger_url) as ledger:  # the next process on this ledger writes what was spooled
        sink = LedgerSink(ledger)
        sink.flush()
        sink.close()
        [event] = ledger.events()
    assert (event.usage.input_tokens, event.usage.output_tokens, event.cost.total) == (1000, 500, CALL_COST)
    assert event.status == "ok" and event.stream
