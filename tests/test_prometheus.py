"""Prometheus and Grafana: a real Prometheus (Debian's package) scrapes a process making governed
calls (the real OpenAI SDK against the stand-in provider), and PromQL returns the per-team cost
the ledger holds. The generated alert rules pass `promtool check rules`, load into that
Prometheus, and fire at exactly their thresholds under `promtool test rules`; the Grafana
dashboard reads only the names the exporter serves."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from genops.cli import app
from genops.config import Settings
from genops.dashboards import plan_from_settings
from genops.dashboards import prom_names as pn
from genops.dashboards.grafana import as_plain_promql, dashboard, grafana_expressions
from genops.dashboards.prom_rules import alert_rules, render_rules, rule_expressions
from genops.ledger import open_ledger

pytest.importorskip("opentelemetry.exporter.prometheus", reason="the [prometheus] extra is not installed")


def _tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not installed (.ci/run installs Debian's prometheus package)")
        pytest.skip(f"{name} is not installed (apt-get install prometheus)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


# The case study's three budgets, plus a BLOCKED per-team budget over two teams.
PLAN = plan_from_settings([Settings.model_validate({"policies": [
    {"name": "team_a_budget", "type": "budget", "limit": 10000, "teams": ["support"]},
    {"name": "team_c_budget", "type": "budget", "limit": 10000, "teams": ["sales"], "enforcement": "BLOCKED"},
    {"name": "per_team", "type": "budget", "limit": 50, "teams": ["knowledge", "sales"], "per": "team",
     "period": "daily", "enforcement": "BLOCKED", "models": ["gpt-4*"]},
]})])


@pytest.fixture
def rules_file(tmp_path: Path) -> Path:
    path = tmp_path / "genops-alerts.yml"
    path.write_text(render_rules(alert_rules(PLAN)))
    return path


# -- the names ------------------------------------------------------------------------------------


def test_prometheus_names_follow_the_otel_translation() -> None:
    assert (pn.COST, pn.TOKENS_INPUT, pn.TOKENS_OUTPUT, pn.REQUESTS, pn.LATENCY, pn.COST_PER_REQUEST) == (
        "genops_cost_USD_total", "genops_tokens_input_total", "genops_tokens_output_total", "genops_requests_total",
        "genops_latency_milliseconds", "genops_cost_per_request_USD")
    assert pn.matchers((("team", ("support",)), ("model", ("gpt-4*", "o1")))) == (
        '{team="support",model=~"gpt\\\\-4.*|o1"}')
    assert pn.matchers((("team", ("a", "b")),), ['status!="blocked"']) == '{status!="blocked",team=~"a|b"}'
    assert pn.metrics_in_promql('sum(rate(genops_x_total{team="genops_not_a_metric"}[5m])) / gen_ai_y') == {
        "genops_x_total", "gen_ai_y"}


def test_promtool_accepts_the_generated_rules(rules_file: Path) -> None:
    result = subprocess.run([_tool("promtool"), "check", "rules", str(rules_file)], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 7 rules found" in result.stdout


def test_generated_rules_fire_at_exactly_their_thresholds(rules_file: Path, tmp_path: Path) -> None:
    """`promtool test rules`: spend of $500/hour crosses 80% of $10000 after 17 hours (not 16),
    100% after 21; latency + cost fires only for the team with both above the limits."""
    rules = alert_rules(PLAN)
    by_name = {(r["alert"], r["labels"].get("policy"), r["labels"].get("threshold")): r
               for g in rules["groups"] for r in g["rules"]}

    def expected(alert: str, policy: str | None, threshold: str | None, value: str, **labels: str) -> dict[str, Any]:
        rule = by_name[(alert, policy, threshold)]
        annotations = {k: v.replace('{{ $value | printf "%.2f" }}', value).replace("{{ $labels.team }}",
                                                                                    labels.get("team", ""))
                       for k, v in rule["annotations"].items()}
        return {"exp_labels": {**rule["labels"], **labels}, "exp_annotations": annotations}

    cost = pn.COST
    tests = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1h",
                "input_series": [
                    {"series": f'{cost}{{team="support",model="o1"}}', "values": "0+500x24"},
                    {"series": f'{cost}{{team="sales",model="o1"}}', "values": "0+500x24"},
                ],
                "alert_rule_test": [
                    {"eval_time": "16h", "alertname": "GenOpsBudgetThreshold", "exp_alerts": []},
                    {"eval_time": "17h", "alertname": "GenOpsBudgetThreshold", "exp_alerts": [
                        expected("GenOpsBudgetThreshold", "team_a_budget", "80%", "8500.00"),
                        expected("GenOpsBudgetThreshold", "team_c_budget", "80%", "8500.00"),
                    ]},
                    {"eval_time": "20h", "alertname": "GenOpsBudgetHardLimit", "exp_alerts": []},
                    {"eval_time": "21h", "alertname": "GenOpsBudgetHardLimit", "exp_alerts": [
                        expected("GenOpsBudgetHardLimit", "team_c_budget", "100%", "10500.00"),
                    ]},
                    {"eval_time": "21h", "alertname": "GenOpsBudgetThreshold", "exp_alerts": [
                        expected("GenOpsBudgetThreshold", "team_a_budget", "80%", "10500.00"),
                        expected("GenOpsBudgetThreshold", "team_a_budget", "100%", "10500.00"),
                        expected("GenOpsBudgetThreshold", "team_c_budget", "80%", "10500.00"),
                    ]},
                ],
            },
            {   # per-team daily budget of $50 over gpt-4* models: only sales' gpt-4 spend counts
                "interval": "1h",
                "input_series": [
                    {"series": f'{cost}{{team="sales",model="gpt-4-turbo"}}', "values": "0+10x10"},
                    {"series": f'{cost}{{team="sales",model="gpt-3.5-turbo"}}', "values": "0+10x10"},
                    {"series": f'{cost}{{team="knowledge",model="claude-opus-4"}}', "values": "0+100x10"},
                    {"series": f'{cost}{{team="support",model="gpt-4o"}}', "values": "0+100x10"},
                ],
                "alert_rule_test": [
                    {"eval_time": "4h", "alertname": "GenOpsBudgetThreshold", "exp_alerts": []},
                    {"eval_time": "5h", "alertname": "GenOpsBudgetThreshold", "exp_alerts": [
                        expected("GenOpsBudgetThreshold", "per_team", "80%", "50.00", team="sales"),
                    ]},
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    {"series": f'{pn.LATENCY}_sum{{team="support"}}', "values": "0+360000x60"},
                    {"series": f'{pn.LATENCY}_count{{team="support"}}', "values": "0+60x60"},
                    {"series": f'{cost}{{team="support"}}', "values": "0+3x60"},
                    {"series": f'{pn.LATENCY}_sum{{team="knowledge"}}', "values": "0+360000x60"},
                    {"series": f'{pn.LATENCY}_count{{team="knowledge"}}', "values": "0+60x60"},
                    {"series": f'{cost}{{team="knowledge"}}', "values": "0+1x60"},
                    {"series": f'{pn.LATENCY}_sum{{team="sales"}}', "values": "0+60000x60"},
                    {"series": f'{pn.LATENCY}_count{{team="sales"}}', "values": "0+60x60"},
                    {"series": f'{cost}{{team="sales"}}', "values": "0+3x60"},
                ],
                "alert_rule_test": [
                    {"eval_time": "60m", "alertname": "GenOpsHighLatencyHighCost", "exp_alerts": [
                        expected("GenOpsHighLatencyHighCost", None, None, "", team="support"),
                    ]},
                ],
            },
        ],
    }
    per_team = tests["tests"][1]["alert_rule_test"][1]["exp_alerts"][0]
    assert per_team["exp_annotations"]["summary"] == "sales (per_team): 80% of the daily budget spent"
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([_tool("promtool"), "test", "rules", str(test_file)], capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


# -- a real scrape -------------------------------------------------------------------------------

CHILD = """
import json, sys
import openai
from genops import GenOps

runtime = GenOps.init(sys.argv[1])
client = openai.OpenAI(base_url=sys.argv[2], api_key="test")
for team, customers in (("support", ["acme", "globex", "acme"]), ("sales", ["initech", "acme"])):
    for customer in customers:
        with GenOps.track(operation="question", team=team, project="p-" + team, customer_id=customer):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
GenOps.flush()
print(json.dumps({"port": runtime.telemetry.prometheus_port}), flush=True)
sys.stdin.read()  # serve /metrics until the test closes stdin
GenOps.shutdown()
"""


@pytest.fixture
def governed_process(tmp_path: Path, server: Any) -> Iterator[dict[str, Any]]:
    """A separate process that made 5 governed calls and serves its metrics for Prometheus."""
    server.set_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    ledger_url = f"sqlite:///{tmp_path}/ledger.db"
    config = tmp_path / "genops.yaml"
    config.write_text(yaml.safe_dump({"genops": {
        "service_name": "prometheus-test", "environment": "production",
        "exporters": [{"type": "prometheus", "port": 0}], "storage": {"url": ledger_url},
        # only the OpenAI SDK is used: skip importing the other integrations' libraries
        "providers": {name: {"auto_instrument": False} for name in ("anthropic", "cohere", "litellm", "llamaindex")},
    }}))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "GENOPS_PROMETHEUS_HOST": "127.0.0.1"}
    env.pop("GENOPS_CONFIG", None)
    proc = subprocess.Popen([sys.executable, str(script), str(config), server.openai_base_url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line:
            proc.kill()
            pytest.fail(f"governed process exited: {proc.communicate(timeout=30)[1]}")
        yield {"port": json.loads(line)["port"], "ledger": ledger_url}
    finally:
        if proc.stdin:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def prometheus(tmp_path: Path, governed_process: dict[str, Any], rules_file: Path) -> Iterator[str]:
    """A real Prometheus scraping the governed process every second, with the generated rules loaded."""
    binary = _tool("prometheus")
    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_file)],
        "scrape_configs": [{"job_name": "genops",
                            "static_configs": [{"targets": [f"127.0.0.1:{governed_process['port']}"]}]}],
    }))
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _query(base: str, promql: str) -> Any:
    return _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")


def _wait_for(what: str, check: Any, base: str, tmp_path: Path, timeout: float = 60.0) -> Any:
    """Poll `check()` until it returns something truthy (bounded); fail with Prometheus' log."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:  # not listening yet
            last = exc
        time.sleep(0.2)
    pytest.fail(f"{what} within {timeout}s (last: {last}); prometheus log:\n{(tmp_path / 'prometheus.log').read_text()}")


def test_real_prometheus_returns_the_per_team_cost_of_governed_calls(
    prometheus: str, governed_process: dict[str, Any], tmp_path: Path
) -> None:
    def by_team(promql: str) -> dict[str, str] | None:
        result = _query(prometheus, promql)["data"]["result"]
        values = {r["metric"].get("team"): r["value"][1] for r in result}
        return values if set(values) == {"support", "sales"} else None

    cost = _wait_for("a scrape with both teams", lambda: by_team(f"sum by (team) ({pn.COST})"), prometheus, tmp_path)

    # 1000 input x $0.15/M + 500 output x $0.60/M = $0.00045 a call: 3 calls for support, 2 for sales.
    expected = {"support": Decimal("0.00135"), "sales": Decimal("0.0009")}
    with open_ledger(governed_process["ledger"]) as ledger:
        now = datetime.now(UTC)
        rows = ledger.spend(now - timedelta(days=1), now + timedelta(days=1), ["team"])
    assert {r.group["team"]: r.cost_usd for r in rows} == expected
    assert {team: Decimal(value).quantize(Decimal("1e-12")) for team, value in cost.items()} == expected

    assert by_team(f"sum by (team) ({pn.REQUESTS})") == {"support": "3", "sales": "2"}
    assert by_team(f"sum by (team) ({pn.TOKENS_INPUT})") == {"support": "3000", "sales": "2000"}
    assert by_team(f"sum by (team) ({pn.TOKENS_OUTPUT})") == {"support": "1500", "sales": "1000"}
    assert by_team(f"sum by (team) ({pn.LATENCY}_count)") == {"support": "3", "sales": "2"}
    customers = _query(prometheus, f'sum by (customer_id) ({pn.COST}{{team="support"}})')["data"]["result"]
    assert {r["metric"]["customer_id"]: Decimal(r["value"][1]).quantize(Decimal("1e-12")) for r in customers} == {
        "acme": Decimal("0.0009"), "globex": Decimal("0.00045")}

    # Every series name the generated dashboard and rules read is one this exporter serves.
    with urllib.request.urlopen(f"http://127.0.0.1:{governed_process['port']}/metrics", timeout=10) as response:
        served = {line.split("{")[0].split(" ")[0] for line in response.read().decode().splitlines()
                  if line and not line.startswith("#")}
    assert pn.series_names() <= served
    board = dashboard(PLAN)
    exprs = grafana_expressions(board) + rule_expressions(alert_rules(PLAN))
    read = set().union(*(pn.metrics_in_promql(e) for e in exprs))
    assert read and read <= served, read - served
    assert {pn.COST, pn.TOKENS_INPUT, pn.TOKENS_OUTPUT, f"{pn.REQUESTS}", f"{pn.LATENCY}_bucket"} <= read

    # Prometheus runs every dashboard query (Grafana variables filled in) without error.
    for expr in grafana_expressions(board):
        if expr.startswith("label_values("):
            continue
        answer = _query(prometheus, as_plain_promql(expr))
        assert answer["status"] == "success", (expr, answer)
    teams = _get(f"{prometheus}/api/v1/label/team/values")["data"]
    assert sorted(teams) == ["sales", "support"]

    # The generated rules are loaded and evaluate cleanly.
    def rules_evaluated() -> list[dict[str, Any]] | None:
        groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if rules and all(r["health"] == "ok" for r in rules) else None

    rules = _wait_for("the generated rules to evaluate", rules_evaluated, prometheus, tmp_path)
    assert len(rules) == 7
    assert all(r["state"] == "inactive" for r in rules)  # $0.00135 is far from any limit


def test_cli_writes_the_dashboard_and_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENOPS_CONFIG", raising=False)
    config = tmp_path / "genops.yaml"
    config.write_text(yaml.safe_dump({"genops": {"policies": [
        {"name": "team_c_budget", "type": "budget", "limit": 10000, "teams": ["sales"], "enforcement": "BLOCKED"}]}}))
    result = CliRunner().invoke(app, ["dashboards", "grafana", "--out", str(tmp_path / "out"), "--config", str(config),
                                      "--latency-ms", "2500", "--cost-usd", "12.5", "--window", "30m"])
    assert result.exit_code == 0, result.output
    board = json.loads((tmp_path / "out/grafana/genops-ai-costs.json").read_text())
    assert [p["title"] for p in board["panels"]] == [
        "Spend (selected range)", "Requests (selected range)", "Average cost per request",
        "Cost per team (USD per interval)", "Tokens per team (input / output)", "Requests per team (per second)",
        "Latency per team (ms)", "Top 10 customers by cost (selected range)",
        "Budget utilisation (% of limit, rolling window of the budget period)"]
    assert board["panels"][-1]["targets"][0]["expr"] == (
        '100 * sum(increase(genops_cost_USD_total{team="sales"}[30d])) / 10000')
    assert board["panels"][-1]["targets"][0]["legendFormat"] == "sales (30d)"
    rules = yaml.safe_load((tmp_path / "out/prometheus/genops-alerts.yml").read_text())
    assert [r["expr"] for g in rules["groups"] for r in g["rules"]] == [
        'sum(increase(genops_cost_USD_total{team="sales"}[30d])) > 8000',
        'sum(increase(genops_cost_USD_total{team="sales"}[30d])) > 10000',
        ("(sum by (team) (rate(genops_latency_milliseconds_sum[30m])) / "
         "sum by (team) (rate(genops_latency_milliseconds_count[30m])) > 2500) and on (team) "
         "(sum by (team) (increase(genops_cost_USD_total[30m])) > 12.5)"),
    ]
    bad = CliRunner().invoke(app, ["dashboards", "grafana", "--out", str(tmp_path / "x"), "--config", str(config),
                                   "--window", "an hour"])
    assert bad.exit_code == 2 and "--window: 'an hour' is not a Prometheus duration" in bad.output
