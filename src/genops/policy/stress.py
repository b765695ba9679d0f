"""A concurrency check of a BLOCKED budget: several processes x several threads call through the
real OpenAI SDK (pointed at a stand-in server) until the budget refuses them, then the settled
spend is compared with the limit. Used by the stress test and `bench/bench_budget.py`; also a
way to check a deployment's shared store (`run_stress(storage, base_url=...)`).

Every call asks for `MODEL` with `max_tokens=OUTPUT_TOKENS`; the server must answer with
`INPUT_TOKENS` / `OUTPUT_TOKENS` (`server.set_usage(...)`), priced by `PRICING` at $0.001 per
token: each call costs `CALL_COST` and reserves a little more (its worst case).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MODEL = "gpt-4o-mini"
INPUT_TOKENS, OUTPUT_TOKENS = 10, 20
PRICING = {"overrides": [{"model": MODEL, "input_per_million": 1000, "output_per_million": 1000}]}
CALL_COST = Decimal("0.03")
TEAM = "stress"
POLICY = "stress_budget"
CONSECUTIVE_REFUSALS = 3  # a thread stops after this many refusals in a row


@dataclass
class WorkerResult:
    ok: int = 0
    refused: int = 0
    refusal_reasons: dict[str, int] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)


@dataclass
class StressResult:
    processes: int
    threads: int
    limit: Decimal
    ok: int
    refused: int
    refusal_reasons: dict[str, int]
    unexpected: list[str]
    counter_spent: Decimal
    ledger_spent: Decimal
    seconds: float

    @property
    def overshoot(self) -> Decimal:
        return max(self.ledger_spent - self.limit, self.counter_spent - self.limit, Decimal(0))


def settings_for(storage: dict[str, str], limit: Decimal, base_url: str) -> dict[str, Any]:
    return {
        "service_name": "genops-stress",
        "exporters": [{"type": "none"}],
        "storage": storage,
        "pricing": PRICING,
        "attribution": {"team": TEAM},
        "policies": [{"name": POLICY, "type": "budget", "limit": str(limit), "teams": [TEAM], "enforcement": "BLOCKED"}],
    }


def _worker(settings: dict[str, Any], threads: int, base_url: str, deadline: float) -> WorkerResult:
    import openai

    from .._runtime import start_runtime, stop_runtime
    from ..config import Settings
    from ..errors import PolicyViolationError

    start_runtime(Settings.model_validate(settings))
    result = WorkerResult()
    lock = threading.Lock()
    client = openai.OpenAI(base_url=base_url, api_key="sk-stress", max_retries=0)

    def loop() -> None:
        refusals_in_a_row = 0
        while refusals_in_a_row < CONSECUTIVE_REFUSALS and time.monotonic() < deadline:
            try:
                client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                               max_tokens=OUTPUT_TOKENS)  # fmt: skip
            except PolicyViolationError as exc:
                refusals_in_a_row += 1
                with lock:
                    result.refused += 1
                    result.refusal_reasons[exc.reason] = result.refusal_reasons.get(exc.reason, 0) + 1
                continue
            except Exception as exc:  # noqa: BLE001 - reported to the parent
                with lock:
                    result.unexpected.append(repr(exc))
                return
            refusals_in_a_row = 0
            with lock:
                result.ok += 1

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    stop_runtime()  # flushes every event to the ledger
    return result


def run_stress(storage: dict[str, str], base_url: str, *, processes: int = 3, threads: int = 4,
               limit: Decimal = Decimal(6), timeout: float = 45.0) -> StressResult:  # fmt: skip
    """Run the workers (spawned processes) and measure the budget's settled spend."""
    from .. import _clock
    from ..config import Settings
    from ..ledger import open_ledger
    from . import build_engine

    settings = settings_for(storage, limit, base_url)
    started = time.monotonic()
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        # time.monotonic is system-wide on Linux, so the deadline means the same in the children.
        jobs = [pool.apply_async(_worker, (settings, threads, base_url, started + timeout)) for _ in range(processes)]
        results = [job.get(timeout=timeout + 60) for job in jobs]
    seconds = time.monotonic() - started

    typed = Settings.model_validate(settings)
    with open_ledger(storage["url"]) as ledger:
        engine = build_engine(typed, _Owner(ledger))
        assert engine is not None
        try:
            rule = engine.budget_rules[0]
            now = _clock.now()
            key = rule.key("*", now)
            state = engine.counter(rule, key, lambda: engine.store.read(key, rule.limit_nano, now))
            rows = ledger.spend(key.period_start, key.period_end, filters={"team": TEAM, "status": "ok"})
        finally:
            engine.close()
    from .store import from_nano

    return StressResult(
        processes=processes, threads=threads, limit=limit, ok=sum(r.ok for r in results),
        refused=sum(r.refused for r in results),
        refusal_reasons={k: sum(r.refusal_reasons.get(k, 0) for r in results)
                         for k in sorted({k for r in results for k in r.refusal_reasons})},
        unexpected=[u for r in results for u in r.unexpected],
        counter_spent=from_nano(state.spent), ledger_spent=sum((r.cost_usd for r in rows), Decimal(0)),
        seconds=seconds,
    )  # fmt: skip


class _Owner:
    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger
        self.pricer = None
