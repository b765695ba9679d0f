"""`genops demo`: the three teams' workloads with the real SDKs against the in-process stand-in
server, into one ledger; exact figures per team, customer, user and competitor; the CLI report."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from typer.testing import CliRunner

from genops import _guard, demo
from genops.cli import app
from genops.ledger import open_ledger

GPT4_TURBO = Decimal("0.025")  # 1000 input + 500 output tokens at $10 / $30 per million
# gpt-4o-mini stream: 1149 input (1024 cached) + 315 output at $0.15 / $0.075 cached / $0.60 per million
GPT4O_MINI = Decimal(125) * Decimal("0.15") / 10**6 + Decimal(1024) * Decimal("0.075") / 10**6 + Decimal(315) * Decimal("0.6") / 10**6
OPUS_B = Decimal("0.0405")  # claude-opus-4, 1200 input + 300 output at $15 / $75 per million
EMBED_V3 = Decimal("0.00001")  # embed-english-v3.0, 100 tokens at $0.10 per million
GPT4_TURBO_C = Decimal("0.02")  # 800 + 400 tokens
OPUS_C = Decimal("0.042")  # 800 + 400 tokens


@pytest.fixture
def clean_errors():
    _guard.clear_errors()
    yield
    assert _guard.recent_errors() == [], f"GenOps internal errors: {_guard.recent_errors()}"


def test_demo_runs_all_three_teams_into_one_ledger(tmp_path, fake_clock, clean_errors):
    url, outcomes = demo.main(tmp_path / "demo.db")
    assert [(o.team.key, o.ran) for o in outcomes] == [("A", True), ("B", True), ("C", True)]
    with open_ledger(url) as ledger:
        events = list(ledger.events())
    by_team: dict[str, list] = {}
    for e in events:
        by_team.setdefault(e.attribution.team, []).append(e)
    assert {t: len(v) for t, v in by_team.items()} == {"support": 9, "knowledge": 7, "sales": 4}

    # Team A: per customer an embedding, a gpt-4-turbo chat and a streamed gpt-4o-mini chat.
    support = by_team["support"]
    assert Counter(e.attribution.customer_id for e in support) == {c: 3 for c in demo.CUSTOMERS}
    for e in support:
        assert (e.attribution.project, e.attribution.operation, e.attribution.service) == (
            "chatbot", "customer_support_query", "customer-support-chatbot")
        if e.request_model == "gpt-4-turbo":
            assert e.cost.total == GPT4_TURBO
        elif e.request_model == "gpt-4o-mini":
            assert (e.stream, e.usage.input_tokens, e.usage.cached_input_tokens, e.usage.output_tokens) == (True, 1149, 1024, 315)
            assert e.cost.total == GPT4O_MINI
        else:
            assert e.request_model == "text-embedding-3-large"
            assert e.cost.total == Decimal(e.usage.input_tokens) * Decimal("0.13") / 10**6

    # Team B: ingestion, then per search a Cohere query embedding and a Claude answer, per user.
    knowledge = by_team["knowledge"]
    assert Counter((e.provider, e.operation_kind, e.attribution.operation, e.attribution.user_id) for e in knowledge) == {
        ("cohere", "embeddings", "docs_ingest", None): 1,
        ("cohere", "embeddings", "docs_search", "1"): 2, ("anthropic", "chat", "docs_search", "1"): 2,
        ("cohere", "embeddings", "docs_search", "2"): 1, ("anthropic", "chat", "docs_search", "2"): 1,
    }
    for e in knowledge:
        assert e.attribution.project == "docs-search"
        assert e.cost.total == (OPUS_B if e.provider == "anthropic" else EMBED_V3)

    # Team C: LiteLLM; the second analysis fails over from gpt-4-turbo to claude-opus-4.
    sales = by_team["sales"]
    assert Counter((e.provider, e.request_model, e.status, e.attribution.custom["competitor"]) for e in sales) == {
        ("openai", "gpt-4-turbo", "ok", "Initech"): 2,
        ("openai", "gpt-4-turbo", "error", "Globex"): 1,
        ("anthropic", "claude-opus-4", "ok", "Globex"): 1,
    }
    for e in sales:
        assert (e.attribution.project, e.attribution.operation) == ("competitive-intel", "competitor_analysis")
        expected = {"gpt-4-turbo": GPT4_TURBO_C, "claude-opus-4": OPUS_C}[e.request_model]
        assert e.cost.total == (None if e.status == "error" else expected)

    start, end = fake_clock.now(), fake_clock.now().replace(hour=23)
    with open_ledger(url) as ledger:
        spend = {r.group["team"]: r.cost_usd for r in ledger.spend(start, end, ["team"])}
    assert spend["knowledge"] == 3 * OPUS_B + 4 * EMBED_V3
    assert spend["sales"] == 2 * GPT4_TURBO_C + OPUS_C


def test_a_team_whose_libraries_are_missing_is_skipped(tmp_path, monkeypatch, clean_errors):
    ghost = demo.Team("Z", "needs a library that is not installed", ("genops_no_such_library",), demo.run_team_a)
    monkeypatch.setattr(demo, "TEAMS", (demo.TEAMS[0], ghost))
    url, outcomes = demo.main(tmp_path / "demo.db")
    assert [(o.team.key, o.missing) for o in outcomes] == [("A", ()), ("Z", ("genops_no_such_library",))]
    with open_ledger(url) as ledger:
        assert {e.attribution.team for e in ledger.events()} == {"support"}
    result = CliRunner().invoke(app, ["demo", "--ledger", str(tmp_path / "cli.db")])
    assert result.exit_code == 0, result.output
    assert "skipped (not installed: genops_no_such_library; pip install 'genops-ai[demo]')" in result.output


def test_cli_prints_spend_by_team_and_by_customer(tmp_path, clean_errors):
    result = CliRunner().invoke(app, ["demo", "--ledger", str(tmp_path / "demo.db")])
    assert result.exit_code == 0, result.output
    out = result.output
    for line in ("Team A, support / chatbot", "Team B, knowledge / docs-search", "Team C, sales / competitive-intel"):
        assert f"{line}" in out
    assert out.count(": ran") == 3
    tables = out.split("AI spend, today")
    assert len(tables) == 4  # heading + by team, by customer, by team and model
    by_team, by_customer = tables[1], tables[2]
    for team in ("support", "knowledge", "sales"):
        assert team in by_team
    for customer in demo.CUSTOMERS:
        assert customer in by_customer
    assert "$0.082" in by_team  # sales: 2 x $0.02 + $0.042 (the failed attempt is not priced)
