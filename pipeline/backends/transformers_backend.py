"""The ``transformers`` backend: batched generation with AutoModelForImageTextToText, on CPU or GPU.

Prompts are formatted and images preprocessed by the model family's adapter (``adapters.py``),
then requests of similar length are batched with left padding and generated greedily
(temperature 0) or by seeded sampling. Only the tokenizer and the image processor are loaded,
never the composite processor: in transformers 5.x that one wants a video processor, which needs
torchvision. A request that cannot be prepared (a malformed image, say) becomes an error result.
``GenerationRequest.json_schema`` is not enforced here (no guided decoding in transformers): the
caller parses and validates the text (``PromptTemplate.parse_output``) and retries.
"""

from __future__ import annotations

import inspect
import time
from typing import Any

import torch

from pipeline.backends.adapters import EncodedPrompt, adapter_for
from pipeline.backends.base import BACKENDS, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.backends.engine import LocalEngineBackend, loaded_revision


@BACKENDS.register("transformers")
class TransformersBackend(LocalEngineBackend):
    """Hugging Face transformers generation; ``batch_size`` requests per ``model.generate`` call."""

    name = "transformers"

    def __init__(
        self,
        model: str,
        sampling: SamplingConfig,
        device: str = "cpu",
        batch_size: int = 8,
        dtype: str = "float32",
    ) -> None:
        super().__init__(model, sampling, device=device, batch_size=batch_size, dtype=dtype)
        self.device = device
        self.batch_size = batch_size
        self.dtype = dtype
        self._model: Any = None
        self._eos_ids: list[int] = []
        self._pad_id = 0
        self._forward_params: set[str] = set()

    def setup(self) -> None:
        from transformers import AutoConfig, AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer
        from transformers.utils import is_torchvision_available

        if self._model is not None:
            return
        config = AutoConfig.from_pretrained(self.model)
        tokenizer = AutoTokenizer.from_pretrained(self.model, padding_side="left")
        backend = {} if is_torchvision_available() else {"backend": "pil"}
        image_processor = AutoImageProcessor.from_pretrained(self.model, **backend)
        self._adapter = adapter_for(config, tokenizer, image_processor)
        model = AutoModelForImageTextToText.from_pretrained(self.model, dtype=getattr(torch, self.dtype))
        self._model = model.to(self.device).eval()
        self._forward_params = set(inspect.signature(model.forward).parameters)
        eos = model.generation_config.eos_token_id
        eos = tokenizer.eos_token_id if eos is None else eos
        self._eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        pad = tokenizer.pad_token_id
        self._pad_id = pad if pad is not None else (self._eos_ids or [0])[0]
        self._revision = loaded_revision(config, self.model)

    def prepare(self, request: GenerationRequest) -> EncodedPrompt:
        return self.adapter.encode(request.prompt, request.images)

    def batches(self, ready: list[tuple[int, EncodedPrompt]]) -> list[list[tuple[int, EncodedPrompt]]]:
        """``batch_size`` requests per ``generate`` call, similar prompt lengths together."""
        ready = sorted(ready, key=lambda item: len(item[1].input_ids))
        return [ready[i : i + self.batch_size] for i in range(0, len(ready), self.batch_size)]

    def run(
        self, requests: list[GenerationRequest], prepared: list[EncodedPrompt], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        return self._generate_batch([r.key for r in requests], prepared, sampling)

    def _generate_batch(
        self, keys: list[str], encoded: list[EncodedPrompt], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        width = max(len(e.input_ids) for e in encoded)
        pad = self._pad_id
        input_ids = torch.tensor([[pad] * (width - len(e.input_ids)) + e.input_ids for e in encoded])
        mask = torch.tensor([[0] * (width - len(e.input_ids)) + [1] * len(e.input_ids) for e in encoded])
        inputs = {"input_ids": input_ids, "attention_mask": mask, **self.adapter.collate_images(encoded)}
        extra = self.adapter.token_inputs(input_ids)  # passed only where this transformers takes them
        inputs.update({name: t for name, t in extra.items() if name in self._forward_params})
        inputs = {name: t.to(self.device) for name, t in inputs.items()}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self._model.dtype)
        started = time.perf_counter()
        with torch.inference_mode():
            torch.manual_seed(sampling.seed)
            output = self._model.generate(**inputs, **self._generate_kwargs(sampling))
        latency_ms = (time.perf_counter() - started) * 1000.0  # the batch's wall time, for each row
        rows = zip(keys, output, encoded)
        return [self._result(key, row[width:].tolist(), len(e.input_ids), latency_ms) for key, row, e in rows]

    def _generate_kwargs(self, s: SamplingConfig) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": s.max_new_tokens,
            "pad_token_id": self._pad_id,
            "eos_token_id": self._eos_ids or None,
        }
        if s.temperature > 0:
            return {**kwargs, "do_sample": True, "temperature": s.temperature, "top_p": s.top_p, "top_k": 0}
        return {**kwargs, "do_sample": False, "temperature": None, "top_p": None, "top_k": None}

    def _result(self, key: str, new_ids: list[int], n_prompt: int, latency_ms: float) -> GenerationResult:
        ends = [i for i, token in enumerate(new_ids) if token in self._eos_ids]
        if ends:  # keep the first end-of-sequence token, drop the padding after it
            new_ids = new_ids[: ends[0] + 1]
        text = self.adapter.tokenizer.decode(new_ids, skip_special_tokens=True).strip()
        return GenerationResult(
            key=key,
            text=text,
            n_prompt_tokens=n_prompt,
            n_output_tokens=len(new_ids),
            latency_ms=latency_ms,
            token_ids=new_ids,
        )
