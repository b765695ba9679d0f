"""LlamaIndex end to end: `set_global_handler("genops")` after `GenOps.init`, LlamaIndex models
over the real provider SDKs against the stand-in server, and models GenOps has no SDK
integration for (metered from LlamaIndex's instrumentation dispatcher). One event per provider
call."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import llama_index.core
import openai
import pytest
from event_helpers import recorded_events as events
from llama_index.core import Document, VectorStoreIndex, set_global_handler
from llama_index.core import Settings as LlamaSettings
from llama_index.core.base.llms.types import (
    ChatMessage,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.embeddings.openai import OpenAIEmbedding

from genops import GenOps, PolicyViolationError, pipeline
from genops.providers import llamaindex as genops_llamaindex

EMBED = "text-embedding-3-small"  # $0.02 per million tokens
CHAT = "gpt-4o-mini"  # $0.15 / $0.60 per million tokens
USER = [ChatMessage(role="user", content="How do I rotate an API key?")]


@pytest.fixture(autouse=True)
def no_global_handler() -> Iterator[None]:
    yield
    llama_index.core.global_handler = None
    LlamaSettings._callback_manager = None  # created with the global handler of its time


@pytest.fixture
def rt(genops_runtime: Any, fake_clock: Any) -> Any:
    return genops_runtime(environment="production", attribution={"team": "knowledge", "project": "docs-search"})


def embedder(server: Any, **kwargs: Any) -> OpenAIEmbedding:
    return OpenAIEmbedding(model=EMBED, api_base=server.openai_base_url, api_key="sk-test", max_retries=0, **kwargs)


class SupportBot(CustomLLM):
    """A LlamaIndex LLM GenOps has no LlamaIndex-level knowledge of, answering through the
    OpenAI SDK (as many community LLM classes do)."""

    base_url: str
    fail: bool = False

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=CHAT, context_window=16000, num_output=256)

    def _client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.base_url, api_key="sk-test", max_retries=0)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        if self.fail:
            raise ConnectionError("model host unreachable")
        reply = self._client().chat.completions.create(model=CHAT, messages=[{"role": "user", "content": prompt}])
        return CompletionResponse(text=reply.choices[0].message.content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        stream = self._client().chat.completions.create(
            model=CHAT, messages=[{"role": "user", "content": prompt}], stream=True,
            stream_options={"include_usage": True})
        text = ""
        for chunk in stream:
            delta = chunk.choices[0].delta.content if chunk.choices else None
            if delta:
                text += delta
                yield CompletionResponse(text=text, delta=delta)


class LocalBot(CustomLLM):
    """A local model: no provider SDK at all."""

    model: str = "llama3-8b"

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="local answer")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        yield CompletionResponse(text="local answer", delta="local answer")


# -- registration ----------------------------------------------------------------------------


def test_set_global_handler_genops_works_after_init(rt: Any) -> None:
    set_global_handler("genops")
    assert isinstance(llama_index.core.global_handler, genops_llamaindex.GenOpsLlamaIndexHandler)
    set_global_handler("simple")  # LlamaIndex's own names still resolve
    assert type(llama_index.core.global_handler).__name__ == "SimpleLLMHandler"
    with pytest.raises(ValueError, match="not supported"):
        set_global_handler("no-such-handler")


def test_shutdown_detaches_from_llamaindex(rt: Any, server: Any) -> None:
    from llama_index.core.instrumentation import get_dispatcher

    names = lambda: {type(h).__name__ for h in get_dispatcher().event_handlers + get_dispatcher().span_handlers}
    assert {"GenOpsEventHandler", "GenOpsSpanHandler"} <= names()
    GenOps.shutdown()
    assert not {"GenOpsEventHandler", "GenOpsSpanHandler"} & names()
    with pytest.raises(ValueError, match="not supported"):
        set_global_handler("genops")


def test_auto_instrument_false_leaves_llamaindex_alone(genops_runtime: Any) -> None:
    genops_runtime(providers={"llamaindex": {"auto_instrument": False}})
    with pytest.raises(ValueError, match="not supported"):
        set_global_handler("genops")


# -- models over an SDK GenOps governs: metered at the SDK, one event per request ------------


def test_embedding_batches_are_one_exact_event_per_request(rt: Any, server: Any) -> None:
    server.set_usage(model=EMBED, input_tokens=8)
    set_global_handler("genops")
    with GenOps.track(operation="docs_search", user_id="u-42"):
        vectors = embedder(server, embed_batch_size=2).get_text_embedding_batch(["a", "b", "c", "d", "e"])
    assert len(vectors) == 5
    assert len(server.requests) == 3
    got = events(rt)
    assert [(e.provider, e.operation_kind, e.request_model) for e in got] == [("openai", "embeddings", EMBED)] * 3
    assert [(e.usage.input_tokens, e.usage.provenance, e.cost.total) for e in got] == [
        (8, "reported", Decimal("0.00000016"))] * 3
    for e in got:
        a = e.attribution
        assert (a.team, a.project, a.operation, a.user_id, a.environment) == (
            "knowledge", "docs-search", "docs_search", "u-42", "production")


async def test_async_embedding_batches_sent_concurrently_are_each_counted(rt: Any, server: Any) -> None:
    server.set_usage(model=EMBED, input_tokens=8)
    async with GenOps.track(user_id="u-1"):
        await embedder(server, embed_batch_size=2, num_workers=3).aget_text_embedding_batch(["a", "b", "c", "d", "e"])
    got = events(rt)
    assert len(got) == len(server.requests) == 3
    assert sum(e.cost.total for e in got) == Decimal("0.00000048")
    assert {e.attribution.user_id for e in got} == {"u-1"}


async def test_concurrent_queries_keep_their_own_attribution(rt: Any, server: Any) -> None:
    model = embedder(server)

    async def search(user: str, n_tokens: int) -> None:
        async with GenOps.track(user_id=user):
            await model.aget_query_embedding("q" * (4 * n_tokens))

    await asyncio.gather(*(search(f"user-{i}", 10 * (i + 1)) for i in range(5)))
    got = {e.attribution.user_id: e.usage.input_tokens for e in events(rt)}
    assert got == {f"user-{i}": 10 * (i + 1) for i in range(5)}


def test_threads_keep_their_own_attribution(rt: Any, server: Any) -> None:
    model = embedder(server)

    def search(i: int) -> None:
        with GenOps.track(user_id=f"user-{i}"):
            model.get_query_embedding("q" * (40 * (i + 1)))

    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(search, range(6)))
    got = {e.attribution.user_id: e.usage.input_tokens for e in events(rt)}
    assert got == {f"user-{i}": 10 * (i + 1) for i in range(6)}


def test_a_provider_error_under_llamaindex_is_one_failed_event(rt: Any, server: Any) -> None:
    server.fail_next(status=500)
    with pytest.raises(openai.InternalServerError):
        embedder(server).get_query_embedding("hello")
    [event] = events(rt)
    assert (event.status, event.error_type, event.operation_kind) == ("error", "InternalServerError", "embeddings")


def test_a_policy_blocks_a_governed_model_before_the_provider(genops_runtime: Any, server: Any) -> None:
    rt = genops_runtime(policies=[{"name": "no_small_embeddings", "type": "model", "blocked": [EMBED]}])
    set_global_handler("genops")
    with pytest.raises(PolicyViolationError):
        embedder(server).get_query_embedding("hello")
    assert server.requests == []
    [event] = events(rt)
    assert event.status == "blocked"


async def test_llamaindex_openai_llm_is_one_event_per_request(rt: Any, server: Any) -> None:
    llms_openai = pytest.importorskip("llama_index.llms.openai")  # caps openai<3: not in `dev`
    server.set_usage(model=CHAT, input_tokens=1000, output_tokens=100)
    llm = llms_openai.OpenAI(model=CHAT, api_base=server.openai_base_url, api_key="sk-test", max_retries=0)
    async with GenOps.track(user_id="u-5"):
        llm.chat(USER)
        llm.complete("hello")
        await llm.achat(USER)
        assert "".join(r.delta or "" for r in llm.stream_chat(USER))
        assert [r async for r in await llm.astream_chat(USER)]
    got = events(rt)
    assert len(got) == len(server.requests) == 5
    assert [e.stream for e in got].count(True) == 2
    for event in got:
        assert (event.provider, event.operation_kind, event.attribution.user_id) == ("openai", "chat", "u-5")
        if not event.stream:  # LlamaIndex does not ask for usage in streams: estimated by the SDK layer
            assert event.cost.total == Decimal("0.00021")


# -- a query engine: every provider request once, all attributed -----------------------------


def test_index_and_query_engine_count_every_request_once(rt: Any, server: Any) -> None:
    server.set_usage(model=EMBED, input_tokens=8)
    server.set_usage(model=CHAT, input_tokens=1000, output_tokens=100)
    set_global_handler("genops")
    with GenOps.track(operation="docs_search", user_id="u-7"):
        index = VectorStoreIndex.from_documents(
            [Document(text="Rotate keys in Settings > API."), Document(text="Keys expire after 90 days.")],
            embed_model=embedder(server))
        answer = index.as_query_engine(llm=SupportBot(base_url=server.openai_base_url)).query("How do I rotate a key?")
    assert str(answer)
    got = events(rt)
    assert len(got) == len(server.requests) == 3  # documents, query, answer
    kinds = sorted((e.provider, e.operation_kind) for e in got)
    # The query engine asks the LLM for a completion; the SDK request under it supplies usage and provider.
    assert kinds == [("openai", "embeddings"), ("openai", "embeddings"), ("openai", "text_completion")]
    [answer_event] = [e for e in got if e.operation_kind == "text_completion"]
    assert (answer_event.usage.input_tokens, answer_event.usage.provenance) == (1000, "reported")
    assert answer_event.cost.total == Decimal("0.00021")  # 1000 x $0.15/M + 100 x $0.60/M
    assert {(e.attribution.team, e.attribution.operation, e.attribution.user_id) for e in got} == {
        ("knowledge", "docs_search", "u-7")}
    assert pipeline.active_call() is None


def test_team_b_stack_with_cohere_embeddings(genops_runtime: Any, fake_clock: Any, server: Any) -> None:
    cohere_embedding = pytest.importorskip("llama_index.embeddings.cohere")  # caps cohere<6: not in `dev`
    rt = genops_runtime(attribution={"team": "knowledge", "project": "docs-search"})
    server.set_usage(model="embed-english-v3.0", input_tokens=12)
    server.set_usage(model=CHAT, input_tokens=1000, output_tokens=100)
    set_global_handler("genops")
    embed_model = cohere_embedding.CohereEmbedding(
        model_name="embed-english-v3.0", api_key="co-test", base_url=server.cohere_base_url)
    with GenOps.track(operation="docs_search", user_id="u-7"):
        index = VectorStoreIndex.from_documents([Document(text="Rotate keys in Settings.")], embed_model=embed_model)
        index.as_query_engine(llm=SupportBot(base_url=server.openai_base_url)).query("How do I rotate a key?")
    got = events(rt)
    assert len(got) == len(server.requests) == 3
    embeds = [e for e in got if e.provider == "cohere"]
    assert [(e.operation_kind, e.usage.input_tokens, e.cost.total) for e in embeds] == [
        ("embeddings", 12, Decimal("0.0000012"))] * 2  # 12 x $0.10/M
    assert {e.attribution.user_id for e in got} == {"u-7"}


# -- models without a GenOps SDK integration: metered from the dispatcher ----------------------


def test_an_llm_over_a_governed_sdk_nests_into_the_llamaindex_call(rt: Any, server: Any) -> None:
    server.set_usage(model=CHAT, input_tokens=1000, output_tokens=100)
    bot = SupportBot(base_url=server.openai_base_url)
    with GenOps.track(user_id="u-9"):
        bot.chat(USER)
        bot.complete("hello")
    got = events(rt)
    assert len(got) == len(server.requests) == 2
    for event in got:
        assert (event.provider, event.request_model, event.usage.provenance, event.cost.total) == (
            "openai", CHAT, "reported", Decimal("0.00021"))
        assert event.attribution.user_id == "u-9"


def test_a_streamed_local_model_is_one_event(rt: Any) -> None:
    text = "".join(r.delta or "" for r in LocalBot().stream_chat(USER))
    assert text == "local answer"
    [event] = events(rt)
    assert (event.provider, event.request_model, event.stream, event.usage.provenance) == (
        "llamaindex", "llama3-8b", True, "estimated")
    assert (event.usage.input_tokens, event.usage.output_tokens) == (13, 3)  # 3 + (3 + ceil(27/4)); 12/4


def test_a_local_model_is_metered_from_the_dispatcher(rt: Any) -> None:
    with GenOps.track(user_id="u-3"):
        MockLLM(max_tokens=5).chat([ChatMessage(role="user", content="x" * 40)])
        MockEmbedding(embed_dim=8).get_text_embedding_batch(["y" * 20, "z" * 12])
    chat, embed = sorted(events(rt), key=lambda e: e.operation_kind)
    assert (chat.provider, chat.operation_kind, chat.usage.provenance) == ("llamaindex", "chat", "estimated")
    assert (chat.usage.input_tokens, chat.usage.output_tokens) == (16, 6)  # 3 + (3 + 40/4); "text text ..." 24 chars
    assert chat.cost.total is None  # no price for a local model: unknown, not $0
    assert (embed.operation_kind, embed.usage.input_tokens, embed.usage.provenance) == ("embeddings", 8, "estimated")
    assert {chat.attribution.user_id, embed.attribution.user_id} == {"u-3"}


def test_a_failing_custom_llm_is_one_failed_event(rt: Any, server: Any) -> None:
    with pytest.raises(ConnectionError):
        SupportBot(base_url=server.openai_base_url, fail=True).chat(USER)
    [event] = events(rt)
    assert (event.status, event.error_type) == ("error", "ConnectionError")
    assert pipeline.active_call() is None


def test_an_abandoned_stream_of_a_local_model_is_incomplete(rt: Any) -> None:
    stream = MockLLM(max_tokens=20).stream_complete("hello there")
    next(stream)
    stream.close()
    [event] = events(rt)
    assert (event.status, event.stream) == ("incomplete", True)


BLOCK = [{"name": "no_unapproved", "type": "model", "blocked": [CHAT, "llama3-8b"]}]


@pytest.mark.parametrize("bot", ["sdk", "local"])
def test_the_genops_handler_enforces_a_block_before_the_model_is_called(genops_runtime: Any, server: Any, bot: str) -> None:
    rt = genops_runtime(policies=BLOCK)
    set_global_handler("genops")
    # created after set_global_handler, as in the case study
    llm = SupportBot(base_url=server.openai_base_url) if bot == "sdk" else LocalBot()
    with pytest.raises(PolicyViolationError) as info:
        llm.chat(USER)
    assert info.value.policy == "no_unapproved"
    assert server.requests == []
    [event] = events(rt)
    assert event.status == "blocked"
    assert pipeline.active_call() is None


def test_without_the_genops_handler_a_local_model_cannot_be_stopped(genops_runtime: Any, caplog: Any) -> None:
    rt = genops_runtime(policies=BLOCK)
    with caplog.at_level(logging.WARNING, logger="genops"):
        assert LocalBot().complete("hi").text == "local answer"  # LlamaIndex discards the dispatcher's exception
    assert "set_global_handler('genops')" in caplog.text
    [event] = events(rt)
    assert event.status == "blocked"


def test_without_the_genops_handler_the_sdk_layer_still_stops_a_blocked_call(genops_runtime: Any, server: Any) -> None:
    genops_runtime(policies=BLOCK)
    with pytest.raises(PolicyViolationError):
        SupportBot(base_url=server.openai_base_url).chat(USER)
    assert server.requests == []


def test_the_case_study_order_init_then_import_then_set_global_handler(tmp_path: Any, server: Any) -> None:
    """Step 2.3 as written: GenOps.init first (LlamaIndex not imported yet: GenOps attaches when it
    is), then `set_global_handler("genops")`, then a LlamaIndex call that is recorded once."""
    import subprocess
    import sys

    script = f"""
import sys
from genops import GenOps
rt = GenOps.init(storage={{"url": "sqlite:///{tmp_path}/ledger.db"}}, exporters=[{{"type": "none"}}])
assert "llama_index.core" not in sys.modules
from llama_index.core import set_global_handler
set_global_handler("genops")
from llama_index.embeddings.openai import OpenAIEmbedding
with GenOps.track(team="knowledge", user_id="u-1"):
    OpenAIEmbedding(model="{EMBED}", api_base="{server.openai_base_url}", api_key="sk-test").get_query_embedding("hi")
rt.flush()
print([(e.operation_kind, e.attribution.team, e.attribution.user_id) for e in rt.ledger.events()])
"""
    out = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[('embeddings', 'knowledge', 'u-1')]"
