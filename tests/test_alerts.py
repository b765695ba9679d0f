"""Budget alerts end to end: the real OpenAI SDK against the stand-in provider, the policy engine
claiming threshold crossings in the store, and the alerts delivered to a real SMTP server
(aiosmtpd) and a local HTTP server standing in for Slack's incoming webhook and a generic webhook."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from alert_servers import HookServer, SmtpServer, closed_port
from ledger_backends import make_event

from genops import GenOps, PolicyViolationError
from genops.config_loader import load_settings
from genops.errors import ConfigError

TEAM_A = Path(__file__).parent / "fixtures" / "casestudy" / "team_a.yaml"
SLACK_PATH = "/services/T0GENOPS/B0ALERTS/abcdefghijklmnopqrstuvwx"
MESSAGES = [{"role": "user", "content": "How do I reset my password?"}]
HOUSE_PRICING = {"overrides": [{"model": "house-model", "input_per_million": 1000, "output_per_million": 2000}]}


@pytest.fixture
def hooks() -> Iterator[HookServer]:
    server = HookServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(credentials=("genops-alerts", "s3cret-pw")).start()
    yield server
    server.stop()


@pytest.fixture
def client(server: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)


def chat(client: openai.OpenAI, customer: str, model: str = "gpt-4-turbo", **kwargs: Any) -> Any:
    with GenOps.track(operation="customer_support_query", customer_id=customer):
        return client.chat.completions.create(model=model, messages=MESSAGES, **kwargs)


def webhook(url: str, **extra: Any) -> dict[str, Any]:
    return {"name": extra.pop("name", "hook"), "type": "webhook", "url": url, **extra}


# -- the case study: team_a_budget (WARNING, $10,000 monthly) --------------------------------------

TEAM_A_ALERTS = """
  alerts:
    retry_backoff_seconds: 0.05
    channels:
      - name: ai-cost-alerts
        type: slack
        webhook_url: "${SLACK_WEBHOOK_URL}"
      - name: team-a-leads
        type: email
        host: 127.0.0.1
        port: ${SMTP_PORT}
        username: genops-alerts
        password: "${SMTP_PASSWORD}"
        from: genops@techcorp.com
        to: [team-a-leads@techcorp.com, finance@techcorp.com]
"""


@pytest.fixture
def team_a(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, genops_runtime: Any, fake_clock: Any,
           hooks: HookServer, smtp: SmtpServer) -> Any:  # fmt: skip
    """The case study's Team A genops.yaml as written, plus an `alerts` section (secrets from the
    environment), with $7,100 of this month's support spend already in the ledger."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PINECONE_API_KEY", "pc-test")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", hooks.url(SLACK_PATH))
    monkeypatch.setenv("SMTP_PORT", str(smtp.port))
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-pw")
    config = tmp_path / "genops.yaml"
    config.write_text(TEAM_A.read_text() + TEAM_A_ALERTS)
    settings = load_settings(config)
    assert settings.alerts.channels[1].password == "s3cret-pw"
    rt = genops_runtime(**settings.model_dump(by_alias=True, exclude={"exporters", "storage", "source_path"}))
    now = fake_clock.now()
    rt.ledger.write([
        make_event("prior-1", now - timedelta(days=2), cost="4000", model="gpt-4o", customer_id="globex"),
        make_event("prior-2", now - timedelta(days=1), cost="3100", model="gpt-4-turbo", customer_id="acme"),
        make_event("other-team", now - timedelta(days=1), cost="5000", team="sales", model="gpt-4o"),
        make_event("last-month", now - timedelta(days=20), cost="9000", model="gpt-4o", customer_id="acme"),
    ])  # fmt: skip
    return rt


EMAIL_AT_80 = """\
Budget team_a_budget (WARNING) has reached 80% of its monthly limit.

Scope:       teams=[support]
Spent:       $8,100.00 of $10,000.00 (81.00%)
Remaining:   $1,900.00
Period ends: 2026-04-01 00:00 UTC
Enforcement: WARNING: calls continue; spend past the limit is recorded, not refused.

Top models this period:
  - gpt-4-turbo: $4,100.00 (3 requests)
  - gpt-4o: $4,000.00 (1 request)

Top customers this period:
  - globex: $4,000.00 (1 request)
  - acme: $3,600.00 (2 requests)
  - initech: $500.00 (1 request)

Sent by GenOps for customer-support-chatbot (production). Run `genops budget status` for live figures.
"""

SLACK_AT_80 = {
    "text": "GenOps budget alert: team_a_budget at 80% (teams=[support]: $8,100.00 of $10,000.00)",
    "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "GenOps budget alert: team_a_budget at 80%"}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": "Budget team_a_budget (WARNING) has reached 80% of its monthly limit."}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": "*Scope*\nteams=[support]"},
            {"type": "mrkdwn", "text": "*Spent*\n$8,100.00 of $10,000.00 (81.00%)"},
            {"type": "mrkdwn", "text": "*Remaining*\n$1,900.00"},
            {"type": "mrkdwn", "text": "*Period ends*\n2026-04-01 00:00 UTC"},
            {"type": "mrkdwn", "text": "*Enforcement*\nWARNING: calls continue; spend past the limit is recorded, not refused."},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "*Top models this period*\n• gpt-4-turbo: $4,100.00 (3 requests)\n• gpt-4o: $4,000.00 (1 request)"}},
        {"type": "section", "text": {"type": "mrkdwn", "text":
            "*Top customers this period*\n• globex: $4,000.00 (1 request)\n• acme: $3,600.00 (2 requests)\n"
            "• initech: $500.00 (1 request)"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text":
            "GenOps · customer-support-chatbot · production · `genops budget status` for live figures"}]},
    ],
}  # fmt: skip


def test_team_a_budget_warns_once_at_80_and_once_at_100_percent(team_a: Any, client: Any, server: Any,
                                                                  hooks: HookServer, smtp: SmtpServer) -> None:  # fmt: skip
    # Each call: 20M input + 10M output tokens of gpt-4-turbo ($10 / $30 per million) = $500.
    server.set_usage(model="gpt-4-turbo", input_tokens=20_000_000, output_tokens=10_000_000)
    for customer in ("acme", "initech"):  # $7,600, then $8,100: 80% crossed by the second call
        assert chat(client, customer).choices[0].message.content
    team_a.flush()

    [slack] = hooks.delivered(SLACK_PATH)
    assert slack == SLACK_AT_80
    [mail] = smtp.mails
    assert (mail.mail_from, mail.rcpt_tos, mail.login) == (
        "genops@techcorp.com", ["team-a-leads@techcorp.com", "finance@techcorp.com"], "genops-alerts")
    assert mail.message["Subject"] == "GenOps budget alert: team_a_budget at 80% (teams=[support]: $8,100.00 of $10,000.00)"
    assert (mail.message["From"], mail.message["To"]) == ("genops@techcorp.com", "team-a-leads@techcorp.com, finance@techcorp.com")
    assert body_of(mail) == EMAIL_AT_80

    # More calls go through: no new message until 100% ($10,100 after the sixth call), none after it.
    for customer in ("acme", "acme", "globex", "initech"):
        assert chat(client, customer).choices[0].message.content
    team_a.flush()  # the 100% alert is read and sent before the next call (its figures are exact)
    assert chat(client, "acme").choices[0].message.content
    team_a.flush()
    assert len(server.requests_for("/chat/completions")) == 7  # WARNING never refused a call
    slacks = hooks.delivered(SLACK_PATH)
    assert len(slacks) == 2 and len(smtp.mails) == 2
    assert slacks[1]["text"] == "GenOps budget alert: team_a_budget at 100% (teams=[support]: $10,100.00 of $10,000.00)"
    assert slacks[1]["blocks"][1]["text"]["text"] == "Budget team_a_budget (WARNING) has reached its monthly limit."
    body = body_of(smtp.mails[1])
    assert "Spent:       $10,100.00 of $10,000.00 (101.00%)\nRemaining:   $0.00\n" in body
    assert "  - gpt-4-turbo: $6,100.00 (7 requests)\n  - gpt-4o: $4,000.00 (1 request)\n" in body
    assert "  - acme: $4,600.00 (4 requests)\n  - globex: $4,500.00 (2 requests)\n  - initech: $1,000.00 (2 requests)\n" in body
    assert team_a.alerts.stats.sent == 4 and team_a.alerts.stats.failed == 0

    # The calls carried the budget's decisions into the ledger; the period spend is exact.
    [row] = team_a.ledger.spend(*_march(), [], {"team": "support"})
    assert row.cost_usd == Decimal(10600)


def body_of(mail: Any) -> str:
    return mail.message.get_content().replace("\r\n", "\n")  # SMTP carries CRLF line ends


def _march() -> tuple[Any, Any]:
    from datetime import datetime

    return datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


# -- delivery happens off the calling thread ------------------------------------------------------


def test_the_call_returns_while_the_alert_is_still_being_delivered(genops_runtime: Any, fake_clock: Any,
                                                                   client: Any, server: Any, hooks: HookServer) -> None:  # fmt: skip
    rt = genops_runtime(
        attribution={"team": "support"},
        pricing=HOUSE_PRICING,
        policies=[{"name": "cap", "type": "budget", "limit": "0.01", "teams": ["support"], "thresholds": [0.5]}],
        alerts={"channels": [webhook(hooks.url("/genops"))]},
    )
    server.set_usage(model="house-model", input_tokens=5, output_tokens=1)  # $0.007: 70%
    hooks.hold()  # the webhook receives the alert but does not answer until released
    assert chat(client, "acme", model="house-model").choices[0].message.content
    # The call is back; the alert is in flight (or still queued): nothing was answered yet.
    assert hooks.answered == 0
    assert rt.alerts.flush(timeout=0.01) is False  # still pending while the webhook holds it
    hooks.release()
    rt.flush()
    [payload] = hooks.delivered("/genops")
    assert (payload["spent_usd"], payload["percent"], payload["threshold_percent"]) == ("0.007", "70.00", "50")


# -- channels that are down -----------------------------------------------------------------------


def test_a_channel_that_is_down_is_retried_logged_and_never_fails_the_call(
    genops_runtime: Any, fake_clock: Any, client: Any, server: Any, hooks: HookServer, smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    rt = genops_runtime(
        attribution={"team": "support"},
        pricing=HOUSE_PRICING,
        policies=[{"name": "cap", "type": "budget", "limit": "0.01", "teams": ["support"], "thresholds": [0.5]}],
        alerts={"retry_attempts": 3, "retry_backoff_seconds": 0, "channels": [
            {"name": "slack-down", "type": "slack", "webhook_url": f"http://127.0.0.1:{closed_port()}{SLACK_PATH}"},
            {"name": "smtp-refusing", "type": "email", "host": "127.0.0.1", "port": smtp.port,
             "from": "genops@techcorp.com", "to": ["oncall@techcorp.com"]},
            webhook(hooks.url("/flaky"), name="flaky-hook"),
        ]},
    )  # fmt: skip
    smtp.refuse_next(3)  # every attempt refused
    hooks.fail_next(503, 502)  # the third attempt gets through
    server.set_usage(model="house-model", input_tokens=5, output_tokens=1)
    with caplog.at_level(logging.INFO, logger="genops.alerts"):
        response = chat(client, "acme", model="house-model")
        rt.flush()
    assert response.choices[0].message.content  # the user's call succeeded
    assert smtp.data_attempts == 3 and smtp.mails == []
    assert [h.status for h in hooks.received("/flaky")] == [503, 502, 200]
    assert hooks.delivered("/flaky")[0]["policy"] == "cap"
    stats = rt.alerts.stats
    assert (stats.sent, stats.failed, stats.retried) == (1, 2, 6)

    records = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "genops.alerts"]
    retries = [m for level, m in records if level == "WARNING" and "retrying" in m]
    assert sum("'slack-down' failed (attempt" in m for m in retries) == 2
    assert sum("'smtp-refusing' failed (attempt" in m for m in retries) == 2
    assert sum("'flaky-hook' failed (attempt" in m for m in retries) == 2
    errors = [m for level, m in records if level == "ERROR"]
    assert len(errors) == 2
    assert errors_about(errors, "slack-down") == (
        "GenOps alert to slack channel 'slack-down' not delivered after 3 attempts: Slack webhook unreachable: "
        "ConnectionRefusedError: [Errno 111] Connection refused (alert: GenOps budget alert: cap at 50% "
        "(teams=[support]: $0.007 of $0.01))"
    )
    assert "SMTPDataError 554 5.3.0 mail system unavailable (test)" in errors_about(errors, "smtp-refusing")
    assert not any(SLACK_PATH in m for _, m in records)  # the webhook URL (a secret) is never logged


def errors_about(errors: list[str], channel: str) -> str:
    [message] = [m for m in errors if f"'{channel}'" in m]
    return message


# -- a per-customer BLOCKED budget, filters and the webhook payload ------------------------------


def test_blocked_per_customer_budget_alerts_with_exact_payload_and_channel_filters(
    genops_runtime: Any, fake_clock: Any, client: Any, server: Any, hooks: HookServer, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("HOOK_TOKEN", "t0ken")
    rt = genops_runtime(
        service_name="chatbot",
        attribution={"team": "support"},
        pricing=HOUSE_PRICING,
        policies=[{"name": "customer_cap", "type": "budget", "limit": "0.10", "period": "daily",
                   "timezone": "Europe/Berlin", "teams": ["support"], "per": "customer", "enforcement": "BLOCKED",
                   "thresholds": [0.5, 0.9]}],
        alerts={"channels": [
            webhook(hooks.url("/finance"), name="finance", policies=["customer_cap"],
                    headers={"Authorization": "Bearer t0ken"}),
            webhook(hooks.url("/sales"), name="sales-only", teams=["sales"]),
            webhook(hooks.url("/other"), name="other-policy", policies=["team_a_budget"]),
        ]},
    )  # fmt: skip
    # $0.025 input + $0.02 output = $0.045 per call; a call's worst case (reserved before it) is $0.053.
    server.set_usage(model="house-model", input_tokens=25, output_tokens=10)
    chat(client, "globex", model="house-model", max_tokens=10)
    chat(client, "acme", model="house-model", max_tokens=10)  # acme: $0.045 (45%)
    chat(client, "acme", model="house-model", max_tokens=10)  # acme: $0.09: crosses 50% and 90% at once
    with pytest.raises(PolicyViolationError) as refused:
        chat(client, "acme", model="house-model", max_tokens=10)  # $0.09 + $0.053 would pass the limit
    assert refused.value.reason == "BUDGET_EXCEEDED"
    rt.flush()

    assert hooks.received("/sales") == [] and hooks.received("/other") == []
    first, second = hooks.received("/finance")
    assert first.headers["Authorization"] == "Bearer t0ken"
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.body == {
        "type": "genops.budget.threshold",
        "version": 1,
        "policy": "customer_cap",
        "enforcement": "BLOCKED",
        "scope": "customer=acme (teams=[support])",
        "team": "support",
        "project": None,
        "customer_id": "acme",
        "threshold": "0.5",
        "threshold_percent": "50",
        "spent_usd": "0.09",
        "limit_usd": "0.10",
        "remaining_usd": "0.01",
        "percent": "90.00",
        "exceeded": False,
        "period": "daily",
        "period_start": "2026-03-09T23:00:00+00:00",  # midnight in Berlin (UTC+1 in March)
        "period_end": "2026-03-10T23:00:00+00:00",
        "timezone": "Europe/Berlin",
        "top_models": [{"model": "house-model", "cost_usd": "0.09", "requests": 2}],
        "top_customers": [{"customer_id": "acme", "cost_usd": "0.09", "requests": 2}],  # globex is not in scope
        "drivers_complete": True,
        "service": "chatbot",
        "environment": "development",
        "text": "GenOps budget alert: customer_cap at 50% (customer=acme (teams=[support]): $0.09 of $0.10)",
    }
    assert (second.body["threshold"], second.body["threshold_percent"]) == ("0.9", "90")
    assert {k: v for k, v in second.body.items() if not k.startswith("threshold") and k != "text"} == {
        k: v for k, v in first.body.items() if not k.startswith("threshold") and k != "text"}


# -- one message per threshold across processes ----------------------------------------------------

CHILD = """
import sys
sys.path.insert(0, {tests!r})
from test_alerts import run_child
run_child({ledger!r}, {base_url!r}, {hook_url!r}, {go!r}, calls=30, threads=2)
"""


def run_child(ledger_url: str, base_url: str, hook_url: str, go_file: str, calls: int, threads: int) -> None:
    """A separate process calling through the same budget (SQLite store shared with its sibling)."""
    import time

    from genops._runtime import start_runtime, stop_runtime
    from genops.config import Settings

    start_runtime(Settings.model_validate({
        "service_name": f"worker-{os.getpid()}",
        "storage": {"url": ledger_url},
        "exporters": [{"type": "none"}],
        "attribution": {"team": "support"},
        "policies": [{"name": "shared_budget", "type": "budget", "limit": "1.00", "teams": ["support"]}],
        "alerts": {"channels": [webhook(hook_url)]},
    }))  # fmt: skip
    client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
    deadline = time.monotonic() + 60
    while not os.path.exists(go_file) and time.monotonic() < deadline:  # start together with the sibling
        time.sleep(0.01)

    def work() -> None:
        for _ in range(calls):
            client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop_runtime()  # delivers pending alerts


def test_two_processes_crossing_the_same_thresholds_send_one_message_each(tmp_path: Path, server: Any,
                                                                           hooks: HookServer) -> None:  # fmt: skip
    server.set_usage(model="gpt-4-turbo", input_tokens=700, output_tokens=100)  # $0.007 + $0.003 = $0.01 per call
    ledger = f"sqlite:///{tmp_path}/ledger.db"
    go = tmp_path / "go"
    script = CHILD.format(tests=str(Path(__file__).parent), ledger=ledger, base_url=server.openai_base_url,
                          hook_url=hooks.url("/genops"), go=str(go))  # fmt: skip
    env = {**os.environ, "GENOPS_STRICT": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    # 2 processes x 2 threads x 30 calls x $0.01 = $1.20 against a $1.00 WARNING budget.
    assert len(server.requests_for("/chat/completions")) == 120
    payloads = hooks.delivered("/genops")
    assert sorted((p["threshold"], p["spent_usd"]) for p in payloads) == [("0.8", "0.80"), ("1.0", "1.00")]
    for p in payloads:  # read from the ledger after the crossing: at least the spend that crossed
        [top] = p["top_models"]
        assert top["model"] == "gpt-4-turbo" and Decimal(top["cost_usd"]) >= Decimal(p["spent_usd"])
        assert p["drivers_complete"] is True
    assert len(hooks.received("/genops")) == 2  # one message per threshold, not one per process


# -- configuration ---------------------------------------------------------------------------------


def test_alerts_section_is_validated_with_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PASSWORD", "hunter2-secret")
    path = tmp_path / "genops.yaml"
    path.write_text(
        "genops:\n"
        "  alerts:\n"
        "    channels:\n"
        "      - name: slack\n"
        "        type: slack\n"
        "        webhok_url: https://hooks.example/x\n"  # line 6
        "      - name: mail\n"
        "        type: email\n"
        "        host: smtp.example\n"
        "        form: genops@example.com\n"  # line 10
        "        to: finance@example.com\n"
        "        password: ${SMTP_PASSWORD}\n"
        "        ssl: true\n"
        "        starttls: true\n"
        "      - name: pager\n"
        "        type: pagerduty\n"  # line 16
        "    retry_attempts: 0\n"  # line 17
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    lines = str(info.value).splitlines()
    assert f"{path}:6: genops.alerts.channels[0].webhok_url: unknown key 'webhok_url'; did you mean 'webhook_url'?" in lines
    assert f"{path}:10: genops.alerts.channels[1].form: unknown key 'form'; did you mean 'from'?" in lines
    assert f"{path}:16: genops.alerts.channels[2].type: unknown type 'pagerduty'; allowed: slack, email, webhook" in lines
    assert f"{path}:17: genops.alerts.retry_attempts: Input should be greater than or equal to 1 (got 0)" in lines
    assert "hunter2-secret" not in str(info.value)

    path.write_text(
        "genops:\n  alerts:\n    channels:\n      - name: mail\n        type: email\n        host: smtp.example\n"
        "        from: genops@example.com\n        to: finance@example.com\n        ssl: true\n        starttls: true\n"
    )
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "genops.alerts.channels[0]: use either ssl (implicit TLS, usually port 465) or starttls" in str(info.value)


def test_valid_alerts_section_and_no_channels_means_no_manager(tmp_path: Path, genops_runtime: Any) -> None:
    path = tmp_path / "genops.yaml"
    path.write_text(
        "genops:\n  alerts:\n    channels:\n      - name: mail\n        type: email\n        host: smtp.example\n"
        "        starttls: true\n        from: genops@example.com\n        to: finance@example.com\n        teams: support\n"
    )
    [mail] = load_settings(path).alerts.channels
    assert (mail.sender, mail.to, mail.teams, mail.effective_port) == ("genops@example.com", ["finance@example.com"], ["support"], 587)
    assert genops_runtime().alerts is None
