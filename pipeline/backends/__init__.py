"""Generation backends. Importing this package fills ``BACKENDS``.

``transformers`` is always there; ``vllm`` and ``openai`` register only when their optional
package imports (the guard catches the missing package, never an error inside our module)."""

from __future__ import annotations

import importlib

from pipeline.backends import transformers_backend  # noqa: F401 - registers "transformers"
from pipeline.backends.base import BACKENDS, Backend, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.demo import narrator  # noqa: F401 - registers "shapes", the demo's pixel-reading stand-in

OPTIONAL_BACKENDS = {"vllm": "pipeline.backends.vllm_backend", "openai": "pipeline.backends.openai_backend"}

for _package, _module in OPTIONAL_BACKENDS.items():
    try:
        importlib.import_module(_package)
    except ImportError:
        continue
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:  # our module exists but something inside it is missing: a real bug
            raise

__all__ = ["BACKENDS", "Backend", "GenerationRequest", "GenerationResult", "SamplingConfig"]
