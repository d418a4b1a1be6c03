"""The popup's first frame: the watcher draws its published document as plain ANSI text (the
same counts line and two lines per agent, every text cleaned) into a file of the private
runtime directory, and the prefix+O binding `cat`s it before starting otop, so rows show at
once even on a loaded machine where Python and Textual take a second to start. The frame says
when it was drawn; the app paints over it as soon as it runs."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from otop.core.text import cell_width, clean, cut

_GROUPS = (
    ("waiting", "\x1b[1;38;5;208m"),
    ("working", "\x1b[32m"),
    ("idle", ""),
    ("stale", "\x1b[2m"),
)
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"


def _cell(text: str, width: int) -> str:
    text = cut(clean(text), width)
    return text + " " * max(0, width - cell_width(text))


def _fit(parts: list[tuple[str, str]], width: int) -> str:
    """Styled pieces of one line, cut to `width` cells."""
    out, used = "", 0
    for style, text in parts:
        piece = cut(text, width - used, "")
        if not piece:
            break
        out += f"{style}{piece}{_RESET}"
        used += cell_width(piece)
    return out


def draw(doc: dict[str, Any], width: int, height: int) -> str:
    """The frame as terminal output (cursor home, lines, rest of the screen cleared)."""
    agents = [a for a in doc.get("agents", []) if isinstance(a, dict)]
    counts = {g: sum(a.get("group") == g for a in agents) for g, _ in _GROUPS}
    at = doc.get("generated_at")
    when = time.strftime("%H:%M:%S", time.localtime(at / 1000)) if isinstance(at, int) else "?"
    parts = [(colour, f"{counts[g]} {g}  ") for g, colour in _GROUPS]
    parts += [(_DIM, " sort: urgency ↓  "), (_DIM, f"loading… (as of {when})")]
    lines = [" " + _fit(parts, width - 2)]
    title_w = max(12, width - 15 - 8 - 16 - 8)
    lines.append(
        " "
        + _cell("TITLE", title_w)
        + "  "
        + _cell("STATE", 15)
        + "  "
        + _cell("SESSION", 8)
        + "  "
        + _cell("MODEL", 16)
    )
    colour = dict(_GROUPS)
    for a in agents[: max(0, (height - 3) // 2)]:
        mark = "● " if a.get("unseen") else ""
        state = str(a.get("state") or "")
        if a.get("tool") and state in ("tool", "permission"):
            state += f":{a['tool']}"
        sid = str(a.get("session_id") or "-")[-8:]
        model = str(a.get("model") or "-").split("/")[-1]
        pane = a.get("pane") or {}
        where = (
            f"{pane.get('session')}:{pane.get('window_index')}.{pane.get('pane_index')}"
            if pane
            else ""
        )
        top = (
            _cell(mark + str(a.get("title") or "(no session)"), title_w)
            + "  "
            + _cell(state, 15)
            + "  "
            + _cell(sid, 8)
            + "  "
            + _cell(model, 16)
        )
        # Under the model column: the pane; a line as long as the popup would wrap, scroll, and
        # push the counts line off the top.
        bottom = _cell(str(a.get("last_output") or "-"), title_w + 27) + "  " + _cell(where, 16)
        lines.append(" " + colour.get(str(a.get("group")), "") + top + _RESET)
        lines.append(" " + _DIM + bottom + _RESET)
    return "\x1b[H" + "\r\n".join(lines[: max(1, height)]) + "\x1b[J"


def popup_size(width: str, height: str, clients: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The inside of a popup of `@otop-popup-width`/`-height` (cells or %) on the smallest
    attached client; 78x20 when no client is attached."""
    if not clients:
        return 78, 20
    cw, ch = min(c[0] for c in clients), min(c[1] for c in clients)

    def cells(spec: str, whole: int) -> int:
        n = int(spec.rstrip("%") or 0)
        return whole * n // 100 if spec.endswith("%") else min(n, whole)

    return max(20, cells(width, cw) - 2), max(4, cells(height, ch) - 2)
