"""User errors: a mistake in what the user gave (a file, a field, a flag, a video), as opposed to
a bug. The command lines print a user error as one line naming the thing and exit with code 2;
any other exception keeps its traceback.

``InputError`` is also a ``ValueError`` and ``MissingInputError`` a ``FileNotFoundError``, so
code that catches the built-in types keeps working."""

from __future__ import annotations


class UserError(Exception):
    """Marker base: the message alone tells the user what to fix."""


class InputError(UserError, ValueError):
    """A value, file content, flag or config field that is wrong."""


class MissingInputError(UserError, FileNotFoundError):
    """A file or folder the user named (or a recorded path) that does not exist."""
