"""Model rules, rate limits (BLOCKED, THROTTLE, WARNING), model fallback and store outages.

Model rules and fallbacks are exercised with the real OpenAI SDK against the stand-in server
(a refused call must never reach it); rate limits run on every policy store backend."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import openai
import pytest
from policy_backends import HOUSE_PRICING, governed_call, start_call
from store_relay import Relay

from genops import PolicyViolationError, Usage, pipeline

NO_GPT4_IN_DEV = {"name": "no_gpt4_in_dev", "type": "model", "blocked": ["gpt-4"], "environment": "development",
                  "enforcement": "BLOCKED"}  # fmt: skip
FALLBACK = {"name": "model_fallback_order", "type": "custom",
            "config": {"primary": "gpt-4-turbo", "fallback": ["claude-opus-4", "cohere-command-r-plus"]}}  # fmt: skip
ASK = [{"role": "user", "content": "Summarise the competitor's launch."}]


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)


def ledger_events(rt):
    rt.flush()
    return list(rt.ledger.events())


# -- model rules -------------------------------------------------------------------------------


def test_no_gpt4_in_dev_blocks_before_the_provider_is_called(genops_runtime, client, server, fake_clock):
    rt = genops_runtime(environment="development", policies=[NO_GPT4_IN_DEV], attribution={"team": "support"})
    for model in ("gpt-4", "gpt-4-0613"):
        with pytest.raises(PolicyViolationError) as info:
            client.chat.completions.create(model=model, messages=ASK)
        assert (info.value.policy, info.value.policy_type, info.value.reason) == ("no_gpt4_in_dev", "model", "MODEL_DENIED")
        assert f"model {model!r} is blocked (gpt-4) for environments=[development]" in str(info.value)
    assert server.requests == []
    client.chat.completions.create(model="gpt-4-turbo", messages=ASK)
    assert [r.json["model"] for r in server.requests] == ["gpt-4-turbo"]
    blocked, ok = [e for e in ledger_events(rt) if e.status == "blocked"], [e for e in ledger_events(rt) if e.status == "ok"]
    assert sorted(e.request_model for e in blocked) == ["gpt-4", "gpt-4-0613"]  # same (fake) time
    assert [(d.policy, d.action, d.reason) for d in blocked[0].decisions] == [("no_gpt4_in_dev", "block", "MODEL_DENIED")]
    assert [(d.policy, d.action) for d in ok[0].decisions] == [("no_gpt4_in_dev", "allow")]


def test_model_rule_applies_only_in_its_environment(genops_runtime, client, server, fake_clock):
    genops_runtime(environment="production", policies=[NO_GPT4_IN_DEV])
    client.chat.completions.create(model="gpt-4", messages=ASK)
    assert [r.json["model"] for r in server.requests] == ["gpt-4"]


def test_model_rule_in_warning_mode_and_allowed_lists(genops_runtime, client, server, fake_clock):
    rt = genops_runtime(environment="development", policies=[{**NO_GPT4_IN_DEV, "enforcement": "WARNING"},
                        {"name": "only_small", "type": "model", "allowed": ["gpt-4o-mini", "gpt-4.1-*"], "team": "interns"}])  # fmt: skip
    client.chat.completions.create(model="gpt-4", messages=ASK)
    with pipeline_scope(team="interns"), pytest.raises(PolicyViolationError) as info:
        client.chat.completions.create(model="gpt-4o", messages=ASK)
    assert "model 'gpt-4o' is not allowed (allowed: gpt-4o-mini, gpt-4.1-*) for teams=[interns]" in str(info.value)
    assert [r.json["model"] for r in server.requests] == ["gpt-4"]
    warned = [e for e in ledger_events(rt) if e.status == "ok"][-1]
    assert [(d.policy, d.action, d.reason) for d in warned.decisions] == [("no_gpt4_in_dev", "warn", "MODEL_DENIED")]


def pipeline_scope(**values):
    from genops import context

    return context.scope(**values)


# -- rate limits -----------------------------------------------------------------------------------


def rate_runtime(genops_runtime, policy_storage, **policy):
    limit = {"name": "team_rpm", "type": "rate_limit", "per": "team", **policy}
    return genops_runtime(storage=policy_storage, pricing=HOUSE_PRICING, policies=[limit])


def test_requests_per_minute_hold_per_team(genops_runtime, policy_storage, fake_clock):
    rate_runtime(genops_runtime, policy_storage, requests_per_minute=5)
    for _ in range(5):
        governed_call(team="support")
        fake_clock.advance(1)
    with pytest.raises(PolicyViolationError) as info:  # 5 requests at t=0..4s; now t=5s
        start_call(team="support")
    err = info.value
    assert (err.policy, err.policy_type, err.reason, err.scope) == ("team_rpm", "rate_limit", "RATE_LIMITED", "team=support")
    assert err.retry_after == pytest.approx(55.0)
    assert "team=support (global) is at 5/5 requests in the last minute; it fits again in 55.0s" in str(err)
    governed_call(team="sales")  # another team has its own window
    fake_clock.advance(54.9)
    with pytest.raises(PolicyViolationError):
        start_call(team="support")
    fake_clock.advance(0.1)  # the first request (t=0) leaves the window at t=60
    governed_call(team="support")
    with pytest.raises(PolicyViolationError) as info:
        start_call(team="support")
    assert info.value.retry_after == pytest.approx(1.0)


def test_a_refused_request_does_not_count(genops_runtime, policy_storage, fake_clock):
    rate_runtime(genops_runtime, policy_storage, requests_per_minute=2)
    governed_call(team="t")
    governed_call(team="t")
    for _ in range(3):
        with pytest.raises(PolicyViolationError):
            start_call(team="t")
    fake_clock.advance(60)
    governed_call(team="t")
    governed_call(team="t")


def test_tokens_per_minute_count_estimates_then_actual_tokens(genops_runtime, policy_storage, fake_clock):
    rate_runtime(genops_runtime, policy_storage, tokens_per_minute=300)
    # Each request counts 100 estimated input + 10 max output = 110 tokens, then its actual 60.
    for _ in range(4):
        governed_call(team="t", estimate=100, max_out=10, input_tokens=50, output_tokens=10)
    with pytest.raises(PolicyViolationError) as info:  # 4 x 60 + 110 > 300
        start_call(team="t", estimate=100, max_out=10)
    assert "240/300 tokens" in str(info.value)
    governed_call(team="t", estimate=40, max_out=10)  # 240 + 50 fits
    with pytest.raises(PolicyViolationError) as info:
        start_call(team="t", estimate=400, max_out=0)
    assert info.value.retry_after is None and "never" in str(info.value)


def test_throttle_waits_until_the_window_admits_the_call(genops_runtime, policy_storage, fake_clock):
    rate_runtime(genops_runtime, policy_storage, requests_per_minute=2, enforcement="THROTTLE", max_wait_seconds=90)
    start0 = fake_clock.now()
    governed_call(team="t")
    fake_clock.advance(10)
    governed_call(team="t")
    event = governed_call(team="t")  # waits until the first request leaves the window
    assert (fake_clock.now() - start0).total_seconds() == pytest.approx(60.0)
    assert [(d.action, d.detail) for d in event.decisions] == [("throttle", "waited 50.000s"), ("allow", None)]


def test_throttle_gives_up_after_max_wait(genops_runtime, policy_storage, fake_clock):
    rate_runtime(genops_runtime, policy_storage, requests_per_minute=1, enforcement="THROTTLE", max_wait_seconds=30)
    governed_call(team="t")
    before = fake_clock.now()
    with pytest.raises(PolicyViolationError) as info:
        start_call(team="t")
    assert fake_clock.now() == before  # 60s > 30s: refused at once, no pointless wait
    assert info.value.retry_after == pytest.approx(60.0)


async def test_throttle_does_not_block_the_event_loop(genops_runtime, policy_storage, fake_clock):
    rate_runtime(genops_runtime, policy_storage, requests_per_minute=1, enforcement="THROTTLE", max_wait_seconds=90)
    ticks: list[int] = []

    async def ticker():
        for i in range(3):
            ticks.append(i)
            await asyncio.sleep(0)

    async def governed():
        from genops import context

        with context.scope(team="t"):
            call = await pipeline.start_async("openai", "chat", "house-model", max_output_tokens=10, estimate_input=lambda: 1)
        return call.finish(Usage(input_tokens=1, output_tokens=1))

    await governed()
    ticking = asyncio.create_task(ticker())
    event = await governed()  # waits 60 (fake) seconds, yielding to the loop
    await ticking
    assert ticks == [0, 1, 2]
    assert event.decisions[0].action == "throttle" and event.decisions[0].detail == "waited 60.000s"


def test_warning_rate_limit_lets_calls_through(genops_runtime, policy_storage, fake_clock):
    rate_runtime(genops_runtime, policy_storage, requests_per_minute=1, enforcement="WARNING")
    assert governed_call(team="t").decisions[0].action == "allow"
    second = governed_call(team="t")
    assert (second.decisions[0].action, second.decisions[0].reason) == ("warn", "RATE_LIMITED")
    assert second.decisions[0].detail == "team=t: 2/1 requests"


# -- model fallback ----------------------------------------------------------------------------------


def test_litellm_call_falls_back_across_providers_and_the_ledger_records_it(genops_runtime, fake_clock):
    rt = genops_runtime(
        environment="production",
        attribution={"team": "sales"},
        policies=[{"name": "no_turbo", "type": "model", "blocked": ["gpt-4-turbo"]}, FALLBACK],
    )
    call = start_call("gpt-4-turbo", "litellm", max_out=100)
    assert call.model == "claude-opus-4"
    event = call.finish(Usage(input_tokens=1000, output_tokens=100))
    assert (event.request_model, event.substituted_from) == ("claude-opus-4", "gpt-4-turbo")
    # claude-opus-4 list price: $15 / $75 per million tokens.
    assert event.cost.total == Decimal("0.0225")
    fb = [d for d in event.decisions if d.action == "fallback"]
    assert [(d.policy, d.policy_type, d.reason, d.detail) for d in fb] == [(
        "model_fallback_order", "custom", "MODEL_DENIED",
        "gpt-4-turbo -> claude-opus-4: no_turbo refused gpt-4-turbo (MODEL_DENIED)",
    )]  # fmt: skip
    (stored,) = ledger_events(rt)
    assert (stored.substituted_from, stored.request_model, stored.status) == ("gpt-4-turbo", "claude-opus-4", "ok")


def test_fallback_chain_tries_each_model_in_order(genops_runtime, fake_clock):
    genops_runtime(policies=[{"name": "no_big", "type": "model", "blocked": ["gpt-4-turbo", "claude-opus-*"]}, FALLBACK])
    call = start_call("gpt-4-turbo", "litellm")
    assert call.model == "cohere-command-r-plus"
    call.finish(Usage(input_tokens=10, output_tokens=10))


def test_sdk_call_falls_back_within_its_provider_when_the_budget_refuses(genops_runtime, policy_storage, client, server, fake_clock):
    rt = genops_runtime(
        storage=policy_storage,
        attribution={"team": "sales"},
        policies=[
            {"name": "tiny", "type": "budget", "limit": "0.001", "teams": ["sales"], "enforcement": "BLOCKED"},
            {"name": "model_fallback_order", "type": "custom",
             "config": {"primary": "gpt-4-turbo", "fallback": ["claude-opus-4", "gpt-4o-mini"]}},
        ],
    )  # fmt: skip
    response = client.chat.completions.create(model="gpt-4-turbo", messages=ASK, max_tokens=100)
    assert [r.json["model"] for r in server.requests] == ["gpt-4o-mini"]  # what the provider received
    assert response.model.startswith("gpt-4o-mini")
    (event,) = ledger_events(rt)
    assert (event.substituted_from, event.request_model) == ("gpt-4-turbo", "gpt-4o-mini")
    assert [d.action for d in event.decisions] == ["allow", "fallback"]
    assert event.decisions[1].detail == "gpt-4-turbo -> gpt-4o-mini: tiny refused gpt-4-turbo (BUDGET_EXCEEDED)"


def test_when_no_fallback_passes_the_original_refusal_is_raised(genops_runtime, client, server, fake_clock):
    genops_runtime(environment="development", policies=[
        {"name": "no_gpt4_family", "type": "model", "blocked": ["gpt-4*"]},
        {"name": "model_fallback_order", "type": "custom",
         "config": {"primary": "gpt-4-turbo", "fallback": ["claude-opus-4", "gpt-4o"]}},
    ])  # fmt: skip
    with pytest.raises(PolicyViolationError) as info:
        client.chat.completions.create(model="gpt-4-turbo", messages=ASK)
    assert info.value.policy == "no_gpt4_family"
    assert str(info.value).endswith(
        "Fallbacks tried (model_fallback_order): claude-opus-4 (not served by openai); gpt-4o (MODEL_DENIED by no_gpt4_family)."
    )
    assert server.requests == []


# -- store outages -------------------------------------------------------------------------------------


def test_store_outage_follows_each_policy_on_store_error(genops_runtime, ledger_url, redis_url, fake_clock):
    relay = Relay()
    try:
        rt = genops_runtime(
            storage={"url": ledger_url, "counters_url": f"redis://127.0.0.1:{relay.port}/13"},
            pricing=HOUSE_PRICING,
            policies=[{"name": "budget", "type": "budget", "limit": 1, "enforcement": "BLOCKED"},  # fail open
                      {"name": "rpm", "type": "rate_limit", "requests_per_minute": 100, "teams": ["strict"],
                       "on_store_error": "block"}],
        )  # fmt: skip
        rt.policies.store.retry_seconds = 0  # retry the store on every call (no fail-fast pause)
        governed_call(team="strict")
        relay.down()
        open_call = start_call(team="open")
        assert [(d.policy, d.action, d.reason) for d in open_call.decisions] == [("budget", "warn", "STORE_UNAVAILABLE")]
        open_call.finish(Usage(input_tokens=100, output_tokens=10))
        assert rt.policies.pending_settlements == 1  # kept until the store is back
        with pytest.raises(PolicyViolationError) as info:
            start_call(team="strict")
        assert (info.value.policy, info.value.reason) == ("rpm", "STORE_UNAVAILABLE")
        assert "on_store_error: block" in str(info.value)
        assert len(ledger_events(rt)) == 3  # every event is in the ledger, blocked one included

        relay.up = True
        governed_call(team="open")  # the store is back: the pending settlement is applied first
        assert rt.policies.pending_settlements == 0
        rule = rt.policies.budget_rules[0]
        key = rule.key("*", fake_clock.now())
        assert rt.policies.store.read(key, rule.limit_nano, fake_clock.now()).spent == 360_000_000  # 3 x $0.12
    finally:
        relay.close()


def test_rate_limit_holds_under_concurrent_threads(genops_runtime, policy_storage, fake_clock):
    from concurrent.futures import ThreadPoolExecutor

    rate_runtime(genops_runtime, policy_storage, requests_per_minute=25)

    def attempt(_: int) -> str:
        try:
            governed_call(team="support")
            return "ok"
        except PolicyViolationError as exc:
            return exc.reason

    with ThreadPoolExecutor(8) as pool:  # the (fake) clock stands still: one window for all
        outcomes = list(pool.map(attempt, range(60)))
    assert outcomes.count("ok") == 25 and outcomes.count("RATE_LIMITED") == 35
