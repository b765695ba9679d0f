"""Run Team B's docs search (Django + LlamaIndex + Anthropic + Cohere) against a local stand-in
provider server and print what GenOps recorded.

    python run.py            # ingest the docs, then two signed-in users search
    python run.py --serve    # ingest, then `manage.py runserver` on http://127.0.0.1:8000
                             # (sign-in needs a user: python manage.py createsuperuser)

Set GENOPS_STORAGE_URL to keep the ledger (default: a temporary SQLite file).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEARCHES = [
    ("alice", "How do I file an expense report?"),
    ("bob", "How do I get VPN access?"),
    ("alice", "When can we deploy to production?"),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args(argv)

    from genops import GenOps
    from genops.testing import StandInServer

    workdir = tempfile.mkdtemp()
    with StandInServer() as server:
        os.environ["ANTHROPIC_BASE_URL"] = server.anthropic_base_url
        os.environ["CO_API_URL"] = server.cohere_base_url
        os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-local-stand-in")
        os.environ.setdefault("COHERE_API_KEY", "co-local-stand-in")
        os.environ.setdefault("GENOPS_EXPORTER", "none")  # or OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317
        os.environ.setdefault("GENOPS_STORAGE_URL", f"sqlite:///{workdir}/ledger.db")
        os.environ.setdefault("DJANGO_DB_PATH", f"{workdir}/db.sqlite3")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "knowledge_search.settings")
        os.chdir(HERE)  # genops.yaml is read from the working directory, as in the case study
        sys.path.insert(0, str(HERE))

        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from llama_index.embeddings.cohere import CohereEmbedding
        from search import views  # noqa: F401 - GenOps.init and set_global_handler("genops")
        from search.vector_store import ingest

        with GenOps.track(operation="docs_ingest"):
            ingest(CohereEmbedding(model_name="embed-english-v3.0", api_key=os.environ["COHERE_API_KEY"],
                                   base_url=os.environ["CO_API_URL"]))

        if args.serve:
            call_command("runserver", "127.0.0.1:8000", use_reloader=False)
            return

        from django.contrib.auth.models import User
        from django.test import Client

        for username, question in SEARCHES:
            user, _ = User.objects.get_or_create(username=username)
            http = Client()
            http.force_login(user)
            reply = http.get("/search", {"q": question})
            assert reply.status_code == 200, reply.content
            print(f"[{username} (id {user.id})] {question}\n    -> {reply.json()['answer']}")
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
        cost = "unknown" if e.cost.total is None else f"${e.cost.total:f}"
        print(f"  {e.operation_kind:<10} {e.model:<20} team={a.team} project={a.project} user={a.user_id} "
              f"operation={a.operation} tokens={e.usage.input_tokens}/{e.usage.output_tokens} cost={cost}")


if __name__ == "__main__":
    main()
