"""Finance exports: FOCUS 1.2 rows (CSV and Parquet) and chargeback invoice lines, from a ledger
with known events, on SQLite and PostgreSQL; the `genops export` command."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from ledger_backends import make_event
from typer.testing import CliRunner

from genops.analytics.exports import (
    CHARGEBACK_COLUMNS,
    chargeback_lines,
    write_chargeback_csv,
    write_focus_csv,
    write_focus_parquet,
)
from genops.analytics.focus import COLUMNS, FOCUS_COLUMNS, Account, focus_rows
from genops.analytics.periods import parse_period
from genops.cli import app
from genops.ledger import open_ledger

runner = CliRunner()
NOW = datetime(2026, 4, 10, tzinfo=UTC)

# The columns FOCUS 1.2 makes mandatory (issue #5's list, by column id: the spec's display names
# Provider, Publisher and Invoice Issuer are ProviderName, PublisherName and InvoiceIssuerName).
MANDATORY = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart",
    "BillingPeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodStart", "ChargePeriodEnd",
    "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}  # fmt: skip


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def ledger_url(store_url: str) -> str:
    e1 = make_event("e1", utc(2026, 3, 2, 10, 15), cost="12.3425", team="support", project="chatbot",
                    customer_id="acme", input_tokens=1000, output_tokens=500, user_id="u-7")  # fmt: skip
    e1 = replace(e1, attribution=replace(e1.attribution, custom={"competitor": "initech"}))
    events = [
        e1,
        make_event("e2", utc(2026, 3, 2, 10, 45), cost="0.0025", team="support", project="chatbot",
                   customer_id="acme", input_tokens=2000, output_tokens=1000),
        make_event("e3", utc(2026, 3, 2, 23, 30), cost="0.3333333333333333333", team="knowledge", project="kb",
                   customer_id="globex", provider="anthropic", model="claude-sonnet-4", input_tokens=300,
                   output_tokens=20),
        make_event("e4", utc(2026, 3, 3, 8), cost="0.002", team="knowledge", project="kb", provider="cohere",
                   kind="rerank", model="rerank-v3.5", input_tokens=None, output_tokens=None),
        make_event("e5", utc(2026, 3, 3, 9), cost=None, team="support", project="chatbot", customer_id="acme",
                   model="gpt-unknown", input_tokens=10, output_tokens=5),
        make_event("e6", utc(2026, 2, 28, 23, 30), cost="1", team="support", project="chatbot", customer_id="acme"),
    ]  # fmt: skip
    with open_ledger(store_url) as store:
        store.write(events)
    return store_url


def test_focus_rows_per_day(ledger_url: str) -> None:
    assert MANDATORY <= set(FOCUS_COLUMNS)
    assert list(COLUMNS[: len(FOCUS_COLUMNS)]) == sorted(FOCUS_COLUMNS)  # FOCUS columns first, alphabetical
    assert all(c.startswith("x_") for c in COLUMNS[len(FOCUS_COLUMNS) :])
    with open_ledger(ledger_url) as store:
        rows = list(focus_rows(store, parse_period("2026-03", NOW), "day", Account("acct-1", "TechCorp AI")))
    assert [(r["ChargePeriodStart"].isoformat(), r["ProviderName"], r["SkuId"], r["BilledCost"]) for r in rows] == [
        ("2026-03-02T00:00:00+00:00", "Anthropic", "claude-sonnet-4", Decimal("0.3333333333333333333")),
        ("2026-03-02T00:00:00+00:00", "OpenAI", "gpt-4o-mini", Decimal("12.345")),
        ("2026-03-03T00:00:00+00:00", "Cohere", "rerank-v3.5", Decimal("0.002")),
        ("2026-03-03T00:00:00+00:00", "OpenAI", "gpt-unknown", Decimal(0)),
    ]
    openai = rows[1]
    assert {k: openai[k] for k in COLUMNS if k not in ("ChargePeriodStart",)} == {
        "BilledCost": Decimal("12.345"), "BillingAccountId": "acct-1", "BillingAccountName": "TechCorp AI",
        "BillingCurrency": "USD", "BillingPeriodEnd": utc(2026, 4, 1), "BillingPeriodStart": utc(2026, 3, 1),
        "ChargeCategory": "Usage", "ChargeClass": None,
        "ChargeDescription": "gpt-4o-mini chat (OpenAI), 2 requests, 4,500 tokens", "ChargeFrequency": "Usage-Based",
        "ChargePeriodEnd": utc(2026, 3, 3), "ConsumedQuantity": Decimal(4500), "ConsumedUnit": "Tokens",
        "ContractedCost": Decimal("12.345"), "EffectiveCost": Decimal("12.345"), "InvoiceIssuerName": "OpenAI",
        "ListCost": Decimal("12.345"), "PricingCategory": "Standard", "PricingQuantity": Decimal(4500),
        "PricingUnit": "Tokens", "ProviderName": "OpenAI", "PublisherName": "OpenAI",
        "ServiceCategory": "AI and Machine Learning", "ServiceName": "OpenAI API", "ServiceSubcategory": "Generative AI",
        "SkuId": "gpt-4o-mini",
        "Tags": '{"customer_id":"acme","environment":"production","project":"chatbot","team":"support"}',
        "x_Team": "support", "x_Project": "chatbot", "x_CustomerId": "acme", "x_Environment": "production",
        "x_Operation": None, "x_OperationKind": "chat", "x_Requests": 2, "x_InputTokens": 3000, "x_OutputTokens": 1500,
        "x_CachedInputTokens": 0, "x_UnpricedRequests": 0, "x_PriceStatus": "known", "x_EventId": None,
    }  # fmt: skip
    rerank, unpriced = rows[2], rows[3]
    assert (rerank["ConsumedQuantity"], rerank["ConsumedUnit"], rerank["ServiceSubcategory"]) == (
        Decimal(1), "Requests", "Natural Language Processing")  # fmt: skip
    assert json.loads(rerank["Tags"]) == {"environment": "production", "project": "kb", "team": "knowledge"}
    # An unknown price is its own row, flagged, never mixed into a priced one.
    assert (unpriced["BilledCost"], unpriced["x_PriceStatus"], unpriced["x_UnpricedRequests"]) == (
        Decimal(0),
        "unknown",
        1,
    )
    assert unpriced["ChargeDescription"].endswith("; price unknown, cost not included")
    with open_ledger(ledger_url) as store:
        [total] = store.spend(utc(2026, 3, 1), utc(2026, 4, 1))
    assert sum((r["BilledCost"] for r in rows), Decimal(0)) == total.cost_usd


def test_focus_charge_periods_are_clipped_to_a_local_period(ledger_url: str) -> None:
    """Berlin's March starts at 2026-02-28 23:00 UTC: e6 (23:30 UTC) is in it, in a February UTC day."""
    with open_ledger(ledger_url) as store:
        berlin = list(focus_rows(store, parse_period("2026-03", NOW, "Europe/Berlin"), "hour"))
    first = berlin[0]
    assert (first["ChargePeriodStart"], first["ChargePeriodEnd"]) == (utc(2026, 2, 28, 23), utc(2026, 3, 1))
    assert (first["BillingPeriodStart"], first["BillingPeriodEnd"]) == (utc(2026, 2, 1), utc(2026, 3, 1))
    assert first["BilledCost"] == Decimal(1)
    hours = [(r["ChargePeriodStart"], r["SkuId"], r["x_Requests"]) for r in berlin[1:3]]
    assert hours == [(utc(2026, 3, 2, 10), "gpt-4o-mini", 2), (utc(2026, 3, 2, 23), "claude-sonnet-4", 1)]


def test_focus_rows_per_event_carry_custom_attributes(ledger_url: str) -> None:
    with open_ledger(ledger_url) as store:
        rows = list(focus_rows(store, parse_period("2026-03-02..2026-03-02", NOW), "event"))
    assert [r["x_EventId"] for r in rows] == ["e1", "e2", "e3"]
    assert json.loads(rows[0]["Tags"]) == {
        "competitor": "initech", "customer_id": "acme", "environment": "production", "project": "chatbot",
        "team": "support", "user_id": "u-7",
    }  # fmt: skip
    assert (rows[0]["BilledCost"], rows[0]["ConsumedQuantity"]) == (Decimal("12.3425"), Decimal(1500))


def test_focus_csv_and_parquet(ledger_url: str, tmp_path: Any) -> None:
    import pyarrow.parquet as pq

    period = parse_period("2026-03", NOW)
    with open_ledger(ledger_url) as store:
        out = io.StringIO()
        assert write_focus_csv(focus_rows(store, period), out) == 4
        path = tmp_path / "focus.parquet"
        assert write_focus_parquet(focus_rows(store, period), path, batch_rows=3) == 4
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(parsed[0]) == list(COLUMNS)
    anthropic = parsed[0]
    assert (anthropic["BilledCost"], anthropic["ChargePeriodStart"], anthropic["ChargePeriodEnd"]) == (
        "0.3333333333333333333", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")  # fmt: skip
    assert (anthropic["BillingPeriodStart"], anthropic["ChargeClass"], anthropic["x_Operation"]) == (
        "2026-03-01T00:00:00Z",
        "",
        "",
    )
    table = pq.read_table(path)
    assert table.schema.field("BilledCost").type.scale == 18
    assert str(table.schema.field("ChargePeriodStart").type) == "timestamp[us, tz=UTC]"
    assert table.schema.metadata[b"focus_version"] == b"1.2"
    data = table.to_pylist()
    assert [r["BilledCost"] for r in data] == [
        Decimal("0.333333333333333333"),
        Decimal("12.345"),
        Decimal("0.002"),
        Decimal(0),
    ]
    assert data[1]["x_Requests"] == 2 and data[1]["ChargePeriodStart"] == utc(2026, 3, 2)


def test_chargeback_lines(ledger_url: str) -> None:
    with open_ledger(ledger_url) as store:
        plain = chargeback_lines(store, parse_period("2026-03", NOW))
        marked_up = chargeback_lines(store, parse_period("2026-03", NOW), sku="AI usage", markup_percent=Decimal(10))
    assert [(line["customer_id"], line["cost_usd"], line["amount"]) for line in plain.lines] == [
        ("acme", "12.345", "12.35"),  # half-up to cents
        ("globex", "0.3333333333333333333", "0.33"),
    ]
    assert [(line["amount"], line["markup_pct"]) for line in marked_up.lines] == [("13.58", "10"), ("0.37", "10")]
    acme = plain.lines[0]
    assert acme == {
        "line_id": "genops-20260301-20260331-acme", "customer_id": "acme", "period_start": "2026-03-01",
        "period_end": "2026-03-31", "sku": "AI API Usage",
        "description": "AI API Usage, 2026-03-01 .. 2026-03-31: 3 requests, 4,515 tokens", "quantity": 1,
        "unit_price": "12.35", "amount": "12.35", "currency": "USD", "cost_usd": "12.345", "markup_pct": "0",
        "requests": 3, "input_tokens": 3010, "output_tokens": 1505, "unpriced_requests": 1,
    }  # fmt: skip
    assert (plain.unattributed.requests, plain.unattributed.cost_usd) == (1, Decimal("0.002"))
    out = io.StringIO()
    assert write_chargeback_csv(plain, out) == 2
    assert out.getvalue().splitlines()[0] == ",".join(CHARGEBACK_COLUMNS)
    assert (
        out.getvalue()
        .splitlines()[1]
        .startswith("genops-20260301-20260331-acme,acme,2026-03-01,2026-03-31,AI API Usage,")
    )


def test_export_command(ledger_url: str, tmp_path: Any, monkeypatch: Any, fake_clock: Any) -> None:
    monkeypatch.delenv("GENOPS_CONFIG", raising=False)
    monkeypatch.delenv("GENOPS_STORAGE_URL", raising=False)
    fake_clock.advance((NOW - fake_clock.now()).total_seconds())
    config = tmp_path / "genops.yaml"
    config.write_text(
        f'genops:\n  storage:\n    url: "{ledger_url}"\n  reporting:\n    timezone: Europe/Berlin\n'
        "    chargeback_markup_percent: 10\n    billing_account_id: acct-9\n"
    )
    result = runner.invoke(app, ["export", "--config", str(config), "--format", "chargeback"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(CHARGEBACK_COLUMNS)
    # Berlin's March adds e6 ($1, acme): 13.345 x 1.1 = 14.6795.
    assert lines[1].split(",")[:3] == ["genops-20260301-20260331-acme", "acme", "2026-03-01"]
    assert "14.68" in lines[1].split(",") and "13.345" in lines[1].split(",")
    assert "not invoiced: 1 requests ($0.002) without a customer_id" in result.stderr

    out = tmp_path / "march.csv"
    result = runner.invoke(app, ["export", "-c", str(config), "--tz", "UTC", "-p", "2026-03", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 FOCUS rows, 2026-03-01 .. 2026-03-31 (UTC)" in result.stderr
    rows = list(csv.DictReader(out.open()))
    assert {r["BillingAccountId"] for r in rows} == {"acct-9"}
    parquet = tmp_path / "march.parquet"
    result = runner.invoke(
        app, ["export", "-c", str(config), "-p", "2026-03", "--granularity", "event", "-o", str(parquet)]
    )
    assert result.exit_code == 0, result.output
    assert "6 FOCUS rows" in result.stderr  # e1..e6, e6 in Berlin's March

    bad = runner.invoke(app, ["export", "-c", str(config), "--format", "chargeback", "-o", str(tmp_path / "x.parquet")])
    assert bad.exit_code == 2 and "Parquet is for FOCUS exports" in bad.output
    bad = runner.invoke(app, ["export", "-c", str(config), "--format", "xlsx"])
    assert bad.exit_code == 2 and "unknown export format 'xlsx'; use one of focus, chargeback" in bad.output


def test_rebuild_rollups_command(ledger_url: str) -> None:
    result = runner.invoke(app, ["ledger", "rebuild-rollups", "--ledger", ledger_url])
    assert result.exit_code == 0, result.output
    assert "from 6 events" in result.stdout
    with open_ledger(ledger_url) as store:
        [row] = store.spend(utc(2026, 2, 28), utc(2026, 3, 4))
    assert row.cost_usd == Decimal("13.6803333333333333333")  # 12.3425 + 0.0025 + 1/3 (19 places) + 0.002 + 1
