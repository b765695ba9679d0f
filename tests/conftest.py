"""Shared fixtures: a GenOps runtime on a temporary SQLite ledger with in-memory telemetry,
a stand-in provider server, and a pinned clock."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from ledger_backends import pg_schemas, store_url  # noqa: F401 - ledger backend fixtures (SQLite + PostgreSQL)
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from policy_backends import policy_storage, redis_url  # noqa: F401 - policy store backend fixtures (SQLite, PostgreSQL, Redis)

from genops import _clock, _guard
from genops._runtime import Runtime, start_runtime, stop_runtime
from genops.config import Settings

# LiteLLM fetches its model price map from the internet on import unless told to use its copy.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def genops_home(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """GENOPS_HOME for this test (default ledger, ledger spools): never the user's ~/.genops."""
    home = tmp_path / "genops-home"
    monkeypatch.setenv("GENOPS_HOME", str(home))
    return home


@pytest.fixture
def fake_clock() -> Iterator[_clock.FakeClock]:
    clock = _clock.FakeClock(datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC))
    old = _clock.set_clock(clock)
    yield clock
    _clock.set_clock(old)


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def ledger_url(tmp_path: Any) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


@pytest.fixture
def genops_runtime(
    ledger_url: str, span_exporter: InMemorySpanExporter, metric_reader: InMemoryMetricReader
) -> Iterator[Callable[..., Runtime]]:
    """`genops_runtime(**settings)` starts GenOps with in-memory telemetry and a temp ledger."""

    def start(**settings: Any) -> Runtime:
        settings.setdefault("storage", {"url": ledger_url})
        settings.setdefault("exporters", [{"type": "none"}])
        return start_runtime(
            Settings.model_validate(settings), span_exporters=[span_exporter], metric_readers=[metric_reader]
        )

    _guard.clear_errors()
    yield start
    stop_runtime()
    assert _guard.recent_errors() == [], f"GenOps internal errors: {_guard.recent_errors()}"


@pytest.fixture(scope="session")
def standin() -> Iterator[Any]:
    """A stand-in provider server (OpenAI, Anthropic, Cohere wire formats) on 127.0.0.1."""
    from genops.testing import StandInServer

    server = StandInServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(standin: Any) -> Any:
    """The session's stand-in server, reset to defaults for this test."""
    standin.reset()
    return standin
