"""``priors``: the priors pipeline's command line.

Each subcommand lives in ``pipeline/commands/<name>.py`` and exposes
``add_parser(subparsers)`` (which sets ``func`` on its parser) and is listed in COMMANDS."""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = ("run", "status", "errors", "stats")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="priors",
        description=(
            "Generate training-time priors (narratives, clip captions, events, query rewrites) "
            "for video grounding datasets with a vision-language model, into a shared "
            "content-addressed Parquet cache."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"pipeline.commands.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"pipeline.commands.{name}":
                raise
            continue
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
