"""Flask extension: the configured customer header, config defaults, a user-id hook and incoming
baggage reach the OpenAI calls views make, with no per-route code; the scope ends with the request."""

from __future__ import annotations

import logging
from decimal import Decimal

import openai
import pytest
from flask import Flask, jsonify, request

from genops import GenOps, context
from genops.web.flask import GenOpsExtension, init_app

MESSAGES = [{"role": "user", "content": "Analyze competitor initech"}]


def build_app(client: openai.OpenAI, **ext_kwargs) -> Flask:
    app = Flask(__name__)

    @app.before_request
    def maybe_short_circuit():
        if request.path == "/blocked":
            return jsonify({"blocked": True}), 403
        return None

    @app.post("/analyze")
    def analyze():
        client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
        return jsonify({"ok": True})

    @app.post("/tracked")
    def tracked():
        with GenOps.track(operation="competitor_analysis", competitor=request.json["competitor"]):
            client.chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
        return jsonify({"ok": True})

    @app.get("/peek")
    def peek():
        return jsonify(context.current().as_dict())

    GenOpsExtension(app, **ext_kwargs)
    return app


@pytest.fixture
def client(server):
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    return openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def rt(genops_runtime, fake_clock):
    return genops_runtime(
        service_name="sales-intelligence",
        environment="production",
        attribution={"team": "sales", "project": "competitive-intel", "customer_field": "x-customer-id"},
    )


def events(rt):
    rt.flush()
    return sorted(rt.ledger.events(), key=lambda e: e.start_time)


def test_customer_header_and_config_defaults_reach_calls_in_views(rt, client, fake_clock):
    http = build_app(client).test_client()
    assert http.post("/analyze", headers={"X-Customer-Id": "acme"}).status_code == 200
    fake_clock.advance(1)
    assert http.post("/analyze").status_code == 200
    first, second = events(rt)
    a = first.attribution
    assert (a.team, a.project, a.customer_id, a.environment, a.service) == (
        "sales", "competitive-intel", "acme", "production", "sales-intelligence")
    assert first.cost.total == Decimal("0.025")
    assert (first.usage.input_tokens, first.usage.output_tokens) == (1000, 500)
    assert (second.attribution.team, second.attribution.customer_id) == ("sales", None)
    assert context.current().as_dict() == {}


def test_track_in_a_view_adds_operation_and_custom_attribute_to_the_request_scope(rt, client):
    http = build_app(client).test_client()
    http.post("/tracked", json={"competitor": "initech"}, headers={"x-customer-id": "acme"})
    [event] = events(rt)
    a = event.attribution
    assert (a.customer_id, a.operation, a.custom.get("competitor"), a.team) == (
        "acme", "competitor_analysis", "initech", "sales")


def test_user_id_hook(rt, client):
    http = build_app(client, user_id=lambda req: req.headers.get("x-api-key", "")[:6] or None).test_client()
    http.post("/analyze", headers={"x-api-key": "u-1234-secret"})
    [event] = events(rt)
    assert event.attribution.user_id == "u-1234"


def test_a_failing_user_id_hook_is_logged_and_the_request_continues(rt, client, caplog):
    def hook(req):
        raise RuntimeError("session store down")

    http = build_app(client, user_id=hook).test_client()
    with caplog.at_level(logging.ERROR, "genops"):
        assert http.post("/analyze", headers={"x-customer-id": "acme"}).status_code == 200
    [event] = events(rt)
    assert (event.attribution.user_id, event.attribution.customer_id) == (None, "acme")
    assert "the user-id hook" in caplog.text and "session store down" in caplog.text


def test_incoming_baggage_is_honoured_and_the_customer_header_wins_over_it(rt, client):
    http = build_app(client).test_client()
    baggage = "genops.team=support,genops.customer_id=umbrella,genops.competitor=initech;p=1"
    assert http.get("/peek", headers={"baggage": baggage}).json == {
        "team": "support", "customer_id": "umbrella", "competitor": "initech"}
    assert http.get("/peek", headers={"baggage": baggage, "x-customer-id": "acme"}).json["customer_id"] == "acme"
    http.post("/analyze", headers={"baggage": baggage})
    [event] = events(rt)
    assert (event.attribution.team, event.attribution.customer_id, event.attribution.custom["competitor"]) == (
        "support", "umbrella", "initech")


def test_scope_opens_before_other_hooks_and_closes_even_when_a_hook_answers(rt, client):
    app = build_app(client)
    http = app.test_client()
    assert http.get("/blocked", headers={"x-customer-id": "acme"}).status_code == 403
    assert context.current().as_dict() == {}
    assert app.before_request_funcs[None][0].__self__ is app.extensions["genops"]


def test_init_app_function_and_idempotence(rt, client):
    app = Flask(__name__)

    @app.get("/peek")
    def peek():
        return jsonify(context.current().as_dict())

    ext = init_app(app)
    ext.init_app(app)
    assert len(app.before_request_funcs[None]) == 1 and len(app.teardown_request_funcs[None]) == 1
    assert app.test_client().get("/peek", headers={"x-customer-id": "acme"}).json == {"customer_id": "acme"}
