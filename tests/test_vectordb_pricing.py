"""Vector-database pricing: Pinecone's reviewed defaults, config overrides, configured vs
unknown self-hosted databases, storage snapshots."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from genops import track
from genops.config import Settings
from genops.errors import ConfigError
from genops.events import Usage
from genops.pricing import Pricer
from genops.providers import _vector
from genops.providers.pinecone import record_storage, write_units

WHEN = datetime(2026, 3, 10, tzinfo=UTC)


def pricer(**vector_db: dict) -> Pricer:
    return Pricer.from_config(Settings.model_validate({"pricing": {"vector_db": vector_db}}).pricing)


def query_usage(read_units: int) -> Usage:
    return _vector.usage(_vector.QUERY, provenance="reported", read_units=read_units, vectors=3)


def test_pinecone_read_units_at_the_default_list_price():
    cost = pricer().price("pinecone", "support-docs", query_usage(5), WHEN)
    # 5 RU x $16 / 1M
    assert cost.total == Decimal("0.00008")
    assert cost.components == {"read_units": Decimal("0.00008"), "queries": Decimal(0)}
    assert (cost.source, cost.version) == ("genops-vector-defaults", "2026-12-04")


def test_pinecone_write_units_and_index_name_does_not_matter():
    usage = _vector.usage(_vector.UPSERT, provenance="estimated", write_units=250, vectors=100)
    assert pricer().price("pinecone", None, usage, WHEN).total == Decimal("0.001")  # 250 x $4 / 1M
    assert pricer().is_known("pinecone", "")


def test_config_overrides_pinecone_fields_it_sets_only():
    p = pricer(pinecone={"read_unit_per_million": "24"})
    assert p.price("pinecone", "i", query_usage(5), WHEN).total == Decimal("0.00012")
    usage = _vector.usage(_vector.UPSERT, provenance="estimated", write_units=1_000_000)
    cost = p.price("pinecone", "i", usage, WHEN)
    assert (cost.total, cost.source) == (Decimal(4), "config")


def test_unconfigured_self_hosted_database_is_unknown_never_zero():
    usage = _vector.usage(_vector.QUERY, provenance="estimated", vectors=4)
    for provider in ("chroma", "weaviate"):
        cost = pricer().price(provider, "docs", usage, WHEN)
        assert cost.total is None and cost.source == "unknown-vector-price"
        assert not pricer().is_known(provider, "docs")


def test_configured_self_hosted_database_is_priced_as_written():
    p = pricer(chroma={}, weaviate={"query": "0.0001", "upsert": "0.0002"})
    usage = _vector.usage(_vector.QUERY, provenance="estimated", vectors=4)
    free = p.price("chroma", "docs", usage, WHEN)
    assert (free.total, free.source) == (Decimal(0), "config")
    assert p.price("weaviate", "Docs", usage, WHEN).total == Decimal("0.0001")
    write = _vector.usage(_vector.UPSERT, provenance="estimated", vectors=10)
    assert p.price("weaviate", "Docs", write, WHEN).total == Decimal("0.0002")
    assert p.price("weaviate", "Docs", _vector.usage(_vector.DELETE, provenance="estimated"), WHEN).total == 0


def test_storage_is_priced_per_gb_month_to_the_picodollar():
    usage = Usage(units={"storage_mb_hours": 300_000}, provenance="reported")  # 12.5 GB for 24 h
    cost = pricer().price("pinecone", "support-docs", usage, WHEN)
    # 12.5 GB x 24 h / 730 h x $0.33 = 0.135616438356164...
    assert cost.total == Decimal("0.135616438356")
    assert cost.components == {"storage": Decimal("0.135616438356")}


def test_vector_prices_are_validated_with_the_place_named(tmp_path):
    from genops.config_loader import load_settings

    path = tmp_path / "genops.yaml"
    path.write_text("genops:\n  pricing:\n    vector_db:\n      pinecone:\n        read_unit_per_milion: 16\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "genops.pricing.vector_db.pinecone.read_unit_per_milion" in str(err.value)
    assert f"{path}:5" in str(err.value)
    path.write_text("genops:\n  pricing:\n    vector_db:\n      milvus: {query: 0}\n")
    with pytest.raises(ConfigError, match="milvus"):
        load_settings(path)


def test_write_unit_estimate_counts_started_kilobytes():
    record = {"id": "doc-1", "values": [0.1] * 256, "metadata": {"t": "x"}}  # 5 + 1024 + 9 bytes
    assert write_units([record]) == 2
    assert write_units([{"id": "a", "values": [0.0]}]) == 1  # at least one
    assert write_units([record] * 10) == 11  # 10,380 bytes


def test_record_storage_is_an_attributed_priced_event(genops_runtime, fake_clock):
    rt = genops_runtime()
    with track(team="support", project="chatbot"):
        event = record_storage("support-docs", gb="12.5", hours=24, environment_tier="prod")
    rt.flush()
    (row,) = rt.ledger.events()
    assert row.id == event.id
    assert (row.provider, row.operation_kind, row.request_model) == ("pinecone", "vector.storage", "support-docs")
    assert (row.attribution.team, row.attribution.project) == ("support", "chatbot")
    assert row.attribution.custom["environment_tier"] == "prod"
    assert row.usage.units == {"storage_mb_hours": 300_000}
    assert (row.usage.input_tokens, row.usage.output_tokens) == (None, None)
    assert row.cost.total == Decimal("0.135616438356")
    assert row.start_time == fake_clock.now()


def test_record_storage_rejects_bad_sizes(genops_runtime):
    genops_runtime()
    for bad in (-1, "lots", True, float("nan")):
        with pytest.raises(ValueError, match="gb must be a non-negative number"):
            record_storage("i", gb=bad)


def test_record_storage_without_genops_is_a_no_op():
    assert record_storage("i", gb=1) is None
