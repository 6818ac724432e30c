"""Demo and test stand-ins that ship with the product: the generated demo videos and the tiny
random-weight models (LLaVA, Qwen2-VL, CLIP) that run the real code paths at toy size."""
