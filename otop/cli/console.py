"""What every command prints and raises: lines cleaned for a terminal, usage errors."""

from __future__ import annotations

from typing import TextIO

from otop.cli.exits import USAGE
from otop.core.text import clean_lines


def say(*parts: object, file: TextIO | None = None, flush: bool = False) -> None:
    """Print for a terminal: every line cleaned of escapes and control characters, since
    titles, evidence, paths and server words may carry them."""
    print(clean_lines(" ".join(map(str, parts))), file=file, flush=flush)


class CommandError(Exception):
    """What kept a command from its work: printed as one line, and its exit status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class UsageError(CommandError):
    """Bad input from the user: exit status 2."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)
