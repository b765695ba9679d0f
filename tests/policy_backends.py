"""Policy store backends for tests: `policy_storage` runs a test on each of

- `sqlite`: ledger and policy tables in one SQLite file;
- `postgres`: ledger and policy tables in a fresh PostgreSQL schema;
- `redis`: a fresh PostgreSQL ledger with budget counters, rate windows, overrides and alert
  claims in Redis (127.0.0.1:6379, database `REDIS_TEST_DB`, flushed before each test).

Import into a test module: `from policy_backends import policy_storage, redis_url  # noqa: F401`.
"""

from __future__ import annotations

from typing import Any

import pytest

REDIS_TEST_DB = 13
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_TEST_DB}"
BACKENDS = ["sqlite", "postgres", "redis"]


@pytest.fixture
def redis_url() -> str:
    """A Redis database of its own, emptied for this test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture(params=BACKENDS)
def policy_storage(request: Any, tmp_path: Any) -> dict[str, str]:
    """The `storage` settings of a fresh ledger + policy store, on each backend in turn."""
    if request.param == "sqlite":
        return {"url": f"sqlite:///{tmp_path}/ledger.db"}
    ledger = request.getfixturevalue("pg_schemas")()
    if request.param == "postgres":
        return {"url": ledger}
    return {"url": ledger, "counters_url": request.getfixturevalue("redis_url")}


# -- governed calls driven through the pipeline (the same path an integration takes) ------------

# A house model with round prices: $0.001 per input token, $0.002 per output token.
HOUSE_PRICING = {"overrides": [{"model": "house-model", "input_per_million": 1000, "output_per_million": 2000}]}


def start_call(model: str = "house-model", provider: str = "openai", *, estimate: int = 100, max_out: int | None = 10,
               **attribution: Any) -> Any:  # fmt: skip
    """`pipeline.start` for a chat call, attributed with `attribution` (team=..., customer_id=...)."""
    from genops import context, pipeline

    with context.scope(**attribution):
        return pipeline.start(provider, "chat", model, max_output_tokens=max_out, estimate_input=lambda: estimate)


def governed_call(model: str = "house-model", provider: str = "openai", *, estimate: int = 100, max_out: int | None = 10,
                  input_tokens: int = 100, output_tokens: int = 10, **attribution: Any) -> Any:  # fmt: skip
    """Start and finish a call with the given usage; returns its `UsageEvent` (100 in / 10 out on
    the house model cost $0.12; a BLOCKED budget reserves $0.161 for it)."""
    from genops import Usage

    call = start_call(model, provider, estimate=estimate, max_out=max_out, **attribution)
    return call.finish(Usage(input_tokens=input_tokens, output_tokens=output_tokens))


class AlertRecorder:
    """Stands in for `runtime.alerts`: records the budget threshold crossings it is handed."""

    def __init__(self) -> None:
        self.crossings: list[Any] = []

    def budget_threshold(self, crossing: Any) -> None:
        self.crossings.append(crossing)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
