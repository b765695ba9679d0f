"""Stress: 3 processes x 4 threads call through a BLOCKED budget with the real OpenAI SDK against
the stand-in server, on each policy store backend. Settled spend never exceeds the limit, every
refusal is a `PolicyViolationError`, and the server saw exactly the calls that were let through.
(Bounded: each backend run takes a few seconds; speed is measured in bench/bench_budget.py.)"""

from __future__ import annotations

from decimal import Decimal

from genops.policy import stress


def test_concurrent_processes_never_overshoot_a_blocked_budget(policy_storage, server):
    server.set_usage(model=stress.MODEL, input_tokens=stress.INPUT_TOKENS, output_tokens=stress.OUTPUT_TOKENS)
    limit = Decimal(6)  # room for at most 199 calls of $0.03 (each reserves $0.045 first)
    result = stress.run_stress(policy_storage, server.openai_base_url, processes=3, threads=4, limit=limit)

    assert result.unexpected == []
    assert result.refusal_reasons == {"BUDGET_EXCEEDED": result.refused} and result.refused >= 12
    assert len(server.requests_for("/chat/completions")) == result.ok  # refused calls never reached it
    assert result.ledger_spent == result.counter_spent == result.ok * stress.CALL_COST
    assert result.ledger_spent <= limit
    # The budget was really used up: less than one call per thread's worth of room is left.
    assert result.ok >= 199 - 12
