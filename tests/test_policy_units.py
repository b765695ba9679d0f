"""Policy building blocks: calendar periods in a timezone, model patterns, worst-case costs,
and configuration errors for policies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from genops.config_loader import load_settings
from genops.errors import ConfigError
from genops.policy.matching import model_matches
from genops.policy.periods import end_of_day, period_bounds
from genops.policy.status import parse_until, projected_spend
from genops.policy.store.base import from_nano, to_nano, window_retry_after
from genops.policy.worst_case import output_tokens, provider_of, reserve_input_tokens, worst_case_cost
from genops.pricing import PriceOverride, Pricer


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "tz", "when", "start", "end"),
    [
        ("daily", "UTC", utc(2026, 3, 10, 12), utc(2026, 3, 10), utc(2026, 3, 11)),
        # 23:30 UTC on the 10th is already the 11th in Tokyo (UTC+9).
        ("daily", "Asia/Tokyo", utc(2026, 3, 10, 23, 30), utc(2026, 3, 10, 15), utc(2026, 3, 11, 15)),
        # New York switches to daylight time on 2026-03-08: that day has 23 hours.
        ("daily", "America/New_York", utc(2026, 3, 8, 12), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)),
        # ISO weeks start on Monday: 2026-03-10 is a Tuesday.
        ("weekly", "UTC", utc(2026, 3, 10, 12), utc(2026, 3, 9), utc(2026, 3, 16)),
        ("weekly", "UTC", utc(2026, 3, 15, 23, 59), utc(2026, 3, 9), utc(2026, 3, 16)),
        ("monthly", "UTC", utc(2026, 12, 31, 23), utc(2026, 12, 1), utc(2027, 1, 1)),
        ("monthly", "Europe/Berlin", utc(2026, 3, 31, 23, 30), utc(2026, 3, 31, 22), utc(2026, 4, 30, 22)),
        ("quarterly", "UTC", utc(2026, 5, 20), utc(2026, 4, 1), utc(2026, 7, 1)),
        ("quarterly", "UTC", utc(2026, 12, 20), utc(2026, 10, 1), utc(2027, 1, 1)),
        ("yearly", "UTC", utc(2026, 3, 10), utc(2026, 1, 1), utc(2027, 1, 1)),
    ],
)
def test_period_bounds_follow_the_calendar_in_the_timezone(period, tz, when, start, end):
    assert period_bounds(period, tz, when) == (start, end)


def test_until_a_date_means_through_the_end_of_that_day_in_the_budget_timezone():
    assert end_of_day(date(2024, 6, 30), "UTC") == utc(2024, 7, 1)
    assert parse_until("2024-06-30", "America/New_York") == utc(2024, 7, 1, 4)
    assert parse_until("2024-06-30T12:00:00+00:00", "America/New_York") == utc(2024, 6, 30, 12)
    with pytest.raises(ValueError, match="use a date"):
        parse_until("end of june", "UTC")


@pytest.mark.parametrize(
    ("model", "pattern", "matches"),
    [
        ("gpt-4", "gpt-4", True),
        ("gpt-4-0613", "gpt-4", True),  # a dated snapshot of gpt-4
        ("gpt-4-2024-05-13", "gpt-4", True),
        ("GPT-4", "gpt-4", True),
        ("openai/gpt-4", "gpt-4", True),  # LiteLLM provider prefix
        ("gpt-4-turbo", "gpt-4", False),
        ("gpt-4o", "gpt-4", False),
        ("gpt-4o-mini", "gpt-4*", True),
        ("claude-opus-4", "claude-*", True),
        ("claude-opus-4", "gpt-*", False),
    ],
)
def test_model_patterns(model, pattern, matches):
    assert model_matches(model, pattern) is matches


def test_nanodollars_round_up_and_back():
    assert to_nano(Decimal("0.0000675")) == 67_500
    assert to_nano(Decimal("0.0000000001")) == 1  # never under-count
    assert to_nano(Decimal(10000)) == 10_000_000_000_000
    assert from_nano(67_500) == Decimal("0.0000675")


def test_worst_case_uses_max_tokens_else_the_model_maximum():
    pricer = Pricer([PriceOverride(model="house-model", input_per_million=Decimal(1000), output_per_million=Decimal(2000))])
    when = utc(2026, 3, 10)
    call = SimpleNamespace(operation_kind="chat", max_output_tokens=10)
    assert reserve_input_tokens(100) == 141  # 125 + 16
    # 141 input tokens * $0.001 + 10 output tokens * $0.002
    assert worst_case_cost(pricer, call, "house-model", "openai", 100, None, when) == Decimal("0.161")
    call.max_output_tokens = None
    assert output_tokens(call, "gpt-4-turbo", "openai", None) == 4096
    assert output_tokens(call, "gpt-4o-mini", "openai", None) == 16_384
    assert output_tokens(call, "house-model", "cohere", None) == 4096
    assert output_tokens(call, "gpt-4o-mini", "openai", 500) == 500  # the budget's max_output_tokens
    assert output_tokens(SimpleNamespace(operation_kind="embeddings", max_output_tokens=None), "m", "openai", None) == 0
    assert worst_case_cost(pricer, call, "no-such-model", "openai", 100, None, when) is None


def test_providers_of_models():
    assert provider_of("gpt-4-turbo") == "openai"
    assert provider_of("claude-opus-4") == "anthropic"
    assert provider_of("anthropic/claude-opus-4") == "anthropic"
    assert provider_of("cohere-command-r-plus") is None


def test_sliding_window_retry_after():
    log = [(0.0, 10), (1.0, 10), (2.0, 10)]
    assert window_retry_after(log, 3.0, 60, 10, 3, None) == 57.0  # the oldest must leave
    assert window_retry_after(log, 3.0, 60, 25, None, 40) == 58.0  # two must leave for 25 tokens
    assert window_retry_after(log, 3.0, 60, 50, None, 40) is None  # can never fit


def test_projection_is_linear_in_the_period():
    start, end = utc(2026, 3, 1), utc(2026, 4, 1)  # 31 days
    assert projected_spend(Decimal(1000), start, end, utc(2026, 3, 11)) == Decimal("3100.00")
    assert projected_spend(Decimal(5), start, end, start) == Decimal(5)


def test_policy_configuration_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "genops.yaml"
    path.write_text(
        "genops:\n"
        "  policies:\n"
        "    - name: team_a_budget\n"
        "      type: budget\n"
        "      limit: 10000.0\n"
        "      enforcment: WARNING\n"
        "    - name: mystery\n"
        "      type: quota\n"
        "    - name: tz\n"
        "      type: budget\n"
        "      limit: 5\n"
        "      timezone: Mars/Olympus\n"
        "    - name: no_rule\n"
        "      type: model\n"
        "    - name: fallback\n"
        "      type: custom\n"
        "      config: {primary: gpt-4-turbo, fallbacks: [gpt-4o]}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = str(info.value)
    assert f"{path}:6: genops.policies[0].enforcment: unknown key 'enforcment'" in text
    assert f"{path}:8: genops.policies[1].type: unknown type 'quota'" in text
    assert "genops.policies[2].timezone" in text and "unknown timezone 'Mars/Olympus'" in text
    assert "genops.policies[3]" in text and "needs `blocked` and/or `allowed`" in text
    assert "genops.policies[4].config" in text and "fallbacks" in text


def test_case_study_policies_load_as_written(tmp_path):
    path = tmp_path / "genops.yaml"
    path.write_text(
        'genops:\n  environment: "production"\n  policies:\n'
        '    - name: "team_c_budget"\n      type: "budget"\n      limit: 10000.0  # $10K USD/month\n'
        '      period: "monthly"\n      teams: ["sales"]\n      enforcement: "BLOCKED"  # Hard limit for Team C\n'
        '    - name: "no_gpt4_in_dev"\n      type: "model"\n      blocked: ["gpt-4"]\n'
        '      environment: "development"\n      enforcement: "BLOCKED"\n'
        '    - name: "model_fallback_order"\n      type: "custom"\n      config:\n'
        '        primary: "gpt-4-turbo"\n        fallback: ["claude-opus-4", "cohere-command-r-plus"]\n'
    )
    budget, model_rule, fallback = load_settings(path).parsed_policies()
    assert (budget.limit, budget.period, budget.teams, budget.enforcement) == (Decimal("10000.0"), "monthly", ["sales"], "BLOCKED")
    assert budget.thresholds == [0.8, 1.0]
    assert (model_rule.blocked, model_rule.environment) == (["gpt-4"], "development")
    assert fallback.config.fallback == ["claude-opus-4", "cohere-command-r-plus"]
