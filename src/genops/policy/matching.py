"""Which calls a policy applies to: scope filters and model patterns.

Model patterns are shell globs matched case-insensitively. A pattern without wildcards also
matches the model's dated snapshots (`gpt-4` matches `gpt-4-0613` and `gpt-4-2024-05-13`, not
`gpt-4-turbo` or `gpt-4o`), and a LiteLLM-style provider prefix (`openai/gpt-4`) is ignored.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from ..events import Attribution

_SNAPSHOT = re.compile(r"(-\d{4}(-\d{2}-\d{2})?|-\d{8}|@\d{8}|-latest)$")

# Attribution field each scope filter / `per` value reads.
FILTER_FIELDS = {"teams": "team", "projects": "project", "customers": "customer_id", "environments": "environment"}
PER_FIELDS = {"team": "team", "project": "project", "customer": "customer_id"}


def _bare(model: str) -> str:
    model = model.lower()
    if "/" in model:
        model = model.rsplit("/", 1)[1]
    return model


@lru_cache(maxsize=4096)
def model_matches(model: str, pattern: str) -> bool:
    """Whether a model name matches a configured pattern (see module docstring)."""
    name, pat = _bare(model), pattern.lower()
    if fnmatch.fnmatchcase(name, pat) or fnmatch.fnmatchcase(model.lower(), pat):
        return True
    if not any(ch in pat for ch in "*?["):
        return _SNAPSHOT.sub("", name) == pat and name != pat
    return False


def any_model_matches(model: str | None, patterns: Iterable[str]) -> bool:
    return model is not None and any(model_matches(model, p) for p in patterns)


def as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def scope_matches(filters: dict[str, list[str]], models: Sequence[str], attribution: Attribution, model: str | None) -> bool:
    """True when every non-empty filter admits the call (an empty filter admits everything)."""
    for key, values in filters.items():
        if values and getattr(attribution, FILTER_FIELDS[key]) not in values:
            return False
    return not models or any_model_matches(model, models)


def describe_filters(filters: dict[str, list[str]], models: Sequence[str]) -> str:
    """`teams=[sales]` style text for messages; `global` when nothing filters."""
    parts = [f"{k}=[{', '.join(v)}]" for k, v in filters.items() if v]
    if models:
        parts.append(f"models=[{', '.join(models)}]")
    return " ".join(parts) or "global"
