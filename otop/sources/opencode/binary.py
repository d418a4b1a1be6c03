"""Which opencode an executable is: the version of the npm package it came in (`opencode-*` for
the 1.x line, `@opencode/cli-*` for opencode 2), read once per file. A machine may run both
lines side by side, so this is asked of each process's own executable, never guessed once."""

from __future__ import annotations

import json
import os
import re

# npm's platform packages hold `bin/opencode` beside their package.json.
_PACKAGE = re.compile(r"^(@opencode/cli|@opencode-ai/cli|opencode)(-[a-z0-9-]+)?$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+[0-9A-Za-z.+-]*$")
_MOST_BYTES = 64 * 1024

_seen: dict[tuple[str, float], str | None] = {}


def version_of(exe: str | None) -> str | None:
    """The opencode version of an executable (`2.1.2`), or None where no package says it (an
    install of another kind, a file that went away)."""
    if not exe:
        return None
    path = exe.removesuffix(" (deleted)")
    try:
        stamp = os.stat(path).st_mtime
    except OSError:
        return None
    key = (path, stamp)
    if key not in _seen:
        if len(_seen) > 64:
            _seen.clear()
        _seen[key] = _read(os.path.join(os.path.dirname(os.path.dirname(path)), "package.json"))
    return _seen[key]


def generation(version: str | None) -> int | None:
    """1 or 2 (opencode's major version) of a version string, None when unknown."""
    if version is None:
        return None
    major = version.split(".", 1)[0]
    return int(major) if major.isdigit() else None


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read(_MOST_BYTES))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not _PACKAGE.match(str(doc.get("name", ""))):
        return None
    version = str(doc.get("version", ""))
    return version if _VERSION.match(version) else None
