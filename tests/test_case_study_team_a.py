"""Acceptance: the case study's Team A path. Its genops.yaml as written (Step 1.2), a FastAPI
app in the style of Step 1.3 Option 1 with the real OpenAI SDK, the stand-in provider, the
ledger, and a real OpenTelemetry collector receiving the spans and metrics."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel
from test_collector import Collector, metric_value

from genops import GenOps, _guard
from genops.web.asgi import GenOpsMiddleware

CASE_STUDY = Path(__file__).parent / "fixtures" / "casestudy" / "team_a.yaml"


class ChatRequest(BaseModel):
    question: str


def build_app(client: openai.AsyncOpenAI) -> FastAPI:
    app = FastAPI()

    @app.post("/chat")
    async def chat(request: ChatRequest, http_request: Request):
        customer_id = http_request.headers.get("x-customer-id", "unknown")
        with GenOps.track(operation="customer_support_query", team="support", project="chatbot",
                          customer_id=customer_id):
            response = await client.chat.completions.create(
                model="gpt-4-turbo", messages=[{"role": "user", "content": request.question}])
        return {"answer": response.choices[0].message.content}

    return app


@pytest.fixture
def collector(tmp_path):
    c = Collector(tmp_path)
    yield c
    c.stop()


@pytest.fixture
def team_a(tmp_path, monkeypatch, collector, server):
    config = tmp_path / "genops.yaml"
    shutil.copy(CASE_STUDY, config)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PINECONE_API_KEY", "pc-test")
    # The YAML's collector host is TechCorp's; the standard variable points it at ours.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", f"http://127.0.0.1:{collector.grpc_port}")
    monkeypatch.setenv("GENOPS_STORAGE_URL", f"sqlite:///{tmp_path}/ledger.db")
    _guard.clear_errors()
    rt = GenOps.init(config_path=str(config))
    yield rt
    GenOps.shutdown()
    assert _guard.recent_errors() == []


def test_fastapi_app_attributes_prices_stores_and_exports(team_a, server, collector):
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    app = build_app(openai.AsyncOpenAI(base_url=server.openai_base_url, max_retries=0))
    with TestClient(app) as http:
        for customer in ("acme", "globex", "acme"):
            r = http.post("/chat", json={"question": "How do I reset my password?"}, headers={"x-customer-id": customer})
            assert r.status_code == 200 and r.json()["answer"]
    team_a.flush()

    events = list(team_a.ledger.events())
    assert len(events) == 3
    for e in events:
        assert (e.attribution.team, e.attribution.project, e.attribution.environment) == ("support", "chatbot", "production")
        assert e.attribution.service == "customer-support-chatbot"
        assert e.cost.total == Decimal("0.025")
    assert sorted(e.attribution.customer_id for e in events) == ["acme", "acme", "globex"]
    start, end = min(e.start_time for e in events), max(e.start_time for e in events) + timedelta(seconds=1)
    by_customer = {r.group["customer_id"]: r.cost_usd for r in team_a.ledger.spend(start, end, ["customer_id"])}
    assert by_customer == {"acme": Decimal("0.05"), "globex": Decimal("0.025")}

    assert team_a.telemetry.force_flush()
    out = collector.wait_for("Name           : chat gpt-4-turbo", "-> customer_id: Str(globex)")
    assert "-> service.name: Str(customer-support-chatbot)" in out
    assert out.count("Name           : chat gpt-4-turbo") == 3
    assert "-> genops.customer_id: Str(acme)" in out
    assert "-> genops.cost.total_str: Str(0.025)" in out
    assert set(metric_value(out, "genops.cost.total", "customer_id", "acme")) == {"0.05"}
    assert set(metric_value(out, "genops.requests", "customer_id", "globex")) == {"1"}


def test_customer_header_is_applied_by_middleware_without_route_code(team_a, server):
    client = openai.OpenAI(base_url=server.openai_base_url, max_retries=0)
    app = FastAPI()
    app.add_middleware(GenOpsMiddleware)

    @app.post("/ask")
    def ask():
        client.chat.completions.create(model="gpt-4-turbo", messages=[{"role": "user", "content": "hi"}])
        return {}

    with TestClient(app) as http:
        http.post("/ask", headers={"x-customer-id": "initech"})
    team_a.flush()
    [event] = team_a.ledger.events()
    assert (event.attribution.customer_id, event.attribution.team) == ("initech", "support")


def test_attribution_travels_to_another_service_as_baggage(team_a, server):
    """Service A calls service B over HTTP; B's own OpenAI call is charged to A's scope."""
    client = openai.OpenAI(base_url=server.openai_base_url, max_retries=0)
    service_b = FastAPI()
    service_b.add_middleware(GenOpsMiddleware)
    seen_headers = {}

    @service_b.post("/summarise")
    def summarise(request: Request):
        seen_headers.update(request.headers)
        client.chat.completions.create(model="gpt-4-turbo", messages=[{"role": "user", "content": "sum"}])
        return {}

    config = uvicorn.Config(service_b, host="127.0.0.1", port=0, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    port = srv.servers[0].sockets[0].getsockname()[1]
    try:
        with GenOps.track(operation="escalation", team="sales", customer_id="umbrella", competitor="initech"):
            httpx.post(f"http://127.0.0.1:{port}/summarise")
    finally:
        srv.should_exit = True
        thread.join(10)
    team_a.flush()
    [event] = team_a.ledger.events()
    a = event.attribution
    assert (a.team, a.customer_id, a.operation, a.custom.get("competitor")) == ("sales", "umbrella", "escalation", "initech")
    assert "genops.customer_id=umbrella" in seen_headers["baggage"]
    # The provider itself never receives the baggage.
    assert all("baggage" not in r.headers for r in server.requests)
