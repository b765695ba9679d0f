"""Runtime-level behaviour: init without a file, exit flushing, context propagation, metric
label seeding."""

from __future__ import annotations

import asyncio
import contextvars
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import openai

from genops import GenOps, _clock, context
from genops._runtime import start_runtime
from genops.config import TelemetryConfig
from genops.events import Attribution, Cost, Usage, UsageEvent
from genops.ledger import open_ledger
from genops.processor import EventProcessor

MESSAGES = [{"role": "user", "content": "hi"}]


def test_init_with_keyword_arguments_only(tmp_path, server, monkeypatch, caplog):
    monkeypatch.delenv("GENOPS_CONFIG", raising=False)
    caplog.set_level("INFO", logger="genops")
    rt = GenOps.init(service_name="svc", environment="staging", storage={"url": f"sqlite:///{tmp_path}/l.db"},
                     exporters=[{"type": "none"}], attribution={"team": "ml"})
    try:
        client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0)
        client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
        GenOps.flush()
        [event] = rt.ledger.events()
        assert (event.attribution.team, event.attribution.environment, event.attribution.service) == ("ml", "staging", "svc")
        # The line the case study's Step 1.4 greps for in the service's logs.
        [started] = [r.getMessage() for r in caplog.records if "GenOps initialized successfully" in r.getMessage()]
        assert "service=svc environment=staging" in started and "openai" in started
    finally:
        GenOps.shutdown()


def test_events_are_flushed_at_normal_interpreter_exit(tmp_path, server):
    """No shutdown() call: the atexit hook drains the background queue into the ledger."""
    script = textwrap.dedent(f"""
        import openai
        from genops import GenOps
        GenOps.init(storage={{"url": "sqlite:///{tmp_path}/exit.db"}}, exporters=[{{"type": "none"}}])
        client = openai.OpenAI(base_url="{server.openai_base_url}", api_key="sk", max_retries=0)
        for i in range(200):
            client.chat.completions.create(model="gpt-4-turbo", messages=[{{"role": "user", "content": "x"}}])
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with open_ledger(f"sqlite:///{tmp_path}/exit.db") as ledger:
        assert len(list(ledger.events())) == 200


def test_context_follows_tasks_and_copied_threads(genops_runtime, server):
    rt = genops_runtime()
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0)
    aclient = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0)

    async def per_customer(customer):
        async with GenOps.track(customer_id=customer):
            await asyncio.sleep(0)
            await aclient.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)

    async def main():
        await asyncio.gather(*(per_customer(c) for c in ("a", "b", "c")))

    asyncio.run(main())

    with GenOps.track(customer_id="threaded", team="platform"):
        ctx = contextvars.copy_context()
    t = threading.Thread(target=ctx.run, args=(lambda: client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES),))
    t.start()
    t.join()
    rt.flush()
    got = sorted((e.attribution.customer_id, e.attribution.team) for e in rt.ledger.events())
    assert got == [("a", None), ("b", None), ("c", None), ("threaded", "platform")]
    assert context.current() == Attribution()


def test_top_spenders_keep_their_metric_label(genops_runtime, ledger_url, metric_reader, server, fake_clock):
    now = _clock.now()
    with open_ledger(ledger_url) as ledger:
        ledger.write([
            UsageEvent(id=f"seed-{c}", start_time=now - timedelta(days=2), end_time=now - timedelta(days=2),
                       provider="openai", operation_kind="chat", request_model="gpt-4-turbo", response_model=None,
                       usage=Usage(input_tokens=1, output_tokens=1), cost=Cost(total=Decimal(amount)),
                       attribution=Attribution(customer_id=c), latency_ms=1.0)
            for c, amount in (("big", "50"), ("medium", "5"), ("small", "0.5"))
        ])
    rt = genops_runtime(telemetry={"customer_id_max_values": 2})
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk", max_retries=0)
    for customer in ("newcomer", "medium", "big"):
        with GenOps.track(customer_id=customer):
            client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    rt.flush()
    points = [
        dict(p.attributes)["customer_id"]
        for rm in metric_reader.get_metrics_data().resource_metrics
        for sm in rm.scope_metrics for m in sm.metrics if m.name == "genops.requests"
        for p in m.data.data_points
    ]
    assert sorted(points) == ["big", "medium", "other"]


def test_global_tracer_provider_can_be_left_to_the_application(genops_runtime, span_exporter):
    from opentelemetry import trace

    def exported_app_spans():
        with trace.get_tracer("app").start_as_current_span("app-work"):
            pass
        return [s.name for s in span_exporter.get_finished_spans() if s.name == "app-work"]

    rt = genops_runtime()  # default: GenOps' pipeline also exports the application's spans
    assert exported_app_spans() == ["app-work"]
    span_exporter.clear()
    settings = rt.settings.model_copy(update={"telemetry": TelemetryConfig(global_tracer_provider=False)})
    start_runtime(settings, span_exporters=[span_exporter])
    assert exported_app_spans() == []


def test_provider_keys_in_the_config_reach_sdk_clients_created_after_init(genops_runtime, server, monkeypatch):
    """The case study puts `providers.openai.api_key: ${OPENAI_API_KEY}` in genops.yaml."""
    monkeypatch.setenv("OPENAI_API_KEY", "")  # unset for GenOps, and restored after the test
    monkeypatch.setenv("OPENAI_BASE_URL", "")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-environment")
    rt = genops_runtime(providers={"openai": {"api_key": "sk-from-genops-yaml", "base_url": server.openai_base_url},
                                   "anthropic": {"api_key": "sk-ant-from-genops-yaml"}})
    openai.OpenAI(max_retries=0).chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    assert server.requests[-1].headers["authorization"] == "Bearer sk-from-genops-yaml"
    import os

    assert os.environ["ANTHROPIC_API_KEY"] == "sk-ant-from-the-environment"  # never overridden
    rt.flush()
    assert len(list(rt.ledger.events())) == 1


class _Recorder:
    """A processor sink that keeps what it is handed; `resubmit_into` makes every batch submit
    one more event, like application threads that never stop calling models."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.resubmit_into: EventProcessor | None = None
        self.closed = False

    def handle(self, batch: Any) -> None:
        self.events.extend(event for event, _ctx in batch)
        if self.resubmit_into is not None:
            self.resubmit_into.submit(_event(f"more-{len(self.events)}"))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def _event(event_id: str) -> UsageEvent:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    return UsageEvent(id=event_id, start_time=now, end_time=now, provider="openai", operation_kind="chat",
                      request_model="gpt-4-turbo", response_model=None, usage=Usage(input_tokens=1, output_tokens=1),
                      cost=Cost(total=Decimal("0.00004")), attribution=Attribution(), latency_ms=1.0)


def test_flush_returns_once_earlier_events_are_handled_while_others_keep_arriving():
    sink = _Recorder()
    processor = EventProcessor([sink], linger=60)
    for i in range(3):
        processor.submit(_event(f"early-{i}"))
    sink.resubmit_into = processor  # from now on the buffer is never empty
    assert processor.flush(timeout=5) is True
    assert [e.id for e in sink.events[:3]] == ["early-0", "early-1", "early-2"]
    sink.resubmit_into = None
    processor.close()


def test_an_event_submitted_after_close_reaches_the_sinks():
    sink = _Recorder()
    processor = EventProcessor([sink])
    processor.close()
    processor.submit(_event("late"))
    assert [e.id for e in sink.events] == ["late"]
    assert not processor._buffer  # nothing is left behind where no thread will ever look


def test_one_track_scope_object_can_be_entered_again_while_open():
    support = GenOps.track(team="support")
    with support:
        with support:
            assert context.current().team == "support"
        assert context.current().team == "support"
    assert context.current().team is None


def test_one_track_scope_object_shared_by_threads_exits_each_entry_in_its_own_thread():
    shared = GenOps.track(team="support")
    inside, leave, seen, failures = threading.Barrier(2), threading.Event(), [], []

    def work(project):
        try:
            with context.scope(project=project), shared:
                inside.wait()
                if project == "a":
                    leave.wait()  # "a" entered first but leaves after "b"
                seen.append((project, context.current().team, context.current().project))
            seen.append((project, context.current().team))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)
        finally:
            if project == "b":
                leave.set()

    threads = [threading.Thread(target=work, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert sorted(seen, key=repr) == [("a", "support", "a"), ("a", None), ("b", "support", "b"), ("b", None)]


def test_track_usage_refuses_generator_functions_instead_of_losing_attribution():
    import pytest

    from genops import track_usage

    def stream_answers():
        yield "a"

    async def astream_answers():
        yield "a"

    for func in (stream_answers, astream_answers):
        with pytest.raises(TypeError, match="use `with GenOps.track"):
            track_usage(team="x")(func)
