"""LangChain's GenOpsCallbackHandler end to end: langchain-openai's ChatOpenAI and
OpenAIEmbeddings over the real OpenAI SDK against the stand-in server, through the pipeline
into the ledger. Every provider call is one event (the SDK call nests into the LangChain run)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import openai
import pytest
from event_helpers import recorded_events as events
from langchain_core.callbacks import CallbackManager
from langchain_core.documents import Document
from langchain_core.messages import HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableLambda, RunnablePassthrough
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_openai import ChatOpenAI, OpenAIEmbeddings

from genops import GenOps, PolicyViolationError, context, pipeline
from genops.events import Attribution
from genops.providers.langchain import GenOpsCallbackHandler

MODEL = "gpt-4-turbo"  # $10 / $30 per million tokens
ONE_CALL = Decimal("0.025")  # 1000 input + 500 output tokens of gpt-4-turbo


@pytest.fixture
def rt(genops_runtime: Any, fake_clock: Any) -> Any:
    return genops_runtime(environment="production", attribution={"team": "platform"})


def chat(server: Any, **kwargs: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=kwargs.pop("model", MODEL), base_url=server.openai_base_url, api_key="sk-test", max_retries=0,
        # langchain-openai caches one async HTTP client per base URL; each test has its own loop.
        http_async_client=openai.DefaultAsyncHttpxClient(), **kwargs,
    )


def embeddings(server: Any) -> OpenAIEmbeddings:
    # check_embedding_ctx_length=False: send text, not tiktoken ids (tiktoken downloads its tables).
    return OpenAIEmbeddings(
        model="text-embedding-3-large", base_url=server.openai_base_url, api_key="sk-test",
        max_retries=0, check_embedding_ctx_length=False,
    )


def assert_nothing_left_in_flight() -> None:
    assert pipeline.active_call() is None
    assert context.current() == Attribution()


def support(customer_id: str = "acme") -> GenOpsCallbackHandler:
    return GenOpsCallbackHandler(team="support", project="chatbot", customer_id=customer_id)


# -- one event per provider call ---------------------------------------------------------------


def test_invoke_is_one_exactly_priced_event_with_the_handlers_attribution(rt: Any, server: Any, span_exporter: Any) -> None:
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    handler = GenOpsCallbackHandler(team="support", project="chatbot", customer_id="acme", competitor="globex")
    with GenOps.track(operation="customer_support_query", customer_id="ignored-by-the-handler"):
        answer = chat(server).invoke("How do I reset my password?", config={"callbacks": [handler]})
    assert answer.content

    assert len(server.requests_for("/chat/completions")) == 1
    [event] = events(rt)
    assert (event.provider, event.operation_kind, event.request_model, event.response_model) == ("openai", "chat", MODEL, MODEL)
    assert (event.usage.input_tokens, event.usage.output_tokens, event.usage.provenance) == (1000, 500, "reported")
    assert event.cost.total == ONE_CALL
    assert (event.cost.input, event.cost.output) == (Decimal("0.01"), Decimal("0.015"))
    a = event.attribution
    assert (a.team, a.project, a.customer_id, a.operation, a.environment) == (
        "support", "chatbot", "acme", "customer_support_query", "production")
    assert a.custom == {"competitor": "globex"}
    assert (event.status, event.stream) == ("ok", False)
    [span] = [s for s in span_exporter.get_finished_spans() if s.name == f"chat {MODEL}"]
    assert span.attributes["genops.customer_id"] == "acme"
    assert span.attributes["genops.competitor"] == "globex"
    assert_nothing_left_in_flight()


def test_unset_handler_fields_come_from_the_scope_and_config(rt: Any, server: Any) -> None:
    with GenOps.track(customer_id="initech", user_id="u-7"):
        chat(server).invoke("hi", config={"callbacks": [GenOpsCallbackHandler(project="chatbot")]})
    [event] = events(rt)
    a = event.attribution
    assert (a.team, a.project, a.customer_id, a.user_id) == ("platform", "chatbot", "initech", "u-7")


def test_handler_on_the_model_constructor_governs_every_call(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    llm = chat(server, callbacks=[support("acme")])
    llm.invoke("one")
    llm.invoke("two")
    assert [e.cost.total for e in events(rt)] == [ONE_CALL, ONE_CALL]
    assert len(server.requests) == 2


async def test_ainvoke_is_one_event(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    await chat(server).ainvoke("hello", config={"callbacks": [support()]})
    [event] = events(rt)
    assert (event.usage.input_tokens, event.usage.output_tokens, event.cost.total) == (1000, 500, ONE_CALL)
    assert event.attribution.customer_id == "acme"
    assert len(server.requests) == 1
    assert_nothing_left_in_flight()


def test_stream_with_usage_is_reported(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    chunks = list(chat(server, stream_usage=True).stream("hello", config={"callbacks": [support()]}))
    assert "".join(str(c.content) for c in chunks)
    [event] = events(rt)
    assert (event.stream, event.usage.provenance, event.cost.total) == (True, "reported", ONE_CALL)
    assert server.requests[0].json["stream_options"] == {"include_usage": True}
    assert_nothing_left_in_flight()


def test_stream_without_usage_is_one_estimated_event(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=12)
    prompt = "x" * 40
    text = "".join(str(c.content) for c in chat(server).stream(prompt, config={"callbacks": [support()]}))
    [event] = events(rt)
    assert (event.stream, event.usage.provenance) == (True, "estimated")
    # The OpenAI SDK layer's estimate: 3 + (3 + 40/4) prompt tokens, ceil(chars / 4) output tokens.
    assert (event.usage.input_tokens, event.usage.output_tokens) == (16, -(-len(text) // 4))
    assert event.cost.total == Decimal(16) * Decimal("0.00001") + Decimal(event.usage.output_tokens) * Decimal("0.00003")


async def test_astream_is_one_event(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    llm = chat(server, stream_usage=True)
    chunks = [c async for c in llm.astream("hello", config={"callbacks": [support("umbrella")]})]
    assert chunks
    [event] = events(rt)
    assert (event.stream, event.cost.total, event.attribution.customer_id) == (True, ONE_CALL, "umbrella")
    assert_nothing_left_in_flight()


def test_an_abandoned_stream_is_recorded_as_incomplete(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=50)
    stream = chat(server).stream("hello", config={"callbacks": [support()]})
    first = [next(stream), next(stream)]
    assert first
    stream.close()
    [event] = events(rt)
    assert (event.status, event.stream, event.usage.provenance) == ("incomplete", True, "estimated")
    assert event.usage.output_tokens >= 1 and event.cost.total > 0
    assert_nothing_left_in_flight()


# -- parallel and batched runs keep their own attribution and usage ---------------------------


def prompt_of(tokens: int) -> str:
    return "y" * (4 * tokens)  # the stand-in counts one token per four characters


def test_parallel_threads_keep_their_attribution(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=5)
    llm = chat(server)

    def ask(i: int) -> None:
        llm.invoke(prompt_of(10 * (i + 1)), config={"callbacks": [support(f"customer-{i}")]})

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(ask, range(8)))
    got = {e.attribution.customer_id: e.usage.input_tokens for e in events(rt)}
    assert got == {f"customer-{i}": 10 * (i + 1) for i in range(8)}
    assert len(server.requests) == 8


async def test_asyncio_gather_keeps_each_runs_attribution(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=5)
    llm = chat(server)
    await asyncio.gather(*(
        llm.ainvoke(prompt_of(10 * (i + 1)), config={"callbacks": [support(f"customer-{i}")]}) for i in range(6)
    ))
    got = {e.attribution.customer_id: e.usage.input_tokens for e in events(rt)}
    assert got == {f"customer-{i}": 10 * (i + 1) for i in range(6)}
    assert_nothing_left_in_flight()


def test_runnable_batch_is_one_event_per_input(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=5)
    chat(server).batch([prompt_of(10), prompt_of(20), prompt_of(30)], config={"callbacks": [support()]})
    assert sorted(e.usage.input_tokens for e in events(rt)) == [10, 20, 30]


def test_generate_with_several_prompts_gives_each_run_its_own_usage(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=5)
    prompts = [[HumanMessage(prompt_of(10))], [HumanMessage(prompt_of(20))], [HumanMessage(prompt_of(30))]]
    chat(server).generate(prompts, callbacks=[support()])
    assert len(server.requests) == 3
    got = sorted((e.usage.input_tokens, e.usage.output_tokens, e.usage.provenance) for e in events(rt))
    assert got == [(10, 5, "reported"), (20, 5, "reported"), (30, 5, "reported")]
    assert_nothing_left_in_flight()


async def test_agenerate_with_several_prompts_gives_each_run_its_own_usage(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=5)
    prompts = [[HumanMessage(prompt_of(10))], [HumanMessage(prompt_of(20))]]
    await chat(server).agenerate(prompts, callbacks=[support()])
    assert sorted(e.usage.input_tokens for e in events(rt)) == [10, 20]
    assert_nothing_left_in_flight()


# -- chains: the handler on a chain covers its LLM runs and the SDK calls inside -------------


def test_a_retrieval_chain_attributes_its_llm_and_embedding_calls(rt: Any, server: Any) -> None:
    """The case study's RetrievalQA, as the current LCEL equivalent with the handler on the chain."""
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    server.set_usage(model="text-embedding-3-large", input_tokens=8)
    store = InMemoryVectorStore(embeddings(server))
    store.add_documents([Document("Reset it from the login page."), Document("Billing is monthly.")])
    indexing = events(rt)
    assert [(e.operation_kind, e.attribution.team, e.attribution.customer_id) for e in indexing] == [
        ("embeddings", "platform", None)]

    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    qa_chain = (
        {"context": store.as_retriever(), "question": RunnablePassthrough()} | prompt | chat(server) | StrOutputParser()
    ).with_config(callbacks=[GenOpsCallbackHandler(team="support", project="chatbot", customer_id="acme")])
    assert qa_chain.invoke("How do I reset my password?")

    new = [e for e in events(rt) if e.id not in {i.id for i in indexing}]
    by_kind = {e.operation_kind: e for e in new}
    assert len(new) == 2 and set(by_kind) == {"chat", "embeddings"}
    for event in new:
        assert (event.attribution.team, event.attribution.project, event.attribution.customer_id) == (
            "support", "chatbot", "acme")
    assert by_kind["chat"].cost.total == ONE_CALL
    assert by_kind["embeddings"].cost.total == Decimal("0.00000104")  # 8 x $0.13/M
    assert len(server.requests) == 3
    assert_nothing_left_in_flight()


async def test_an_async_chain_attributes_its_llm_and_embedding_calls(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    store = InMemoryVectorStore(embeddings(server))
    await store.aadd_documents([Document("Reset it from the login page.")])
    prompt = ChatPromptTemplate.from_template("Context: {context}\nQuestion: {question}")
    chain = {"context": store.as_retriever(), "question": RunnablePassthrough()} | prompt | chat(server)
    await asyncio.gather(
        chain.ainvoke("reset?", config={"callbacks": [support("acme")]}),
        chain.ainvoke("billing?", config={"callbacks": [support("globex")]}),
    )
    got = sorted((e.attribution.customer_id, e.operation_kind) for e in events(rt) if e.attribution.customer_id)
    assert got == [("acme", "chat"), ("acme", "embeddings"), ("globex", "chat"), ("globex", "embeddings")]
    assert len(events(rt)) == 5 == len(server.requests)  # with the indexing call
    assert_nothing_left_in_flight()


def test_a_handler_given_to_a_chain_constructor_still_attributes_the_calls_inside(rt: Any, server: Any) -> None:
    """The case study's `RetrievalQA.from_chain_type(..., callbacks=[callback])`: constructor callbacks
    are local to the chain's own run (LangChain does not pass them to the LLM run inside); the SDK
    call under it still carries the handler's attribution, as its own event."""
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    llm = chat(server)
    handler = support("acme")
    local_only = CallbackManager(handlers=[handler], inheritable_handlers=[])
    chain = RunnableLambda(lambda q: llm.invoke(q).content)
    assert chain.invoke("hello", config={"callbacks": local_only})
    [event] = events(rt)
    assert (event.attribution.team, event.attribution.customer_id, event.cost.total) == ("support", "acme", ONE_CALL)
    assert_nothing_left_in_flight()


def test_a_streamed_chain_is_attributed_and_leaves_no_scope_behind(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, input_tokens=1000, output_tokens=500)
    chain = ChatPromptTemplate.from_template("{q}") | chat(server, stream_usage=True) | StrOutputParser()
    text = "".join(chain.stream({"q": "hi"}, config={"callbacks": [support("acme")]}))
    assert text
    [event] = events(rt)
    assert (event.stream, event.cost.total, event.attribution.customer_id) == (True, ONE_CALL, "acme")
    assert_nothing_left_in_flight()


# -- policies and errors ---------------------------------------------------------------------


def test_a_policy_block_stops_the_run_before_the_provider(genops_runtime: Any, server: Any) -> None:
    rt = genops_runtime(policies=[{"name": "no_gpt4", "type": "model", "blocked": [MODEL]}])
    with pytest.raises(PolicyViolationError) as info:
        chat(server).invoke("hello", config={"callbacks": [support("acme")]})
    assert info.value.policy == "no_gpt4"
    assert server.requests == []
    [event] = events(rt)
    assert (event.status, event.error_type, event.cost.total) == ("blocked", "PolicyViolationError", Decimal(0))
    assert event.attribution.customer_id == "acme"
    assert_nothing_left_in_flight()


async def test_a_policy_block_stops_an_async_stream(genops_runtime: Any, server: Any) -> None:
    genops_runtime(policies=[{"name": "no_gpt4", "type": "model", "blocked": [MODEL]}])
    with pytest.raises(PolicyViolationError):
        async for _ in chat(server).astream("hello", config={"callbacks": [support()]}):
            pass
    assert server.requests == []


def test_a_substituted_model_is_what_the_provider_is_asked_for(genops_runtime: Any, fake_clock: Any, server: Any) -> None:
    rt = genops_runtime(policies=[
        {"name": "no_gpt4", "type": "model", "blocked": [MODEL]},
        {"name": "fallback", "type": "custom", "config": {"primary": MODEL, "fallback": ["gpt-4o-mini"]}},
    ])
    server.set_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=100)
    chat(server).invoke("hello", config={"callbacks": [support()]})
    assert [r.json["model"] for r in server.requests] == ["gpt-4o-mini"]
    [event] = events(rt)
    assert (event.request_model, event.substituted_from) == ("gpt-4o-mini", MODEL)
    assert event.cost.total == Decimal("0.00021")  # 1000 x $0.15/M + 100 x $0.60/M


def test_a_provider_error_is_one_failed_event(rt: Any, server: Any) -> None:
    server.fail_next(status=500)
    with pytest.raises(openai.InternalServerError):
        chat(server).invoke("hello", config={"callbacks": [support("acme")]})
    [event] = events(rt)
    assert (event.status, event.error_type, event.cost.total) == ("error", "InternalServerError", None)
    assert event.attribution.customer_id == "acme"
    assert_nothing_left_in_flight()


async def test_an_async_stream_cut_off_by_the_provider_is_one_failed_event(rt: Any, server: Any) -> None:
    server.set_usage(model=MODEL, output_tokens=40)
    server.drop_stream_after(5)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's own transport error
        async for _ in chat(server).astream("hello", config={"callbacks": [support()]}):
            pass
    [event] = events(rt)
    assert (event.status, event.stream) == ("error", True)
    assert_nothing_left_in_flight()


def test_without_genops_the_handler_is_inert(server: Any) -> None:
    assert chat(server).invoke("hello", config={"callbacks": [support()]}).content
    assert len(server.requests) == 1
    assert_nothing_left_in_flight()
