"""Run Team A's chatbot (FastAPI + LangChain + OpenAI) against a local stand-in OpenAI server
and print what GenOps recorded.

    python run.py              # Option 1: GenOps.track around the chain (app/main.py)
    python run.py --option 2   # Option 2: GenOpsCallbackHandler (app/main_callbacks.py)
    python run.py --serve      # serve the app on http://127.0.0.1:8000 instead (Ctrl-C stops)

Set GENOPS_STORAGE_URL to keep the ledger (default: a temporary SQLite file).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUESTS = [
    ("acme-corp", "How do I reset my password?"),
    ("globex", "Where can I find my invoices?"),
    ("acme-corp", "What is the API rate limit?"),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--option", choices=("1", "2"), default="1")
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args(argv)

    from genops import GenOps
    from genops.testing import StandInServer

    with StandInServer() as server:
        os.environ["OPENAI_BASE_URL"] = server.openai_base_url
        os.environ.setdefault("OPENAI_API_KEY", "sk-local-stand-in")
        os.environ.setdefault("PINECONE_API_KEY", "pc-local-stand-in")
        os.environ.setdefault("GENOPS_EXPORTER", "none")  # or OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317
        os.environ.setdefault("GENOPS_STORAGE_URL", f"sqlite:///{tempfile.mkdtemp()}/ledger.db")
        os.chdir(HERE)  # genops.yaml is read from the working directory, as in the case study
        sys.path.insert(0, str(HERE))
        module = importlib.import_module("app.main" if args.option == "1" else "app.main_callbacks")

        if args.serve:
            import uvicorn

            uvicorn.run(module.app, host="127.0.0.1", port=8000)
            return

        from fastapi.testclient import TestClient

        with TestClient(module.app) as http:
            for customer, question in REQUESTS:
                reply = http.post("/chat", json={"question": question}, headers={"x-customer-id": customer})
                reply.raise_for_status()
                print(f"[{customer}] {question}\n    -> {reply.json()['answer']}")
        print_ledger()
        GenOps.shutdown()


def print_ledger() -> None:
    from genops import GenOps
    from genops._runtime import get_runtime

    GenOps.flush()
    rt = get_runtime()
    print(f"\nGenOps ledger ({rt.settings.storage.url}):")
    for e in rt.ledger.events():
        a = e.attribution
        print(f"  {e.operation_kind:<10} {e.model:<24} team={a.team} project={a.project} customer={a.customer_id} "
              f"operation={a.operation} tokens={e.usage.input_tokens}/{e.usage.output_tokens} cost=${e.cost.total:f}")


if __name__ == "__main__":
    main()
