"""Django middleware: the configured customer header, config defaults, the user-id hook and
incoming baggage reach the OpenAI calls views make, with no per-route code (sync and ASGI)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, ClassVar

import openai
import pytest
from django_setup import AUTH_MIDDLEWARE, configure_django

configure_django()

from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.http import JsonResponse, StreamingHttpResponse
from django.test import AsyncClient, Client, override_settings
from django.urls import path

from genops import GenOps, context
from genops.web.django import GenOpsMiddleware

MESSAGES = [{"role": "user", "content": "How do I reset my password?"}]
CALLS: dict[str, object] = {}


def ask(request):
    CALLS["sync"].chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    return JsonResponse({"ok": True})


def ask_tracked(request):
    with GenOps.track(operation="docs_search", customer_id="override-co"):
        CALLS["sync"].chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    return JsonResponse({"ok": True})


async def ask_async(request):
    await CALLS["async"].chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
    return JsonResponse({"ok": True})


def stream(request):
    def body():
        yield "start\n"
        CALLS["sync"].chat.completions.create(model="gpt-4-turbo", messages=MESSAGES)
        yield "done\n"

    return StreamingHttpResponse(body())


def peek(request):
    return JsonResponse(context.current().as_dict())


class URLS:  # a urlconf needs only `urlpatterns` (and to be hashable)
    urlpatterns: ClassVar[list[Any]] = [
        path("ask", ask), path("tracked", ask_tracked), path("ask-async", ask_async), path("stream", stream),
        path("peek", peek),
    ]


def email_of(request):
    return request.user.email if request.user.is_authenticated else None


def broken_hook(request):
    raise RuntimeError("directory service down")


@pytest.fixture
def rt(genops_runtime, fake_clock, server):
    CALLS["sync"] = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    CALLS["async"] = openai.AsyncOpenAI(base_url=server.openai_base_url, api_key="sk-test", max_retries=0)
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    runtime = genops_runtime(
        service_name="internal-knowledge-search",
        environment="production",
        attribution={"team": "knowledge", "project": "docs-search", "customer_field": "x-customer-id",
                     "user_field": "x-user-id"},
    )
    with override_settings(ROOT_URLCONF=URLS, MIDDLEWARE=AUTH_MIDDLEWARE):
        yield runtime


@pytest.fixture
def alice(db_user):
    return db_user("alice", "alice@techcorp.example")


@pytest.fixture
def db_user():
    made = []

    def make(name, email):
        User.objects.filter(username=name).delete()
        user = User.objects.create_user(name, email, "pw")
        made.append(user)
        return user

    yield make
    for user in made:
        user.delete()


def events(rt):
    rt.flush()
    return sorted(rt.ledger.events(), key=lambda e: e.start_time)


def test_customer_header_and_config_defaults_reach_calls_in_views(rt, fake_clock):
    http = Client()
    assert http.get("/ask", headers={"X-Customer-Id": "acme"}).status_code == 200
    fake_clock.advance(1)
    assert http.get("/ask").status_code == 200
    first, second = events(rt)
    assert (first.attribution.team, first.attribution.project, first.attribution.customer_id) == (
        "knowledge", "docs-search", "acme")
    assert (first.attribution.environment, first.attribution.service) == ("production", "internal-knowledge-search")
    assert first.cost.total == Decimal("0.025")
    assert (second.attribution.team, second.attribution.customer_id) == ("knowledge", None)
    # The scope ended with the request.
    assert context.current().as_dict() == {}


def test_track_inside_a_view_overrides_the_request_scope(rt):
    Client().get("/tracked", headers={"x-customer-id": "acme", "x-user-id": "u-7"})
    [event] = events(rt)
    a = event.attribution
    assert (a.customer_id, a.user_id, a.operation, a.team) == ("override-co", "u-7", "docs_search", "knowledge")


def test_user_id_defaults_to_the_authenticated_users_pk(rt, alice, fake_clock):
    http = Client()
    http.get("/ask")  # anonymous
    fake_clock.advance(1)
    http.force_login(alice)
    http.get("/ask", headers={"x-user-id": "spoofed"})  # the authenticated user wins over the header
    anonymous, logged_in = events(rt)
    assert anonymous.attribution.user_id is None
    assert logged_in.attribution.user_id == str(alice.pk)


def test_user_id_hook_is_configurable_by_dotted_path(rt, alice):
    with override_settings(GENOPS_USER_ID="test_web_django.email_of"):
        http = Client()
        http.force_login(alice)
        http.get("/ask")
    [event] = events(rt)
    assert event.attribution.user_id == "alice@techcorp.example"


def test_user_id_hook_can_be_turned_off(rt, alice):
    with override_settings(GENOPS_USER_ID=None):
        http = Client()
        http.force_login(alice)
        http.get("/ask", headers={"x-user-id": "from-header"})
    [event] = events(rt)
    assert event.attribution.user_id == "from-header"


def test_a_failing_hook_is_logged_and_the_request_continues(rt, alice, caplog):
    with override_settings(GENOPS_USER_ID="test_web_django.broken_hook"), caplog.at_level(logging.ERROR, "genops"):
        http = Client()
        http.force_login(alice)
        assert http.get("/ask", headers={"x-customer-id": "acme"}).status_code == 200
    [event] = events(rt)
    assert (event.attribution.user_id, event.attribution.customer_id) == (None, "acme")
    assert "the user-id hook" in caplog.text and "directory service down" in caplog.text


def test_an_unimportable_hook_path_names_the_setting():
    configure_django()
    with (
        override_settings(GENOPS_USER_ID="myapp.nowhere.user_id"),
        pytest.raises(ImproperlyConfigured, match=r"GENOPS_USER_ID = 'myapp.nowhere.user_id' cannot be imported"),
    ):
        GenOpsMiddleware(lambda request: None)


def test_incoming_baggage_is_honoured_and_the_customer_header_wins_over_it(rt, fake_clock):
    baggage = "other=1,genops.team=sales,genops.customer_id=umbrella,genops.competitor=initech"
    http = Client()
    http.get("/ask", headers={"baggage": baggage})
    fake_clock.advance(1)
    http.get("/ask", headers={"baggage": baggage, "x-customer-id": "acme"})
    first, second = events(rt)
    a = first.attribution
    assert (a.team, a.project, a.customer_id, a.custom.get("competitor")) == (
        "sales", "docs-search", "umbrella", "initech")
    assert (second.attribution.team, second.attribution.customer_id) == ("sales", "acme")


def test_streaming_response_keeps_the_scope_while_its_content_is_produced(rt):
    response = Client().get("/stream", headers={"x-customer-id": "acme"})
    assert b"".join(response.streaming_content) == b"start\ndone\n"
    [event] = events(rt)
    assert (event.attribution.customer_id, event.attribution.team) == ("acme", "knowledge")
    assert context.current().as_dict() == {}


async def test_async_stack_applies_header_baggage_and_user(rt, alice):
    http = AsyncClient()
    await http.aforce_login(alice)
    r = await http.get("/ask-async", headers={"x-customer-id": "acme", "baggage": "genops.competitor=initech"})
    assert r.status_code == 200
    peeked = (await http.get("/peek", headers={"x-customer-id": "globex"})).json()
    assert peeked == {"customer_id": "globex", "user_id": str(alice.pk)}
    [event] = events(rt)
    a = event.attribution
    assert (a.customer_id, a.user_id, a.team, a.custom.get("competitor")) == (
        "acme", str(alice.pk), "knowledge", "initech")
    assert event.cost.total == Decimal("0.025")
