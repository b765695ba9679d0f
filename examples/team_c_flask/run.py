"""Run Team C's competitive-intelligence service (Flask + LiteLLM with fallbacks) against a local
stand-in provider server and print what GenOps recorded.

    python run.py            # three analyses; the second finds gpt-4-turbo down and falls back
    python run.py --serve    # serve app.py on http://127.0.0.1:5000 instead (Ctrl-C stops)

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
ANALYSES = [
    ("Initech", "Launched a usage-based pricing tier at $0.02 per call."),
    ("Globex", "Announced an on-premise edition for regulated industries."),
    ("Initech", "Hired a new VP of Sales from our largest partner."),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true")
    args = parser.parse_args(argv)

    from genops import GenOps
    from genops.testing import StandInServer

    with StandInServer() as server:
        # LiteLLM reaches each provider of the fallback chain through its standard variables.
        os.environ["OPENAI_BASE_URL"] = server.openai_base_url
        os.environ["ANTHROPIC_BASE_URL"] = server.anthropic_base_url
        os.environ["COHERE_API_BASE"] = f"{server.cohere_base_url}/v2/chat"
        os.environ.setdefault("OPENAI_API_KEY", "sk-local-stand-in")
        os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-local-stand-in")
        os.environ.setdefault("COHERE_API_KEY", "co-local-stand-in")
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # offline: LiteLLM's bundled model map
        os.environ.setdefault("GENOPS_EXPORTER", "none")  # or OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317
        os.environ.setdefault("GENOPS_STORAGE_URL", f"sqlite:///{tempfile.mkdtemp()}/ledger.db")
        os.chdir(HERE)  # genops.yaml is read from the working directory, as in the case study
        sys.path.insert(0, str(HERE))
        module = importlib.import_module("app")
        quiet_litellm()

        if args.serve:
            module.app.run(host="127.0.0.1", port=5000)
            return

        http = module.app.test_client()
        for i, (competitor, content) in enumerate(ANALYSES):
            if i == 1:  # gpt-4-turbo is down for this one (every SDK retry): LiteLLM falls back
                server.fail_next(status=503, count=3, model="gpt-4-turbo")
            reply = http.post("/analyze", json={"competitor": competitor, "content": content})
            assert reply.status_code == 200, reply.data
            print(f"[{competitor}] {content}\n    -> {reply.json['analysis']}")
        print_ledger()
        GenOps.shutdown()


def quiet_litellm() -> None:
    """LiteLLM prints a help banner and logs each failed fallback attempt with its traceback;
    GenOps records the attempt anyway, so keep this demo's output short."""
    import logging
    import warnings

    import litellm

    warnings.filterwarnings("ignore", message="coroutine 'LoggingWorker", category=RuntimeWarning)

    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # LiteLLM's logging worker, across its event loops


def print_ledger() -> None:
    from genops import GenOps
    from genops._runtime import get_runtime

    GenOps.flush()
    rt = get_runtime()
    print(f"\nGenOps ledger ({rt.settings.storage.url}):")
    for e in rt.ledger.events():
        a = e.attribution
        cost = "unknown" if e.cost.total is None else f"${e.cost.total:f}"
        print(f"  {e.provider:<10} {e.model:<16} {e.status:<6} team={a.team} project={a.project} "
              f"operation={a.operation} competitor={a.custom.get('competitor')} "
              f"tokens={e.usage.input_tokens}/{e.usage.output_tokens} cost={cost}"
              + (f" error={e.error_type}" if e.error_type else ""))


if __name__ == "__main__":
    main()
