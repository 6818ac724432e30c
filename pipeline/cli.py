"""``priors``: the priors pipeline's command line (typer). Each subcommand lives in
``pipeline/commands/<name>.py`` as a function registered here; a module that fails to import is
an error, never a command that silently disappears."""

from __future__ import annotations

import sys

from groundwork.cli import new_app, run_app
from pipeline.commands import compact, errors, export, gc, run, stats, status

app = new_app(
    "Generate training-time priors (narratives, clip captions, events, query rewrites, query-aware "
    "captions) for video grounding datasets with a vision-language model, into a shared "
    "content-addressed Parquet cache, and write the manifest the trainer reads."
)
for module in (run, status, errors, stats, export, compact, gc):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    return run_app(app, argv, "priors")


if __name__ == "__main__":
    sys.exit(main())
