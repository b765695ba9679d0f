"""Telemetry through a real OpenTelemetry collector over OTLP gRPC and OTLP/HTTP.

The collector is rotel (the `rotel` package ships the `rotel-agent` binary). It receives on two
free local ports, drops everything (`--exporter blackhole`) and prints what it received
(`--debug-log traces --debug-log metrics --debug-log-verbosity detailed`) to its stdout, which
the test reads back. Every wait is bounded.
"""

from __future__ import annotations

import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from test_telemetry import make_event

from genops.config import Settings
from genops.telemetry import Telemetry

rotel = pytest.importorskip("rotel", reason="the rotel collector package is not installed")
AGENT = Path(rotel.__file__).parent / "rotel-agent"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, proc: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rotel-agent exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"rotel-agent is not listening on {port}")


class Collector:
    def __init__(self, workdir: Path) -> None:
        self.grpc_port = _free_port()
        self.http_port = _free_port()
        self.out = workdir / "rotel.out"
        self._stdout = self.out.open("wb")
        self.proc = subprocess.Popen(
            [
                str(AGENT), "start",
                "--otlp-grpc-endpoint", f"127.0.0.1:{self.grpc_port}",
                "--otlp-http-endpoint", f"127.0.0.1:{self.http_port}",
                "--exporter", "blackhole",
                "--debug-log", "traces", "--debug-log", "metrics",
                "--debug-log-verbosity", "detailed",
                "--pid-file", str(workdir / "rotel.pid"),
                "--log-file", str(workdir / "rotel.log"),
            ],
            stdout=self._stdout,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 15
        _wait_listening(self.grpc_port, self.proc, deadline)
        _wait_listening(self.http_port, self.proc, deadline)

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_for(self, *needles: str, timeout: float = 20.0) -> str:
        """The collector's output once it contains every needle (it batches for ~200 ms)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if all(n in text for n in needles):
                return text
            if time.monotonic() > deadline:
                missing = [n for n in needles if n not in text]
                raise AssertionError(f"collector output lacks {missing}; it printed:\n{text[-4000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._stdout.close()


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    c = Collector(tmp_path_factory.mktemp("rotel"))
    yield c
    c.stop()


def metric_value(output: str, metric: str, attribute: str, value: str) -> list[str]:
    """Values of `metric`'s data points whose attribute `attribute` is `value`, from the debug log."""
    found = []
    for block in output.split("Metric #")[1:]:
        if f"-> Name: {metric}\n" not in block:
            continue
        for point in re.split(r"NumberDataPoints #\d+", block)[1:]:
            if f"-> {attribute}: Str({value})" in point:
                found.extend(re.findall(r"^Value: (\S+)$", point, flags=re.MULTILINE))
    return found


@pytest.mark.parametrize(
    "endpoint",
    [
        pytest.param("http://127.0.0.1:{grpc}", id="grpc"),  # no protocol: a non-4318 port means gRPC
        pytest.param("http://127.0.0.1:{http}/v1/traces", id="http"),  # a /v1/ path means HTTP
    ],
)
def test_spans_and_metrics_reach_a_real_collector(collector: Collector, endpoint: str) -> None:
    customer = f"cust-{uuid.uuid4().hex[:12]}"  # tells this test's data apart in the shared output
    settings = Settings(
        service_name="collector-test",
        environment="production",
        exporters=[{"type": "otlp", "endpoint": endpoint.format(grpc=collector.grpc_port, http=collector.http_port)}],
        telemetry={"metric_export_interval_seconds": 3600},  # only force_flush exports
    )
    t = Telemetry(settings)
    try:
        t.handle([
            (make_event(event_id="e1", customer_id=customer, cost=Decimal("0.5")), None),
            (make_event(event_id="e2", customer_id=customer, cost=Decimal("0.25")), None),
        ])
        assert t.force_flush(timeout_millis=15_000)
    finally:
        t.shutdown()

    out = collector.wait_for(f"-> genops.customer_id: Str({customer})", f"-> customer_id: Str({customer})")
    span_blocks = [b for b in out.split("Span #")[1:] if f"genops.customer_id: Str({customer})" in b]
    assert len(span_blocks) == 2
    for block in span_blocks:
        assert "Name           : chat gpt-4-turbo\n" in block
        assert "Kind           : SPAN_KIND_CLIENT" in block
        assert "-> genops.team: Str(support)" in block
        assert "-> gen_ai.usage.input_tokens: Int(1000)" in block
    assert "-> genops.cost.total_str: Str(0.5)" in span_blocks[0] + span_blocks[1]
    assert "-> service.name: Str(collector-test)" in out
    # Cumulative sums: force_flush and shutdown each export the same totals.
    assert set(metric_value(out, "genops.cost.total", "customer_id", customer)) == {"0.75"}
    assert set(metric_value(out, "genops.requests", "customer_id", customer)) == {"2"}
    assert set(metric_value(out, "genops.tokens.input", "customer_id", customer)) == {"2000"}
