"""What every command line shares: run a typer app so that a user's mistake (a ``UserError``: a
bad flag, config field, file, feature, prediction row) is one line on stderr and exit code 2,
a usage error is click's message and exit code 2, ``--help`` exits 0, and anything unexpected
keeps its traceback (exit 1)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click
import typer

from groundwork.errors import UserError

CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["-h", "--help"]}

# typer 0.2x carries its own copy of click: its usage errors (an unknown option, no arguments)
# and aborts are not click's classes. Both are caught; typer's error base class only when it has
# click's show() and exit_code (older typers raise click's own).
USAGE_ERRORS: tuple[type[Exception], ...] = (
    click.ClickException,
    getattr(typer, "TyperException", click.ClickException),
)
ABORTS: tuple[type[BaseException], ...] = (click.Abort, typer.Abort)


def new_app(help_text: str) -> typer.Typer:
    """A typer app with plain help formatting (tables in epilogs stay as written)."""
    return typer.Typer(
        help=help_text,
        rich_markup_mode=None,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
        pretty_exceptions_enable=False,
    )


def run_app(app: typer.Typer, argv: Sequence[str] | None, prog: str) -> int:
    """Run ``app`` on ``argv`` (default ``sys.argv[1:]``): returns 0 on success and 2 after a
    user error or a usage error (its message printed on stderr); ``--help`` exits 0 (SystemExit,
    as argparse does). Console scripts ``sys.exit`` the returned code."""
    command = typer.main.get_command(app)
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = command.main(args=args, prog_name=prog, standalone_mode=False)
    except USAGE_ERRORS as exc:
        if not hasattr(exc, "show"):
            raise
        exc.show()
        return int(getattr(exc, "exit_code", 2))
    except ABORTS:
        print(f"{prog}: aborted", file=sys.stderr)
        return 130
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if result is None:
        return 0
    if result == 0:  # --help (click returns the code of an explicit exit)
        raise SystemExit(0)
    return int(result)  # a command that ended with typer.Exit(code)
