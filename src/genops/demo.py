"""`genops demo`: the case study's three teams end to end, on this machine alone.

Starts the stand-in provider server in-process and runs each team's workload with the real
provider libraries pointed at it, under that team's `genops.yaml` settings (the case study's,
with exporters off), into one ledger:

- Team A, support / chatbot: the OpenAI SDK; per customer an embedding, a chat completion and a
  streamed completion inside `GenOps.track(operation="customer_support_query", customer_id=...)`.
- Team B, knowledge / docs-search: the Cohere SDK (ingestion and query embeddings, Embed v3) and
  the Anthropic SDK (Claude Opus 4 answers), per Django-style user id.
- Team C, sales / competitive-intel: LiteLLM with `fallbacks=["claude-opus-4", "command-r-plus"]`
  and the custom `competitor` attribute; one analysis finds gpt-4-turbo down and falls back.

A team whose libraries are not installed is skipped (`pip install 'genops-ai[demo]'` has them
all). The examples/ directory has the same three applications on their web frameworks.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import logging
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _runtime
from .config import Settings
from .testing import StandInServer

CUSTOMERS = ("acme-corp", "globex", "initech")

_NO_EXPORT = [{"type": "none"}]

TEAM_A = {
    "service_name": "customer-support-chatbot",
    "environment": "production",
    "exporters": _NO_EXPORT,
    "providers": {"openai": {"track_embeddings": True}},
    "policies": [
        {"name": "team_a_budget", "type": "budget", "limit": 10000.0, "period": "monthly",
         "teams": ["support"], "enforcement": "WARNING"},
        {"name": "no_gpt4_in_dev", "type": "model", "blocked": ["gpt-4"], "environment": "development",
         "enforcement": "BLOCKED"},
    ],
    "attribution": {"team": "support", "project": "chatbot", "customer_field": "x-customer-id"},
}

TEAM_B = {
    "service_name": "internal-knowledge-search",
    "environment": "production",
    "exporters": _NO_EXPORT,
    "providers": {"anthropic": {}, "cohere": {}},
    "policies": [
        {"name": "team_b_budget", "type": "budget", "limit": 10000.0, "period": "monthly",
         "teams": ["knowledge"], "enforcement": "WARNING"},
    ],
    "attribution": {"team": "knowledge", "project": "docs-search"},
}

TEAM_C = {
    "service_name": "sales-intelligence",
    "environment": "production",
    "exporters": _NO_EXPORT,
    "providers": {"litellm": {"auto_instrument": True}},
    "policies": [
        {"name": "team_c_budget", "type": "budget", "limit": 10000.0, "period": "monthly",
         "teams": ["sales"], "enforcement": "BLOCKED"},
        {"name": "model_fallback_order", "type": "custom",
         "config": {"primary": "gpt-4-turbo", "fallback": ["claude-opus-4", "cohere-command-r-plus"]}},
    ],
    "attribution": {"team": "sales", "project": "competitive-intel"},
}

DOCS = (
    "Expense reports are filed in Workday under Finance > Expenses within 30 days of purchase.",
    "VPN access: install the corporate client from the IT portal and sign in with single sign-on.",
    "Production deploys need two approvals and run from the release pipeline on weekdays only.",
)
SEARCHES = (("1", "How do I file an expense report?"), ("2", "How do I get VPN access?"),
            ("1", "When can we deploy to production?"))
ANALYSES = (("Initech", "Launched a usage-based pricing tier."), ("Globex", "Announced an on-premise edition."),
            ("Initech", "Hired a new VP of Sales."))


def _start(team: dict[str, Any], ledger_url: str) -> _runtime.Runtime:
    return _runtime.start_runtime(Settings.model_validate({**team, "storage": {"url": ledger_url}}))


def run_team_a(server: StandInServer, ledger_url: str) -> _runtime.Runtime:
    """Run the Team A workload against `server`; returns the (flushed) runtime."""
    import openai

    from ._api import GenOps

    rt = _start(TEAM_A, ledger_url)
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="sk-demo", max_retries=0)
    server.set_usage(model="gpt-4-turbo", input_tokens=1000, output_tokens=500)
    server.set_usage(model="gpt-4o-mini", input_tokens=1149, output_tokens=315, cached_tokens=1024)
    for customer in CUSTOMERS:
        with GenOps.track(operation="customer_support_query", customer_id=customer):
            client.embeddings.create(model="text-embedding-3-large", input=f"How do I reset my password? ({customer})")
            client.chat.completions.create(
                model="gpt-4-turbo",
                messages=[{"role": "user", "content": "How do I reset my password?"}],
            )
            stream = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Summarise the ticket."}],
                stream=True,
                stream_options={"include_usage": True},
            )
            for _ in stream:
                pass
    rt.flush()
    return rt


def run_team_b(server: StandInServer, ledger_url: str) -> _runtime.Runtime:
    """Team B: Cohere embeddings (ingestion, then one per query) and Claude Opus 4 answers, per user."""
    import anthropic
    import cohere

    from ._api import GenOps

    rt = _start(TEAM_B, ledger_url)
    claude = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="sk-ant-demo", max_retries=0)
    co = cohere.ClientV2(api_key="co-demo", base_url=server.cohere_base_url)
    server.set_usage(model="claude-opus-4", input_tokens=1200, output_tokens=300)
    server.set_usage(model="embed-english-v3.0", input_tokens=100)
    with GenOps.track(operation="docs_ingest"):
        co.embed(model="embed-english-v3.0", texts=list(DOCS), input_type="search_document", embedding_types=["float"])
    for user_id, question in SEARCHES:
        with GenOps.track(operation="docs_search", user_id=user_id):
            co.embed(model="embed-english-v3.0", texts=[question], input_type="search_query", embedding_types=["float"])
            claude.messages.create(
                model="claude-opus-4", max_tokens=300,
                messages=[{"role": "user", "content": f"Context: {DOCS[0]}\n\nQuestion: {question}"}],
            )
    rt.flush()
    return rt


def run_team_c(server: StandInServer, ledger_url: str) -> _runtime.Runtime:
    """Team C: LiteLLM with fallbacks; the second analysis finds gpt-4-turbo down (HTTP 503)."""
    env = {
        "OPENAI_BASE_URL": server.openai_base_url, "OPENAI_API_KEY": "sk-demo",
        "ANTHROPIC_BASE_URL": server.anthropic_base_url, "ANTHROPIC_API_KEY": "sk-ant-demo",
        "COHERE_API_BASE": f"{server.cohere_base_url}/v2/chat", "COHERE_API_KEY": "co-demo",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # LiteLLM's bundled model map: no download at import
    }
    with _environ(env), _quiet_litellm():
        import litellm

        from ._api import GenOps

        litellm.suppress_debug_info = True
        rt = _start(TEAM_C, ledger_url)
        server.set_usage(model="gpt-4-turbo", input_tokens=800, output_tokens=400)
        server.set_usage(model="claude-opus-4", input_tokens=800, output_tokens=400)
        for i, (competitor, content) in enumerate(ANALYSES):
            if i == 1:
                server.fail_next(status=503, count=3, model="gpt-4-turbo")  # every SDK retry
            with GenOps.track(operation="competitor_analysis", competitor=competitor):
                litellm.completion(
                    model="gpt-4-turbo",
                    messages=[{"role": "user", "content": f"Analyze competitor {competitor}: {content}"}],
                    fallbacks=["claude-opus-4", "command-r-plus"],
                )
        rt.flush()
        gc.collect()  # LiteLLM's abandoned logging coroutines warn when collected: inside the filter
    return rt


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def _quiet_litellm() -> Iterator[None]:
    """LiteLLM logs each failed fallback attempt with its traceback (GenOps records it anyway)."""
    loggers = [logging.getLogger(name) for name in ("LiteLLM", "asyncio")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="coroutine 'LoggingWorker", category=RuntimeWarning)
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@dataclass(frozen=True)
class Team:
    key: str
    label: str
    needs: tuple[str, ...]  # importable modules
    run: Callable[[StandInServer, str], _runtime.Runtime]


TEAMS = (
    Team("A", "support / chatbot: OpenAI SDK, per customer", ("openai",), run_team_a),
    Team("B", "knowledge / docs-search: Cohere + Anthropic SDKs, per user", ("anthropic", "cohere"), run_team_b),
    Team("C", "sales / competitive-intel: LiteLLM with fallbacks", ("litellm",), run_team_c),
)


@dataclass(frozen=True)
class Outcome:
    team: Team
    missing: tuple[str, ...] = ()  # modules not installed: the team was skipped

    @property
    def ran(self) -> bool:
        return not self.missing


def main(ledger_path: Path) -> tuple[str, list[Outcome]]:
    """Run every team whose libraries are installed into a fresh ledger file; returns (ledger url,
    one outcome per team)."""
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{ledger_path}"
    outcomes = []
    with StandInServer() as server:
        for team in TEAMS:
            missing = tuple(m for m in team.needs if importlib.util.find_spec(m) is None)
            if not missing:
                server.reset()
                team.run(server, url)
                _runtime.stop_runtime()
            outcomes.append(Outcome(team, missing))
    return url, outcomes
