"""LlamaIndex's Anthropic LLM, made to work with the current Anthropic SDK.

llama-index-llms-anthropic 0.12.3 (the newest release) predates anthropic 2.x in two places:
it builds each message with `anthropic.types.MessageParam(...)`, which is now a `Union` (not
callable), and it always sends `temperature`, which `messages.create` no longer accepts. This is
the same LlamaIndex class with those two things fixed; it is still a
`llama_index.llms.anthropic.Anthropic`, so GenOps meters it at the Anthropic SDK, like the
original. Delete this module once llama-index-llms-anthropic supports anthropic 2.x.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import anthropic
import llama_index.llms.anthropic.utils as _utils
from llama_index.llms.anthropic import Anthropic as _LlamaIndexAnthropic

if typing.get_origin(_utils.MessageParam) is typing.Union:
    _utils.MessageParam = dict  # what calling the TypedDict used to build

_SENDS_TEMPERATURE = "temperature" in inspect.signature(anthropic.resources.Messages.create).parameters


class Anthropic(_LlamaIndexAnthropic):
    """`llama_index.llms.anthropic.Anthropic` for anthropic 2.x."""

    @property
    def _model_kwargs(self) -> dict[str, Any]:
        kwargs = dict(super()._model_kwargs)
        if not _SENDS_TEMPERATURE:
            kwargs.pop("temperature", None)
        return kwargs
