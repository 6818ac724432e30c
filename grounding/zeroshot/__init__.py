"""Training-free grounding from cached text vectors (GranAlign, arXiv 2601.00584, and the lineage
it builds on, VTG-GPT), one concept per file:

- ``normalise``: unit vectors and the per-curve min-max of a similarity curve (Step D's ``g``);
- ``grid``: the query-agnostic captions of a video as a frame grid with a time interval per frame,
  and where each query-aware caption sits on it;
- ``fusion``: Step D, the per-frame score ``S_f`` from (rewrite, caption) pairings, its ablations
  and its fallbacks;
- ``threshold``: VTG-GPT's dynamic histogram threshold (which frames count as high-scoring);
- ``merge``: high frames grouped across gaps of at most ``tau`` seconds (Step E);
- ``filter``: the bottom ``n`` % of proposals by mean score dropped (Step E);
- ``scoring``: ``(1 - lambda) * mean + lambda * normalised length`` (Step E);
- ``nms``: 1-D non-maximum suppression (Step F);
- ``proposals``: the steps above composed into ranked windows in seconds;
- ``saliency``: a frame-grid curve as one score per clip of the dataset's clip grid.

Pure numpy: nothing here loads a model or reads a file, so it runs at thousands of queries per
second on one core (``bench/granalign.py``). The model adapter is ``grounding.models.granalign``.
"""
