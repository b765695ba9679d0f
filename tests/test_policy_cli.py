"""`genops budget status` and `genops budget override` (the case study's Challenge 1: Team C's
limit raised from $10K to $12K for June), on every policy store backend."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from ledger_backends import make_event
from typer.testing import CliRunner

from genops.cli import app
from genops.ledger import open_ledger

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def config(tmp_path, policy_storage, fake_clock):
    path = tmp_path / "genops.yaml"
    path.write_text(yaml.safe_dump({"genops": {
        "storage": policy_storage,
        "policies": [
            {"name": "team_c_budget", "type": "budget", "limit": 10000.0, "period": "monthly", "teams": ["sales"],
             "enforcement": "BLOCKED"},
            {"name": "per_customer", "type": "budget", "limit": 100, "period": "daily", "per": "customer",
             "timezone": "Europe/Berlin"},
        ],
    }}))  # fmt: skip
    with open_ledger(policy_storage["url"]) as ledger:
        ledger.write([
            make_event("e1", datetime(2026, 3, 2, tzinfo=UTC), cost="3000", team="sales"),
            make_event("e2", T0 - timedelta(hours=1), cost="100.50", team="sales", customer_id="acme"),
            make_event("e3", T0 - timedelta(hours=2), cost="42", team="support", customer_id="globex"),
        ])  # fmt: skip
    return path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_status_shows_spent_remaining_percent_period_end_and_projection(config):
    rows = {(r["policy"], r["scope"]): r for r in json.loads(run("budget", "status", "-c", str(config), "-f", "json"))}
    team_c = rows[("team_c_budget", "teams=[sales]")]
    assert (team_c["spent"], team_c["reserved"], team_c["limit"], team_c["remaining"]) == ("3100.5", "0", "10000", "6899.5")
    assert team_c["percent"] == "31.01" and team_c["period_end"] == "2026-04-01T00:00:00+00:00"
    assert team_c["projected"] == "10117.42"  # $3,100.50 in 9.5 of 31 days
    assert team_c["override"] is None
    # The per-customer budget has no counters yet today: one row says so.
    assert rows[("per_customer", "global (no spend yet)")]["spent"] == "0"

    table = run("budget", "status", "-c", str(config))
    assert "team_c_budget" in table and "$3,100.50" in table and "$6,899.50" in table and "31.01%" in table
    assert "2026-04-01 00:00 UTC" in table and "$10,117.42" in table


def test_override_raises_the_limit_is_listed_and_expires(config, genops_runtime, policy_storage, fake_clock):
    out = run("budget", "override", "team_c_budget", "--limit", "12000", "--until", "2026-03-31",
              "--reason", "launch monitoring", "-c", str(config))  # fmt: skip
    assert out.strip() == "team_c_budget: limit $12,000.00 (configured $10,000.00) until 2026-04-01 00:00 UTC"
    assert "team_c_budget [*] $12,000.00 until 2026-04-01 00:00 UTC: active (launch monitoring)" in run(
        "budget", "overrides", "-c", str(config)
    )
    (team_c,) = [r for r in json.loads(run("budget", "status", "-c", str(config), "-f", "json"))
                 if r["policy"] == "team_c_budget"]  # fmt: skip
    assert team_c["limit"] == "12000" and team_c["override"]["reason"] == "launch monitoring"

    # A running process sees the raised limit on its next call.
    from policy_backends import governed_call

    from genops.config_loader import load_settings

    settings = load_settings(config)
    genops_runtime(storage=policy_storage, policies=[p.model_dump() for p in settings.parsed_policies()][:1],
                   pricing={"overrides": [{"model": "house-model", "input_per_million": 1000, "output_per_million": 2000}]})  # fmt: skip
    event = governed_call(team="sales")
    assert "of $12,000.00" in event.decisions[0].detail

    fake_clock.advance(22 * 86400)  # 2026-04-01 12:00: the override has expired (and a new month began)
    assert "expired" in run("budget", "overrides", "-c", str(config))
    (team_c,) = [r for r in json.loads(run("budget", "status", "-c", str(config), "-f", "json"))
                 if r["policy"] == "team_c_budget"]  # fmt: skip
    assert team_c["limit"] == "10000" and team_c["override"] is None


def test_override_refuses_bad_input_with_exit_code_2(config):
    runner = CliRunner()
    cases = [
        (["nope", "--limit", "1", "--until", "2026-04-01"], "no budget policy named 'nope'"),
        (["team_c_budget", "--limit", "-5", "--until", "2026-04-01"], "--limit must be a positive amount"),
        (["team_c_budget", "--limit", "lots", "--until", "2026-04-01"], "is not a number"),
        (["team_c_budget", "--limit", "5", "--until", "2026-03-01"], "is already past"),
        (["team_c_budget", "--limit", "5", "--until", "June"], "use a date"),
        (["team_c_budget", "--limit", "5", "--until", "2026-04-01", "--scope", "customer=acme"], "not a per-customer budget"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["budget", "override", *args, "-c", str(config)])
        assert result.exit_code == 2, result.output
        assert message in result.output


def test_per_value_override_applies_to_that_value_only(config):
    run("budget", "override", "per_customer", "--limit", "500", "--until", "2026-03-10", "--scope", "customer=acme",
        "-c", str(config))  # fmt: skip
    assert "per_customer [customer=acme] $500.00 until 2026-03-10 23:00 UTC: active" in run("budget", "overrides", "-c", str(config))
    run("budget", "clear-override", "per_customer", "--scope", "customer=acme", "-c", str(config))
    assert run("budget", "overrides", "-c", str(config)).strip() == "no overrides"


def test_status_without_budgets_is_a_clean_error(tmp_path, fake_clock):
    path = tmp_path / "genops.yaml"
    path.write_text("genops:\n  storage:\n    url: sqlite:///" + str(tmp_path / "l.db") + "\n")
    result = CliRunner().invoke(app, ["budget", "status", "-c", str(path)])
    assert result.exit_code == 2 and "no budget policies are configured" in result.output

