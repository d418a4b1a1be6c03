"""What a one-shot scan (`otop list` without a watcher) keeps of a database for the next one:
the index of root sessions (otop/sources/opencode/index.py) and where the shared log was read
to, with the runs folded so far (otop/sources/opencode/logs.py). The next one-shot goes on from
there, as a watcher's next scan does, instead of reading the whole session table and the log
since the oldest live process started. One small JSON file per database in the private runtime
directory, written whole and renamed into place; a file that is missing, torn, of another
layout or of another database is no file."""

from __future__ import annotations

import json
import os
from typing import Any

from otop.watcher.runtime import open_private, private_name

# The file's layout; another number is read as no file.
VERSION = 1


def kept_name(db: str) -> str:
    """The file a database's state is kept in, named after the database's real path."""
    return private_name("kept", db, ".json")


def read(path: str) -> tuple[dict[str, Any], str] | None:
    """The state kept at a path and its text, or None (never through a symlink)."""
    try:
        with os.fdopen(open_private(path, os.O_RDONLY), encoding="utf-8") as f:
            text = f.read()
        state = json.loads(text)
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("version") != VERSION:
        return None
    return state, text


def text_of(state: dict[str, Any]) -> str:
    """The file's text for a state."""
    return json.dumps({"version": VERSION, **state}, ensure_ascii=False)


def write(path: str, text: str) -> bool:
    """Keep a state's text at a path (mode 0600; a symlink planted there is replaced, never
    written through); False when it could not be written."""
    part = f"{path}.{os.getpid()}"
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        with os.fdopen(open_private(part, flags), "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(part, path)
    except OSError:
        return False
    return True
