"""Acceptance: the case study's three applications (examples/), run as written with their own
genops.yaml, through each framework's test client, against the stand-in provider server.

Step 1.3 (both options: FastAPI + LangChain + OpenAI), Step 2.3 (Django + LlamaIndex + Anthropic
+ Cohere) and Step 3.3 (Flask + LiteLLM with fallbacks). Each test checks the ledger rows (team,
project, customer or user, operation, the custom `competitor` attribute, exact tokens and Decimal
costs, one event per provider request) and the spans a real OpenTelemetry collector receives.
"""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_collector import Collector

from genops import GenOps, _guard
from genops._runtime import get_runtime

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CASE_STUDY_YAML = Path(__file__).resolve().parent / "fixtures" / "casestudy"


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    c = Collector(tmp_path)
    yield c
    c.stop()


def _local_modules(root: Path) -> set[str]:
    return {p.stem for p in root.glob("*.py")} | {p.name for p in root.iterdir() if (p / "__init__.py").exists()}


def _purge(names: set[str]) -> None:
    for mod in [m for m in sys.modules if m.split(".")[0] in names]:
        del sys.modules[mod]


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, collector: Collector, server: Any) -> Iterator[Any]:
    """`example(name)`: chdir into examples/<name>, put it first on sys.path, point every provider
    and the OTLP exporter at local stand-ins, and give GenOps a fresh ledger. The example's
    modules are imported afresh by each test (so its `GenOps.init` runs again)."""
    loaded: set[str] = set()

    def enter(name: str) -> Path:
        root = EXAMPLES / name
        monkeypatch.chdir(root)
        monkeypatch.syspath_prepend(str(root))
        loaded.update(_local_modules(root))
        _purge(loaded)
        return root

    env = {
        "OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": server.anthropic_base_url, "ANTHROPIC_API_KEY": "sk-ant-test",
        "CO_API_URL": server.cohere_base_url, "COHERE_API_BASE": f"{server.cohere_base_url}/v2/chat",
        "COHERE_API_KEY": "co-test", "PINECONE_API_KEY": "pc-test",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        # The YAML's collector host is TechCorp's; the standard variable points it at ours.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.grpc_port}",
        "GENOPS_STORAGE_URL": f"sqlite:///{tmp_path}/ledger.db",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GENOPS_EXPORTER", raising=False)
    _guard.clear_errors()
    yield enter
    GenOps.shutdown()
    _purge(loaded)
    assert _guard.recent_errors() == [], f"GenOps internal errors: {_guard.recent_errors()}"


def events() -> list[Any]:
    rt = get_runtime()
    rt.flush()
    return list(rt.ledger.events())


def spend_by(field: str) -> dict[Any, Decimal]:
    rt = get_runtime()
    rows = events()
    start = min(e.start_time for e in rows)
    end = max(e.start_time for e in rows) + timedelta(seconds=1)
    return {r.group[field]: r.cost_usd for r in rt.ledger.spend(start, end, [field])}


def test_every_example_carries_the_case_studys_genops_yaml_verbatim() -> None:
    for team, name in (("team_a", "team_a_fastapi"), ("team_b", "team_b_django"), ("team_c", "team_c_flask")):
        assert (EXAMPLES / name / "genops.yaml").read_text() == (CASE_STUDY_YAML / f"{team}.yaml").read_text()


# -- Team A: FastAPI + LangChain + OpenAI (Step 1.3) ------------------------------------------

CHAT = Decimal("0.025")  # gpt-4-turbo, 1000 input + 500 output tokens ($10 / $30 per million)
QUERY_EMBED = Decimal("0.000026")  # text-embedding-3-large, 200 tokens ($0.13 per million)


def run_team_a(example: Any, server: Any, module: str) -> list[Any]:
    from fastapi.testclient import TestClient

    example("team_a_fastapi")
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    server.set_usage(model="text-embedding-3-large", input_tokens=200)
    app = importlib.import_module(module).app
    with TestClient(app) as http:
        for customer in ("acme", "globex", "acme"):
            r = http.post("/chat", json={"question": "How do I reset my password?"}, headers={"x-customer-id": customer})
            assert r.status_code == 200, r.text
            assert r.json()["answer"]
    rows = events()
    # One event per provider request: LangChain over the instrumented SDK is not counted twice.
    assert len(server.requests_for("/chat/completions")) == 3 == sum(e.operation_kind == "chat" for e in rows)
    assert len(server.requests_for("/embeddings")) == 4 == sum(e.operation_kind == "embeddings" for e in rows)
    # The retriever found the support docs the app indexed at start-up.
    prompt = server.requests_for("/chat/completions")[0].json["messages"][0]["content"]
    assert "Settings > Security" in prompt and "How do I reset my password?" in prompt
    return rows


def check_team_a(rows: list[Any], operation: str | None) -> None:
    [indexing] = [e for e in rows if e.attribution.customer_id is None]
    assert (indexing.operation_kind, indexing.request_model, indexing.cost.total) == (
        "embeddings", "text-embedding-3-large", QUERY_EMBED)
    assert (indexing.attribution.team, indexing.attribution.project) == ("support", "chatbot")
    per_request = [e for e in rows if e is not indexing]
    assert Counter((e.operation_kind, e.attribution.customer_id) for e in per_request) == {
        ("chat", "acme"): 2, ("embeddings", "acme"): 2, ("chat", "globex"): 1, ("embeddings", "globex"): 1}
    for e in per_request:
        a = e.attribution
        assert (a.team, a.project, a.operation, a.environment, a.service) == (
            "support", "chatbot", operation, "production", "customer-support-chatbot")
        assert e.status == "ok" and e.usage.provenance == "reported"
        if e.operation_kind == "chat":
            assert (e.provider, e.request_model, e.usage.input_tokens, e.usage.output_tokens) == (
                "openai", "gpt-4-turbo", 1000, 500)
            assert e.cost.total == CHAT
        else:
            assert (e.usage.input_tokens, e.cost.total) == (200, QUERY_EMBED)
    assert spend_by("customer_id") == {
        "acme": 2 * (CHAT + QUERY_EMBED), "globex": CHAT + QUERY_EMBED, None: QUERY_EMBED}


def test_team_a_option_1_track_block(example, server, collector, fake_clock):
    rows = run_team_a(example, server, "app.main")
    check_team_a(rows, operation="customer_support_query")
    assert get_runtime().telemetry.force_flush()
    out = collector.wait_for("Name           : customer_support_query", "-> genops.customer_id: Str(globex)")
    assert "-> service.name: Str(customer-support-chatbot)" in out
    assert out.count("Name           : chat gpt-4-turbo") == 3
    assert "-> genops.cost.total_str: Str(0.025)" in out


def test_team_a_option_2_langchain_callbacks(example, server, collector, fake_clock):
    rows = run_team_a(example, server, "app.main_callbacks")
    check_team_a(rows, operation=None)
    assert get_runtime().telemetry.force_flush()
    out = collector.wait_for("Name           : chat gpt-4-turbo", "-> genops.customer_id: Str(globex)")
    assert out.count("Name           : chat gpt-4-turbo") == 3
    assert "-> genops.team: Str(support)" in out


# -- Team B: Django + LlamaIndex + Anthropic + Cohere (Step 2.3) -----------------------------

OPUS = Decimal("0.0525")  # claude-opus-4-0, 1000 input + 500 output tokens ($15 / $75 per million)
COHERE_EMBED = Decimal("0.00001")  # embed-english-v3.0, 100 tokens ($0.10 per million)


@pytest.fixture
def llamaindex_reset() -> Iterator[None]:
    yield
    import llama_index.core
    from llama_index.core import Settings as LlamaSettings

    llama_index.core.global_handler = None
    LlamaSettings._callback_manager = None  # created with the global handler of its time


def test_team_b_django_llamaindex_anthropic_cohere(example, server, collector, fake_clock, llamaindex_reset):
    from django_setup import configure_django

    configure_django()
    from django.contrib.auth.models import User
    from django.test import Client, override_settings

    example("team_b_django")
    server.set_usage(model="claude-opus-4-0", input_tokens=1000, output_tokens=500)
    server.set_usage(model="embed-english-v3.0", input_tokens=100)
    project = importlib.import_module("knowledge_search.settings")
    users = {}
    for name in ("alice", "bob"):
        User.objects.filter(username=name).delete()
        users[name] = User.objects.create_user(name, f"{name}@techcorp.example", "pw")
    try:
        with override_settings(ROOT_URLCONF=project.ROOT_URLCONF, MIDDLEWARE=project.MIDDLEWARE):
            from llama_index.embeddings.cohere import CohereEmbedding
            from search import views  # noqa: F401 - GenOps.init(config_path="genops.yaml"), set_global_handler("genops")
            from search.vector_store import DOCS, ingest

            with GenOps.track(operation="docs_ingest"):  # the ingestion job
                ingest(CohereEmbedding(model_name="embed-english-v3.0", api_key="co-test", base_url=server.cohere_base_url))
            for name, question in (("alice", "How do I file an expense report?"), ("bob", "How do I get VPN access?"),
                                   ("alice", "When can we deploy?")):
                http = Client()
                http.force_login(users[name])
                r = http.get("/search", {"q": question})
                assert r.status_code == 200, r.content
                assert r.json()["answer"]
            assert Client().get("/search", {"q": "anonymous?"}).status_code == 200  # request.user.id is None
        ids = {name: str(user.id) for name, user in users.items()}
    finally:
        for user in users.values():
            user.delete()

    rows = events()
    # One event per provider request: LlamaIndex over the instrumented SDKs is not counted twice.
    assert len(server.requests_for("/v1/messages")) == 4 == sum(e.operation_kind == "chat" for e in rows)
    assert len(server.requests_for("/v2/embed")) == 5 == sum(e.operation_kind == "embeddings" for e in rows)
    prompt = str(server.requests_for("/v1/messages")[0].json["messages"])
    # Retrieved documents, then the question (the stand-in's vectors carry no meaning: any documents).
    assert any(doc in prompt for doc in DOCS) and "How do I file an expense report?" in prompt
    [ingestion] = [e for e in rows if e.attribution.operation == "docs_ingest"]
    assert (ingestion.provider, ingestion.request_model, ingestion.usage.input_tokens, ingestion.cost.total) == (
        "cohere", "embed-english-v3.0", 100, COHERE_EMBED)
    searches = [e for e in rows if e is not ingestion]
    assert Counter((e.operation_kind, e.attribution.user_id) for e in searches) == {
        ("chat", ids["alice"]): 2, ("embeddings", ids["alice"]): 2, ("chat", ids["bob"]): 1,
        ("embeddings", ids["bob"]): 1, ("chat", None): 1, ("embeddings", None): 1}
    for e in rows:
        a = e.attribution
        assert (a.team, a.project, a.environment, a.service) == (
            "knowledge", "docs-search", "production", "internal-knowledge-search")
        assert e.status == "ok" and e.usage.provenance == "reported"
    for e in searches:
        assert e.attribution.operation == "docs_search"
        if e.operation_kind == "chat":
            assert (e.provider, e.request_model, e.usage.input_tokens, e.usage.output_tokens, e.cost.total) == (
                "anthropic", "claude-opus-4-0", 1000, 500, OPUS)
        else:
            assert (e.provider, e.usage.input_tokens, e.cost.total) == ("cohere", 100, COHERE_EMBED)
    assert spend_by("user_id") == {
        ids["alice"]: 2 * (OPUS + COHERE_EMBED), ids["bob"]: OPUS + COHERE_EMBED, None: OPUS + 2 * COHERE_EMBED}

    assert get_runtime().telemetry.force_flush()
    out = collector.wait_for("Name           : chat claude-opus-4-0", f"-> genops.user_id: Str({ids['bob']})")
    assert "-> service.name: Str(internal-knowledge-search)" in out
    assert "-> genops.operation: Str(docs_search)" in out


# -- Team C: Flask + LiteLLM with fallbacks (Step 3.3) ----------------------------------------


def test_team_c_flask_litellm_fallback(example, server, collector, fake_clock):
    example("team_c_flask")
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    server.set_usage(model="claude-opus-4", input_tokens=1000, output_tokens=500)
    http = importlib.import_module("app").app.test_client()

    r = http.post("/analyze", json={"competitor": "Initech", "content": "New pricing tier."})
    assert r.status_code == 200 and r.json["analysis"]
    fake_clock.advance(1)
    server.fail_next(status=503, count=3, model="gpt-4-turbo")  # down for every SDK retry
    r = http.post("/analyze", json={"competitor": "Globex", "content": "On-premise edition."})
    assert r.status_code == 200 and r.json["analysis"]

    rows = sorted(events(), key=lambda e: (e.start_time, e.status != "error"))
    assert [(e.provider, e.request_model, e.status, e.attribution.custom.get("competitor")) for e in rows] == [
        ("openai", "gpt-4-turbo", "ok", "Initech"),
        ("openai", "gpt-4-turbo", "error", "Globex"),
        ("anthropic", "claude-opus-4", "ok", "Globex"),
    ]
    first, failed, fallback = rows
    assert (first.usage.input_tokens, first.usage.output_tokens, first.cost.total) == (1000, 500, CHAT)
    assert failed.error_type == "ServiceUnavailableError"
    assert failed.cost.total is None and failed.usage.provenance == "unavailable"
    # The answering model at its own price: $15 / $75 per million tokens.
    assert (fallback.usage.input_tokens, fallback.usage.output_tokens, fallback.cost.total) == (
        1000, 500, Decimal("0.0525"))
    for e in rows:
        a = e.attribution
        assert (a.team, a.project, a.operation, a.environment, a.service) == (
            "sales", "competitive-intel", "competitor_analysis", "production", "sales-intelligence")
    assert spend_by("attr:competitor") == {"Initech": CHAT, "Globex": Decimal("0.0525")}
    assert [r.json["model"] for r in server.requests] == ["gpt-4-turbo"] * 4 + ["claude-opus-4"]

    assert get_runtime().telemetry.force_flush()
    out = collector.wait_for("Name           : chat claude-opus-4", "-> genops.competitor: Str(Globex)")
    assert "-> service.name: Str(sales-intelligence)" in out
    assert "-> genops.status: Str(error)" in out
