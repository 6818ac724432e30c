"""Demo and test stand-ins that ship with the product: the generated demo videos (temporal:
``videos``; spatio-temporal, in the VidSTG + VidOR formats: ``stvg``; the world they show:
``shapes``, ``world``, ``phrases``), the ``shapes`` backend that reads their pixels in place of an
MLLM (``narrator``, ``vision``, ``language``) and the tiny random-weight models (LLaVA, Qwen2-VL,
CLIP) that run the real code paths at toy size."""
