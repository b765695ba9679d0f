"""`genops dashboards datadog`: the case study's dashboards and monitors from genops.yaml, checked
with the datadog-api-client models, cross-checked against the metrics the SDK really emits, and
created through the real Datadog client against a local stand-in of the API."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from test_telemetry import make_event
from typer.testing import CliRunner

from genops.cli import app
from genops.config import Settings
from genops.dashboards import load_plan, plan_from_settings
from genops.dashboards.datadog import dashboard_queries, dashboards
from genops.dashboards.dd_monitors import MonitorSettings, monitor_refs, monitors
from genops.dashboards.dd_query import metrics_in_query, tag_keys_in_query
from genops.dashboards.dd_validate import DatadogBodyError, validate_dashboard, validate_monitor
from genops.events import Attribution, Cost, Usage
from genops.telemetry import Telemetry

pytest.importorskip("datadog_api_client")
from datadog_api_client.v1.model.dashboard import Dashboard
from datadog_api_client.v1.model.monitor import Monitor

CASE_STUDY = Path(__file__).parent / "fixtures" / "casestudy"
CONFIGS = [CASE_STUDY / f"team_{x}.yaml" for x in "abc"]


@pytest.fixture
def case_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("OPENAI_API_KEY", "PINECONE_API_KEY", "ANTHROPIC_API_KEY", "COHERE_API_KEY"):
        monkeypatch.setenv(var, "test-key")
    for var in ("DD_API_KEY", "DD_APP_KEY", "DD_SITE", "GENOPS_CONFIG"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def plan(case_env: None) -> Any:
    return load_plan(CONFIGS)


# -- what the SDK emits -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emitted() -> dict[str, set[str]]:
    """Metric name -> attribute keys, from real events run through Telemetry (in-memory reader)."""
    reader = InMemoryMetricReader()
    telemetry = Telemetry(Settings(exporters=[{"type": "none"}]), metric_readers=[reader])
    blocked = make_event(event_id="b1", status="blocked", cost_obj=Cost(total=None), usage=Usage())
    unpriced = make_event(event_id="u1", cost=None, model="mystery-model")
    other_team = make_event(event_id="k1", attribution=Attribution(
        team="knowledge", project="docs-search", customer_id="globex", environment="production", operation="docs_search"))
    try:
        telemetry.handle([(make_event(event_id="e1"), None), (blocked, None), (unpriced, None), (other_team, None)])
        data = reader.get_metrics_data()
    finally:
        telemetry.shutdown()
    found: dict[str, set[str]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                keys = found.setdefault(metric.name, set())
                for point in metric.data.data_points:
                    keys.update(point.attributes)
    return found


def _metric_queries(plan: Any) -> list[tuple[str, str]]:
    """(where, query) for every dashboard request and every metric monitor."""
    out = [(f"dashboard {stem}", q) for stem, body in dashboards(plan).items() for q in dashboard_queries(body)]
    out += [(f"monitor {key}", body["query"]) for key, body in monitors(plan).bodies.items()
            if body["type"] != "composite"]
    return out


def test_every_metric_and_tag_queried_is_one_the_sdk_emits(plan: Any, emitted: dict[str, set[str]]) -> None:
    queries = _metric_queries(plan)
    used: set[str] = set()
    for where, query in queries:
        names = metrics_in_query(query)
        assert names, f"{where}: no metric found in {query!r}"
        for name in names:
            assert name in emitted, f"{where}: {name} is not emitted by the SDK (emitted: {sorted(emitted)})"
            tags = tag_keys_in_query(query)
            assert tags <= emitted[name], f"{where}: {query!r} uses tags {tags - emitted[name]} not on {name}"
        used |= names
    # The dashboards and monitors read all of the case study's metrics.
    assert used == {"genops.cost.total", "genops.tokens.input", "genops.tokens.output", "genops.requests",
                    "genops.latency", "genops.cost.per_request"}


def test_the_cross_check_catches_a_name_the_sdk_does_not_emit(emitted: dict[str, set[str]]) -> None:
    query = "sum:genops.cost.totals{team:support} / sum:genops.requests{team:support,tier:gold}"
    assert metrics_in_query(query) == {"genops.cost.totals", "genops.requests"}
    assert "genops.cost.totals" not in emitted
    assert tag_keys_in_query(query) - emitted["genops.requests"] == {"tier"}
    assert tag_keys_in_query("sum:genops.cost.total{team IN (a,b) AND !model:x} by {customer_id, project}") == {
        "team", "model", "customer_id", "project"}


# -- the case study's dashboards ----------------------------------------------------------------


def test_plan_has_the_three_teams_and_their_budgets(plan: Any) -> None:
    assert plan.teams == ("support", "knowledge", "sales")
    assert [(b.name, b.limit, b.period, b.enforcement, b.teams) for b in plan.budgets] == [
        ("team_a_budget", Decimal("10000.0"), "monthly", "WARNING", ("support",)),
        ("team_b_budget", Decimal("10000.0"), "monthly", "WARNING", ("knowledge",)),
        ("team_c_budget", Decimal("10000.0"), "monthly", "BLOCKED", ("sales",)),
    ]


def _widgets(body: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    return [(w["definition"]["type"], w["definition"]["title"], [r["q"] for r in w["definition"]["requests"]])
            for w in body["widgets"]]


def test_team_dashboard_is_step_1_5_widget_for_widget(plan: Any) -> None:
    body = dashboards(plan)["team-support"]
    assert body["title"] == "Team support: AI Costs"
    assert _widgets(body) == [
        ("timeseries", "Daily AI Costs (USD)", ["sum:genops.cost.total{team:support}.rollup(sum, 86400)"]),
        ("query_value", "Month-to-Date Spend", ["sum:genops.cost.total{team:support}"]),
        ("toplist", "Top 10 Customers by AI Cost",
         ["top(sum:genops.cost.total{team:support} by {customer_id}, 10, 'sum', 'desc')"]),
        ("timeseries", "Tokens Used (Input vs Output)",
         ["sum:genops.tokens.input{team:support}", "sum:genops.tokens.output{team:support}"]),
        ("query_value", "Average Cost per Query",
         ["sum:genops.cost.total{team:support} / sum:genops.requests{team:support}"]),
    ]
    widgets = [w["definition"] for w in body["widgets"]]
    assert widgets[0]["requests"][0]["display_type"] == "bars"
    assert widgets[1]["requests"][0]["aggregator"] == "sum" and widgets[1]["time"] == {"live_span": "month_to_date"}
    assert widgets[4]["requests"][0]["aggregator"] == "avg"
    assert set(dashboards(plan)) == {"team-support", "team-knowledge", "team-sales", "all-teams"}
    assert _widgets(dashboards(plan)["team-sales"])[2][2] == [
        "top(sum:genops.cost.total{team:sales} by {customer_id}, 10, 'sum', 'desc')"]


def test_master_dashboard_is_the_case_studys_widget_for_widget(plan: Any) -> None:
    body = dashboards(plan, org="TechCorp")["all-teams"]
    assert body["title"] == "TechCorp AI Costs - All Teams"
    assert _widgets(body) == [
        ("timeseries", "Daily Costs by Team", ["sum:genops.cost.total{*} by {team}.rollup(sum, 86400)"]),
        ("query_value", "Total Monthly Spend", ["sum:genops.cost.total{*}.rollup(sum, 2592000)"]),
        ("sunburst", "Cost Breakdown (Team → Project → Provider)",
         ["sum:genops.cost.total{*} by {team, project, provider}"]),
        ("timeseries", "Budget Utilization by Team", [
            "sum:genops.cost.total{team:support}.rollup(sum, 2592000) / 10000 * 100",
            "sum:genops.cost.total{team:knowledge}.rollup(sum, 2592000) / 10000 * 100",
            "sum:genops.cost.total{team:sales}.rollup(sum, 2592000) / 10000 * 100",
        ]),
        ("toplist", "Most Expensive Operations", ["top(sum:genops.cost.total{*} by {operation}, 10, 'sum', 'desc')"]),
        ("query_table", "Model Usage Summary", [
            "sum:genops.cost.total{*} by {model}", "sum:genops.requests{*} by {model}",
            "avg:genops.cost.per_request{*} by {model}"]),
    ]
    utilisation = body["widgets"][3]["definition"]
    assert [r["metadata"][0]["alias_name"] for r in utilisation["requests"]] == ["support", "knowledge", "sales"]
    assert utilisation["yaxis"] == {"max": "100", "label": "Budget %"}
    assert utilisation["markers"] == [{"value": "y = 80", "display_type": "warning dashed"},
                                      {"value": "y = 100", "display_type": "error dashed"}]
    assert body["widgets"][1]["definition"]["custom_unit"] == "USD"


def test_dashboards_deserialize_with_the_datadog_models(plan: Any) -> None:
    from datadog_api_client.v1.model.sunburst_widget_definition import SunburstWidgetDefinition
    from datadog_api_client.v1.model.table_widget_definition import TableWidgetDefinition
    from datadog_api_client.v1.model.timeseries_widget_definition import TimeseriesWidgetDefinition

    for stem, body in dashboards(plan).items():
        model = validate_dashboard(body, stem)
        assert isinstance(model, Dashboard) and model.title == body["title"]
        assert len(model.widgets) == len(body["widgets"])
    master = validate_dashboard(dashboards(plan)["all-teams"])
    kinds = [type(w.definition.get_oneof_instance()) for w in master.widgets]
    assert kinds[2] is SunburstWidgetDefinition and kinds[3] is TimeseriesWidgetDefinition
    assert kinds[5] is TableWidgetDefinition
    assert master.widgets[3].definition.markers[0].value == "y = 80"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["widgets"][0]["definition"]["requests"][0].update(display_type="barz"), "matches no Datadog schema"),
        (lambda b: b["widgets"][0]["definition"]["requests"][0].update(colour="red"),
         "widgets[0].definition.requests[0].colour: unknown field for TimeseriesWidgetRequest"),
        (lambda b: b.update(layout_type="grid"), "layout_type: 'grid' is not one of: free, ordered"),
        (lambda b: b.pop("layout_type"), "layout_type"),
        (lambda b: b.update(refresh="1m"), "refresh: unknown field for Dashboard"),
    ],
)
def test_validation_rejects_what_the_api_would_not_take(plan: Any, change: Any, message: str) -> None:
    body = dashboards(plan)["team-support"]
    change(body)
    with pytest.raises(DatadogBodyError, match=r".*" + __import__("re").escape(message)):
        validate_dashboard(body, "team-support")


# -- monitors -----------------------------------------------------------------------------------


def test_monitors_are_the_case_studys_configured_alerts(plan: Any) -> None:
    generated = monitors(plan, MonitorSettings(notify=("@slack-ai-cost-alerts", "@team-leads")))
    bodies = generated.bodies
    assert generated.notes == []
    assert {k: (b["name"], b["query"]) for k, b in bodies.items()} == {
        "budget-team-a-budget-80": ("Team support: Budget Alert - 80% of Monthly Limit",
                                    "sum(current_1mo):sum:genops.cost.total{team:support}.as_count() > 8000"),
        "budget-team-a-budget-100": ("Team support: Budget Alert - 100% of Monthly Limit",
                                     "sum(current_1mo):sum:genops.cost.total{team:support}.as_count() > 10000"),
        "budget-team-b-budget-80": ("Team knowledge: Budget Alert - 80% of Monthly Limit",
                                    "sum(current_1mo):sum:genops.cost.total{team:knowledge}.as_count() > 8000"),
        "budget-team-b-budget-100": ("Team knowledge: Budget Alert - 100% of Monthly Limit",
                                     "sum(current_1mo):sum:genops.cost.total{team:knowledge}.as_count() > 10000"),
        "budget-team-c-budget-80": ("Team sales: Budget Alert - 80% of Monthly Limit",
                                    "sum(current_1mo):sum:genops.cost.total{team:sales}.as_count() > 8000"),
        "budget-team-c-budget-hard-limit": ("Team sales: Budget Hard Limit - 100% of Monthly Limit",
                                            "sum(current_1mo):sum:genops.cost.total{team:sales}.as_count() > 10000"),
        "cost-anomaly": ("AI Cost Anomaly by Team",
                         ("avg(last_4h):anomalies(sum:genops.cost.total{*} by {team}.as_count(), 'agile', 2, "
                          "direction='above', alert_window='last_15m', interval=60, count_default_zero='true') >= 1")),
        "high-latency": ("AI Latency High (avg > 5000 ms)", "avg(last_1h):avg:genops.latency{*} by {team} > 5000"),
        "high-cost": ("AI Cost High (> $100 over 1h)", "sum(last_1h):sum:genops.cost.total{*} by {team}.as_count() > 100"),
        "high-latency-high-cost": ("Expensive Slow AI Queries (High Latency + High Cost)",
                                   "${monitor:high-latency} && ${monitor:high-cost}"),
    }
    step_1_6 = bodies["budget-team-a-budget-80"]
    assert step_1_6["type"] == "metric alert" and step_1_6["priority"] == 2
    assert step_1_6["tags"] == ["team:support", "budget:alert", "policy:team-a-budget", "managed-by:genops"]
    assert step_1_6["options"]["thresholds"] == {"critical": 8000}
    assert step_1_6["options"]["scheduling_options"] == {
        "evaluation_window": {"month_starts": 1, "day_starts": "00:00", "timezone": "UTC"}}
    assert "$10000 per month (policy `team_a_budget`, WARNING)" in step_1_6["message"]
    assert "{{value}} USD" in step_1_6["message"]
    assert step_1_6["message"].endswith("@slack-ai-cost-alerts @team-leads")
    assert "dashboard/lists?q=Team%20support%3A%20AI%20Costs" in step_1_6["message"]
    hard = bodies["budget-team-c-budget-hard-limit"]
    assert hard["priority"] == 1 and hard["options"]["thresholds"] == {"critical": 10000}
    assert "budget:hard-limit" in hard["tags"] and "BLOCKED" in hard["message"]
    assert monitor_refs(bodies["high-latency-high-cost"]) == ["high-latency", "high-cost"]
    assert "@slack-ai-cost-alerts" not in bodies["high-latency"]["message"]  # parts are silent
    for key, body in bodies.items():
        assert isinstance(validate_monitor(body, key), Monitor)


def test_monitors_follow_other_budget_shapes(case_env: None) -> None:
    settings = Settings.model_validate({"policies": [
        {"name": "shared", "type": "budget", "limit": "2500.50", "teams": ["knowledge", "sales"], "per": "team",
         "period": "daily", "timezone": "Europe/Berlin", "thresholds": [0.5, 0.9], "enforcement": "BLOCKED"},
        {"name": "acme gpt-4", "type": "budget", "limit": 300, "customers": ["acme"], "models": ["gpt-4*"],
         "environments": ["production"], "period": "weekly"},
        {"name": "yearly", "type": "budget", "limit": 100000, "period": "yearly"},
    ], "attribution": {"team": "platform"}})
    plan = plan_from_settings([settings])
    assert plan.teams == ("knowledge", "sales", "platform")
    generated = monitors(plan)
    q = {k: b["query"] for k, b in generated.bodies.items()}
    assert q["budget-shared-50"] == (
        "sum(current_1d):sum:genops.cost.total{team IN (knowledge,sales)} by {team}.as_count() > 1250.25")
    assert q["budget-shared-90"] == (
        "sum(current_1d):sum:genops.cost.total{team IN (knowledge,sales)} by {team}.as_count() > 2250.45")
    assert q["budget-shared-hard-limit"].endswith("by {team}.as_count() > 2500.5")
    assert generated.bodies["budget-shared-90"]["options"]["thresholds"] == {"critical": 2250.45}
    assert generated.bodies["budget-shared-50"]["options"]["scheduling_options"] == {
        "evaluation_window": {"day_starts": "00:00", "timezone": "Europe/Berlin"}}
    assert generated.bodies["budget-shared-hard-limit"]["name"] == "shared ({{team.name}}): Budget Hard Limit - 100% of Daily Limit"
    assert q["budget-acme-gpt-4-80"] == (
        "sum(last_1w):sum:genops.cost.total{customer_id:acme,environment:production,model:gpt-4*}.as_count() > 240")
    assert "scheduling_options" not in generated.bodies["budget-acme-gpt-4-80"]["options"]
    assert not any(k.startswith("budget-yearly") for k in q)
    assert generated.notes == [
        ("budget 'yearly' is yearly: Datadog metric monitors evaluate at most one month, so it has no monitor "
         "(GenOps still enforces it; the Prometheus rules and `genops budget status` cover it)")]
    master = dashboards(plan)["all-teams"]
    utilisation = master["widgets"][3]["definition"]["requests"]
    assert [r["q"] for r in utilisation] == [
        "sum:genops.cost.total{team IN (knowledge,sales)} by {team}.rollup(sum, 86400) / 2500.5 * 100",
        "sum:genops.cost.total{customer_id:acme,environment:production,model:gpt-4*}.rollup(sum, 604800) / 300 * 100",
        "sum:genops.cost.total{*}.rollup(sum, 31536000) / 100000 * 100",
    ]
    for key, body in generated.bodies.items():
        validate_monitor(body, key)
    validate_dashboard(master)


def test_the_same_budget_name_with_different_limits_is_a_config_error(case_env: None, tmp_path: Path) -> None:
    from genops.errors import ConfigError

    a = Settings.model_validate({"policies": [{"name": "b", "type": "budget", "limit": 10}]})
    b = Settings.model_validate({"policies": [{"name": "b", "type": "budget", "limit": 20}]})
    with pytest.raises(ConfigError, match="budget policy 'b' differs"):
        plan_from_settings([a, b])
    assert len(plan_from_settings([a, a]).budgets) == 1


# -- CLI and --push -----------------------------------------------------------------------------


def _cli(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)


def _config_args() -> list[str]:
    return [arg for path in CONFIGS for arg in ("--config", str(path))]


def test_cli_writes_checked_files(case_env: None, plan: Any, tmp_path: Path) -> None:
    result = _cli("dashboards", "datadog", "--out", str(tmp_path), *_config_args(), "--notify", "@slack-ai-cost-alerts")
    assert result.exit_code == 0, result.output
    assert "4 dashboards and 10 monitors" in result.output
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert written == sorted(
        [f"datadog/dashboards/{s}.json" for s in ("team-support", "team-knowledge", "team-sales", "all-teams")]
        + [f"datadog/monitors/{k}.json" for k in monitors(plan).bodies]
    )
    on_disk = json.loads((tmp_path / "datadog/dashboards/team-knowledge.json").read_text())
    assert on_disk == dashboards(plan)["team-knowledge"]
    monitor = json.loads((tmp_path / "datadog/monitors/budget-team-c-budget-80.json").read_text())
    assert monitor["message"].endswith("@slack-ai-cost-alerts")


class _DatadogStandIn(ThreadingHTTPServer):
    """Answers POST /api/v1/dashboard and /api/v1/monitor like the API; records each request."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.refuse: tuple[int, str] | None = None
        super().__init__(("127.0.0.1", 0), _DatadogHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _DatadogHandler(BaseHTTPRequestHandler):
    server: _DatadogStandIn

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw)
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        n = len(self.server.requests)
        if self.server.refuse:
            status, reply = self.server.refuse[0], {"errors": [self.server.refuse[1]]}
        elif self.path == "/api/v1/dashboard":
            status, reply = 200, {**body, "id": f"abc-def-{n:03d}", "url": f"/dashboard/abc-def-{n:03d}/x"}
        elif self.path == "/api/v1/monitor":
            status, reply = 200, {**body, "id": 1000 + n}
        else:
            status, reply = 404, {"errors": ["Not found"]}
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def datadog_api() -> Iterator[_DatadogStandIn]:
    server = _DatadogStandIn()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_push_creates_dashboards_then_monitors_through_the_api(
    case_env: None, plan: Any, tmp_path: Path, datadog_api: _DatadogStandIn
) -> None:
    env = {"DD_API_KEY": "api-123", "DD_APP_KEY": "app-456"}
    result = _cli("dashboards", "datadog", "--out", str(tmp_path), *_config_args(), "--push",
                  "--api-url", datadog_api.url, env=env)
    assert result.exit_code == 0, result.output
    assert "created 4 dashboards and 10 monitors" in result.output
    paths = [path for path, _, _ in datadog_api.requests]
    assert paths == ["/api/v1/dashboard"] * 4 + ["/api/v1/monitor"] * 10
    for _, headers, _ in datadog_api.requests:
        assert headers["dd-api-key"] == "api-123" and headers["dd-application-key"] == "app-456"
    sent = {body.get("title") or body["name"]: body for _, _, body in datadog_api.requests}
    for stem, body in dashboards(plan).items():
        assert sent[body["title"]] == json.loads((tmp_path / f"datadog/dashboards/{stem}.json").read_text())
    ids = {body["name"]: 1000 + i for i, (_, _, body) in enumerate(datadog_api.requests, start=1) if "name" in body}
    composite = sent["Expensive Slow AI Queries (High Latency + High Cost)"]
    assert composite["query"] == (f"{ids['AI Latency High (avg > 5000 ms)']} && {ids['AI Cost High (> $100 over 1h)']}")
    assert datadog_api.requests[-1][2] is composite  # composites after their parts
    hard = sent["Team sales: Budget Hard Limit - 100% of Monthly Limit"]
    assert hard == json.loads((tmp_path / "datadog/monitors/budget-team-c-budget-hard-limit.json").read_text())


def test_push_without_keys_or_with_a_refusal_is_a_clean_error(
    case_env: None, tmp_path: Path, datadog_api: _DatadogStandIn
) -> None:
    args = ["dashboards", "datadog", "--out", str(tmp_path), *_config_args(), "--push", "--api-url", datadog_api.url]
    result = _cli(*args, env={"DD_API_KEY": "api-123"})
    assert result.exit_code == 2
    assert "error: --push needs the Datadog keys in the environment: DD_APP_KEY not set" in result.output
    assert datadog_api.requests == []

    datadog_api.refuse = (403, "Forbidden")
    result = _cli(*args, env={"DD_API_KEY": "bad", "DD_APP_KEY": "bad"})
    assert result.exit_code == 2
    assert "error: Datadog API refused dashboard 'team-support': 403 Forbidden" in result.output
    assert len(datadog_api.requests) == 1  # stopped at the first refusal
