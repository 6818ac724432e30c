"""``groundwork.cli.run_app``: a user's mistake is a message and exit code 2, never a traceback,
whichever click typer runs on (typer 0.2x carries its own copy)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from groundwork.cli import new_app, run_app
from groundwork.errors import InputError


def tiny_app() -> typer.Typer:
    app = new_app("A tiny app.")

    @app.command()
    def greet(name: str = typer.Option("you", help="who")) -> None:
        """Say hello."""
        if name == "nobody":
            raise InputError("name 'nobody': give someone")
        print(f"hello {name}")

    @app.command()
    def stop() -> None:
        """Abort."""
        raise typer.Abort()

    return app


def test_usage_errors_user_errors_and_aborts_are_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    app = tiny_app()
    assert run_app(app, ["greet", "--name", "ann"], "tiny") == 0
    assert capsys.readouterr().out == "hello ann\n"
    assert run_app(app, ["greet", "--bogus"], "tiny") == 2
    assert "No such option: --bogus" in capsys.readouterr().err
    assert run_app(app, [], "tiny") == 2  # no arguments: the usage, as click prints it
    assert capsys.readouterr().err.startswith("Usage: tiny [OPTIONS] COMMAND")
    assert run_app(app, ["greet", "--name", "nobody"], "tiny") == 2
    assert capsys.readouterr().err == "tiny: error: name 'nobody': give someone\n"
    assert run_app(app, ["stop"], "tiny") == 130
    with pytest.raises(SystemExit) as exit_:
        run_app(app, ["--help"], "tiny")
    assert exit_.value.code == 0


def test_a_console_entry_point_gives_no_traceback_for_an_unknown_option() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grounding.demo", "--no-such-flag"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "No such option: --no-such-flag" in done.stderr
    assert "Traceback" not in done.stderr
