"""`genops demo`: the case study's Team A path end to end, on this machine alone.

Starts the stand-in provider server in-process, points the real OpenAI SDK at it, runs a
customer-support workload inside `GenOps.track` for several customers (chat, streaming,
embeddings), and returns the ledger so the CLI can print the spend report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _runtime
from .config import Settings
from .testing import StandInServer

CUSTOMERS = ("acme-corp", "globex", "initech")

TEAM_A = {
    "service_name": "customer-support-chatbot",
    "environment": "production",
    "exporters": [{"type": "none"}],
    "providers": {"openai": {"track_embeddings": True}},
    "policies": [
        {"name": "team_a_budget", "type": "budget", "limit": 10000.0, "period": "monthly",
         "teams": ["support"], "enforcement": "WARNING"},
        {"name": "no_gpt4_in_dev", "type": "model", "blocked": ["gpt-4"], "environment": "development",
         "enforcement": "BLOCKED"},
    ],
    "attribution": {"team": "support", "project": "chatbot", "customer_field": "x-customer-id"},
}


def run_team_a(server: StandInServer, ledger_url: str) -> _runtime.Runtime:
    """Run the Team A workload against `server`; returns the (flushed) runtime."""
    import openai

    from ._api import GenOps

    settings = Settings.model_validate({**TEAM_A, "storage": {"url": ledger_url}})
    rt = _runtime.start_runtime(settings)
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


def main(ledger_path: Path) -> tuple[str, Any]:
    """Run the demo into a fresh ledger file; returns (ledger url, runtime settings)."""
    ledger_path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{ledger_path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{ledger_path}"
    with StandInServer() as server:
        rt = run_team_a(server, url)
        settings = rt.settings
        _runtime.stop_runtime()
    return url, settings
