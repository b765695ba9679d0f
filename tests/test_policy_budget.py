"""Budgets on every policy store backend (SQLite, PostgreSQL, Redis next to PostgreSQL): exact
reservations and settlements, calendar periods in a timezone, reservation expiry, WARNING
budgets and their threshold crossings, restarts, overrides, unknown prices.

Calls go through `genops.pipeline` (the path every integration takes) on a house model priced at
$0.001 per input and $0.002 per output token: 100 in / 10 out costs $0.12, and a BLOCKED budget
reserves $0.161 for it (141 input tokens with the safety margin, 10 output tokens)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import openai
import pytest
from ledger_backends import make_event
from policy_backends import HOUSE_PRICING, AlertRecorder, governed_call, start_call

from genops import PolicyViolationError, Usage
from genops._runtime import start_runtime
from genops.config import Settings
from genops.policy.crossing import BudgetCrossing
from genops.policy.status import budget_status
from genops.policy.store import Override, from_nano

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # the fake clock's start
MARCH, APRIL = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)

TEAM_C = {"name": "team_c_budget", "type": "budget", "limit": 10000.0, "period": "monthly", "teams": ["sales"],
          "enforcement": "BLOCKED"}  # fmt: skip
TEAM_A = {"name": "team_a_budget", "type": "budget", "limit": 10000.0, "period": "monthly", "teams": ["support"],
          "enforcement": "WARNING"}  # fmt: skip


@pytest.fixture
def start(genops_runtime, policy_storage, fake_clock):
    """`start(*policies, **settings)` starts GenOps; `restart=True` starts a new runtime the way a
    new process would (without the test's in-memory telemetry readers)."""
    started = []

    def run(*policies, restart=False, **settings):
        settings.setdefault("pricing", HOUSE_PRICING)
        settings.update(storage=policy_storage, policies=list(policies))
        if not started or not restart:
            started.append(True)
            return genops_runtime(**settings)
        return start_runtime(Settings.model_validate({"exporters": [{"type": "none"}], **settings}))

    return run


def seed(rt, amount: str, team: str, when: datetime = T0 - timedelta(days=1)) -> None:
    """Spend already in the ledger this period (from earlier runs)."""
    rt.ledger.write([make_event(f"seed-{team}-{amount}", when, cost=amount, team=team)])


def counter(rt, policy: str, scope: str = "*") -> tuple[Decimal, Decimal, Decimal]:
    """(spent, reserved, limit in force) of a budget counter now."""
    from genops import _clock

    engine = rt.policies
    rule = next(r for r in engine.budget_rules if r.name == policy)
    now = _clock.now()
    key = rule.key(scope, now)
    state = engine.counter(rule, key, lambda: engine.store.read(key, rule.limit_nano, now))
    return from_nano(state.spent), from_nano(state.reserved), from_nano(state.limit)


def test_blocked_budget_stops_calls_at_the_limit(start):
    rt = start(TEAM_C)
    seed(rt, "9999.70", "sales")
    events = [governed_call(team="sales"), governed_call(team="sales")]  # 9999.70 + 2 x 0.12
    assert [e.cost.total for e in events] == [Decimal("0.12"), Decimal("0.12")]
    assert events[0].decisions[0].action == "allow" and events[0].decisions[0].policy == "team_c_budget"

    with pytest.raises(PolicyViolationError) as info:  # 9999.94 + 0.161 > 10000
        start_call(team="sales")
    err = info.value
    assert (err.policy, err.policy_type, err.reason) == ("team_c_budget", "budget", "BUDGET_EXCEEDED")
    assert (err.spent, err.reserved, err.limit) == (Decimal("9999.94"), Decimal(0), Decimal(10000))
    assert err.scope == "teams=[sales]" and err.period_end == APRIL
    assert "teams=[sales] has spent $9,999.94 (+ $0.00 reserved by calls in flight) of its $10,000.00 monthly limit" in str(err)
    assert "may cost up to $0.161" in str(err) and "resets at 2026-04-01 00:00 UTC" in str(err)
    assert counter(rt, "team_c_budget") == (Decimal("9999.94"), Decimal(0), Decimal(10000))

    governed_call(team="support")  # another team is outside the budget's scope

    rt.flush()
    blocked = [e for e in rt.ledger.events() if e.status == "blocked"]
    assert len(blocked) == 1 and blocked[0].decisions[-1].action == "block"
    assert blocked[0].decisions[-1].reason == "BUDGET_EXCEEDED"
    (row,) = rt.ledger.spend(MARCH, APRIL, filters={"team": "sales"})
    assert row.cost_usd == Decimal("9999.94")


def test_blocked_budget_refusal_never_reaches_the_provider(start, server):
    rt = start(TEAM_C, attribution={"team": "sales"})
    seed(rt, "9999.90", "sales")
    server.set_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=1000)
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    ask = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1000}
    answered = 0
    with pytest.raises(PolicyViolationError) as info:
        for _ in range(1000):
            client.chat.completions.create(**ask)
            answered += 1
    # gpt-4o-mini list price: $0.15 / $0.60 per million tokens -> $0.00075 per call.
    assert len(server.requests_for("/chat/completions")) == answered
    assert info.value.spent == Decimal("9999.90") + answered * Decimal("0.00075")
    assert info.value.spent <= Decimal(10000) < info.value.spent + Decimal("0.00075") * 2


def test_reservations_of_calls_in_flight_count_until_settled(start):
    rt = start(TEAM_C)
    seed(rt, "9999.70", "sales")
    first = start_call(team="sales")  # reserves 0.161
    with pytest.raises(PolicyViolationError) as info:  # 9999.70 + 0.161 + 0.161 > 10000
        start_call(team="sales")
    assert (info.value.spent, info.value.reserved) == (Decimal("9999.70"), Decimal("0.161"))
    first.finish(Usage(input_tokens=100, output_tokens=10))
    assert counter(rt, "team_c_budget")[:2] == (Decimal("9999.82"), Decimal(0))
    governed_call(team="sales")  # 9999.82 + 0.161 fits


def test_a_failed_call_releases_its_reservation(start):
    rt = start(TEAM_C)
    call = start_call(team="sales")
    assert counter(rt, "team_c_budget")[:2] == (Decimal(0), Decimal("0.161"))
    call.fail(RuntimeError("provider down"))
    assert counter(rt, "team_c_budget")[:2] == (Decimal(0), Decimal(0))
    # A failed call the provider still billed (usage reported) is charged.
    call = start_call(team="sales")
    call.fail(RuntimeError("stream cut"), Usage(input_tokens=50, output_tokens=5))
    assert counter(rt, "team_c_budget")[:2] == (Decimal("0.06"), Decimal(0))


def test_a_crashed_process_reservation_expires(start, fake_clock):
    rt = start({"name": "small", "type": "budget", "limit": "0.20", "enforcement": "BLOCKED",
                "reservation_ttl_seconds": 30})  # fmt: skip
    crashed = start_call(team="x")
    crashed.release()  # the process dies: never finished, never settled
    with pytest.raises(PolicyViolationError) as info:
        start_call(team="x")
    assert info.value.reserved == Decimal("0.161")
    fake_clock.advance(29.9)
    with pytest.raises(PolicyViolationError):
        start_call(team="x")
    fake_clock.advance(0.1)
    governed_call(team="x")
    assert counter(rt, "small") == (Decimal("0.12"), Decimal(0), Decimal("0.20"))


def test_period_resets_at_local_midnight_of_the_budget_timezone(start, fake_clock):
    rt = start({"name": "ny_daily", "type": "budget", "limit": "0.20", "period": "daily",
                "timezone": "America/New_York", "enforcement": "BLOCKED"})  # fmt: skip
    governed_call()
    with pytest.raises(PolicyViolationError) as info:
        start_call()
    # 2026-03-10 12:00 UTC is 08:00 in New York (EDT, UTC-4): the day ends at 04:00 UTC.
    assert info.value.period_end == datetime(2026, 3, 11, 4, tzinfo=UTC)
    assert "resets at 2026-03-11 00:00 America/New_York" in str(info.value)
    fake_clock.advance(15 * 3600 + 59 * 60 + 59)  # 2026-03-11 03:59:59 UTC
    with pytest.raises(PolicyViolationError):
        start_call()
    fake_clock.advance(1)  # midnight in New York
    event = governed_call()
    assert event.decisions[0].action == "allow"
    assert counter(rt, "ny_daily")[0] == Decimal("0.12")


def test_warning_budget_lets_calls_through_and_each_threshold_fires_once(start):
    rt = start(TEAM_A)
    rt.alerts = AlertRecorder()
    seed(rt, "7999.90", "support")
    first = governed_call(team="support")  # 7999.90 -> 8000.02 crosses 80%
    assert [(d.action, d.reason) for d in first.decisions] == [("allow", None)]
    assert rt.alerts.crossings == [BudgetCrossing(
        policy="team_a_budget", scope="teams=[support]", team="support", project=None, customer_id=None,
        threshold=0.8, spent=Decimal("8000.02"), limit=Decimal(10000), percent=Decimal("80.00"),
        remaining=Decimal("1999.98"), period_start=MARCH, period_end=APRIL, enforcement="WARNING",
    )]  # fmt: skip
    second = governed_call(team="support")
    assert (second.decisions[0].action, second.decisions[0].reason) == ("warn", "BUDGET_THRESHOLD")
    assert "spent $8,000.02 of $10,000.00 (80.00%)" in second.decisions[0].detail
    assert len(rt.alerts.crossings) == 1

    # A big call takes the budget over its limit: WARNING still lets it (and the next) through.
    big = governed_call(team="support", input_tokens=2_000_000, output_tokens=0)
    assert big.status == "ok" and big.cost.total == Decimal(2000)
    assert [c.threshold for c in rt.alerts.crossings] == [0.8, 1.0]
    assert rt.alerts.crossings[1].spent == Decimal("10000.14") and rt.alerts.crossings[1].remaining == 0
    after = governed_call(team="support")
    assert (after.decisions[0].action, after.decisions[0].reason) == ("warn", "BUDGET_EXCEEDED")
    # Another process settling into the same period cannot claim the same crossing again.
    rule = rt.policies.budget_rules[0]
    assert rt.policies.store.claim_crossing(rule.key("*", T0), 0.8, T0) is False
    assert len(rt.alerts.crossings) == 2


def test_per_team_budgets_keep_one_counter_per_team(start):
    rt = start({"name": "per_team", "type": "budget", "limit": "0.20", "per": "team", "enforcement": "BLOCKED"})
    governed_call(team="a")
    with pytest.raises(PolicyViolationError) as info:
        start_call(team="a")
    assert info.value.scope == "team=a" and info.value.spent == Decimal("0.12")
    governed_call(team="b")
    rows = {r.scope: r for r in budget_status(rt.policies, T0)}
    assert set(rows) == {"team=a", "team=b"}
    assert rows["team=a"].spent == rows["team=b"].spent == Decimal("0.12")
    assert rows["team=a"].remaining == Decimal("0.08") and rows["team=a"].percent == Decimal("60.00")


def test_scope_filters_select_the_calls_a_budget_counts(start):
    rt = start({"name": "prod_house", "type": "budget", "limit": "1", "environments": ["production"],
                "customers": ["acme"], "models": ["house-*"], "enforcement": "BLOCKED"})  # fmt: skip
    governed_call(customer_id="acme", environment="production")
    governed_call(customer_id="globex", environment="production")
    governed_call(customer_id="acme", environment="staging")
    governed_call("house-model", customer_id="acme", environment="production", input_tokens=50, output_tokens=5)
    assert counter(rt, "prod_house")[0] == Decimal("0.18")  # 0.12 + 0.06


def test_spend_survives_restarts_and_a_lost_counter_is_rebuilt_from_the_ledger(start, policy_storage):
    rt = start(TEAM_C)
    governed_call(team="sales")
    governed_call(team="sales")
    rt = start(TEAM_C, restart=True)  # a new process: the store still has the period's spend
    assert counter(rt, "team_c_budget")[0] == Decimal("0.24")
    # The counters are lost (Redis flushed, tables emptied): the ledger is the source of truth.
    _wipe_counters(rt, policy_storage)
    rt = start(TEAM_C, restart=True)
    assert counter(rt, "team_c_budget")[0] == Decimal("0.24")
    governed_call(team="sales")
    assert counter(rt, "team_c_budget")[0] == Decimal("0.36")


def _wipe_counters(rt, storage) -> None:
    store = rt.policies.raw_store
    if storage.get("counters_url"):
        store._client.flushdb()
    elif storage["url"].startswith("sqlite"):
        store._conn().execute("DELETE FROM genops_budget_counters")
    else:
        store._conn().execute("DELETE FROM genops_budget_counters")


def test_an_override_raises_the_limit_until_it_expires(start, fake_clock):
    rt = start(TEAM_C)
    seed(rt, "9999.95", "sales")
    with pytest.raises(PolicyViolationError):
        start_call(team="sales")
    rt.policies.store.set_override(Override("team_c_budget", "*", Decimal(12000), T0 + timedelta(days=1), T0, "launch"))
    event = governed_call(team="sales")
    assert "of $12,000.00" in event.decisions[0].detail
    fake_clock.advance(86400)
    with pytest.raises(PolicyViolationError) as info:
        start_call(team="sales")
    assert info.value.limit == Decimal(10000)


def test_unknown_price_is_refused_or_let_through_as_configured(start):
    rt = start(TEAM_C, {**TEAM_C, "name": "lenient", "on_unknown_price": "allow"})
    with pytest.raises(PolicyViolationError) as info:
        start_call("mystery-model", team="sales")
    assert (info.value.policy, info.value.reason) == ("team_c_budget", "PRICE_UNKNOWN")
    assert "no price for openai model 'mystery-model'" in str(info.value)
    rt = start({**TEAM_C, "on_unknown_price": "allow"}, restart=True)
    event = governed_call("mystery-model", team="sales")
    assert event.cost.total is None
    assert [(d.action, d.reason) for d in event.decisions] == [("warn", "PRICE_UNKNOWN")]
    assert counter(rt, "team_c_budget")[:2] == (Decimal(0), Decimal(0))


def test_calls_without_a_model_reserve_nothing_but_need_room(start):
    from genops import context, pipeline

    rt = start({**TEAM_C, "limit": "0.20"}, {**TEAM_C, "name": "research_budget", "limit": "0.20", "teams": ["research"]})
    seed(rt, "0.20", "research")

    def vector_query(team):
        with context.scope(team=team):
            return pipeline.start("pinecone", "vector.query", None)

    call = vector_query("sales")
    assert call.decisions[0].detail == "nothing to reserve (no model); teams=[sales]: spent $0.00 of $0.20"
    event = call.finish(Usage(input_tokens=0, output_tokens=0, units={"read_units": 5}))
    assert counter(rt, "team_c_budget")[:2] == (event.cost.total, Decimal(0))
    with pytest.raises(PolicyViolationError) as info:
        vector_query("research")
    assert "has spent $0.20 (+ $0.00 reserved by calls in flight) of its $0.20 monthly limit, and it has no room left" in str(info.value)
