"""The neutral core that both halves of Groundwork import, and that imports neither.

``pipeline`` (the producer of priors) and ``grounding`` (their consumer) meet in the cache, so
what they must agree on lives here: the registry class, content hashing and cache keys, the cache
layout and store, the manifest reader, one atomic-write helper, the progress-bar helper, the
layered settings parser behind every command line, and the user-error type the commands turn
into exit code 2. Nothing here loads a model, a video or Ray.
"""
