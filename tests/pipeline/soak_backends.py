"""A fast, deterministic test double of a generation backend for the kill and shared-cache tests.

Like ``tests.pipeline.fake_backends`` it registers nothing on import: ``register()`` adds it to
``BACKENDS`` under a clearly fake name, in the test process or in a ``python -c`` run that the
test starts (and kills); Ray's generate actor then loads the class by reference."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from pipeline.backends.base import BACKENDS, Backend, GenerationRequest, GenerationResult, SamplingConfig

NAME = "fake-frame-digest"


class FakeFrameDigestBackend(Backend):
    """Fake: answers each request with a caption naming a digest of its prompt and frames, so the
    same request always gets the same text (a killed run's rerun must equal an uninterrupted
    run) and different requests get different texts. ``delay_s`` (a backend option) sleeps that
    long per request, standing in for a model's time, so that two runs overlap in a test. No
    model folder: the key revision is fixed."""

    name = NAME

    @classmethod
    def key_revision(cls, model: str, options: dict[str, Any]) -> str | None:
        return "fake-frame-digest-1"

    def run(
        self, requests: list[GenerationRequest], prepared: list[Any], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        delay = float(self.options.get("delay_s", 0.0))
        out = []
        for r in requests:
            if delay:
                time.sleep(delay)
            digest = hashlib.sha256(r.prompt.encode())
            for image in r.images:
                digest.update(image.tobytes())
            out.append(
                GenerationResult(
                    r.key, f"a frame digest {digest.hexdigest()[:10]}", n_prompt_tokens=4, n_output_tokens=4
                )
            )
        return out


def register() -> str:
    """Put the fake in ``BACKENDS`` (once); returns its name."""
    if NAME not in BACKENDS:
        BACKENDS.register(NAME)(FakeFrameDigestBackend)
    return NAME
