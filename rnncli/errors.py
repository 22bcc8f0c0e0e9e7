"""Errors that the command line turns into exit codes.

`InputError` is bad usage or input (exit 2): its message is one line that names the
file, key or value at fault, and it is printed without a traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """Bad usage or input: a one-line message, exit code 2."""


class CheckFailed(RuntimeError):
    """A check failed or training diverged: exit code 1."""


class CellError(CheckFailed):
    """Code in a user's cell raised or misbehaved while running: exit code 1. The message
    names the cell, the method and the line in the user's file."""
