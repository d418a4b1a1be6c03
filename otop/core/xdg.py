"""The XDG base directories, read one way for opencode's paths, otop's own config and the
runtime directory. Imports only `os`: `otop list --json` resolves paths with it before
anything else loads (otop/cli/entry.py)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


def xdg_dir(env: Mapping[str, str], name: str, default: str = "") -> str:
    """An XDG base directory: $NAME when it is absolute (the spec ignores a relative one),
    else DEFAULT under the home directory; "" when unset and without a default (as
    XDG_RUNTIME_DIR is)."""
    value = env.get(name, "")
    if value and os.path.isabs(value):
        return value
    if not default:
        return ""
    home = env.get("HOME") or os.path.expanduser("~")
    return os.path.join(home, default)
