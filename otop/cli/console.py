"""What every command prints and raises: lines cleaned for a terminal, usage errors."""

from __future__ import annotations

from typing import TextIO

from otop.core.text import clean_lines


def say(*parts: object, file: TextIO | None = None, flush: bool = False) -> None:
    """Print for a terminal: every line cleaned of escapes and control characters, since
    titles, evidence, paths and server words may carry them."""
    print(clean_lines(" ".join(map(str, parts))), file=file, flush=flush)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""
