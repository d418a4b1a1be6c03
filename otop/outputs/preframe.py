"""The popup's first frame: the watcher draws the rows of its published scan as plain ANSI text
(the same counts line and two lines per agent, the app's strings from otop/outputs/row.py)
into a file of the private runtime directory, and the prefix+O binding `cat`s it before
starting otop, so rows show at once even on a loaded machine where Python and Textual take a
second to start. The frame says when it was drawn; the app paints over it as soon as it runs."""

from __future__ import annotations

import time
from collections.abc import Sequence

from otop.core.model import Group
from otop.core.text import cell_width, clean, cut
from otop.outputs.row import RowView

_COLOURS = {
    Group.WAITING: "\x1b[1;38;5;208m",
    Group.WORKING: "\x1b[32m",
    Group.IDLE: "",
    Group.STALE: "\x1b[2m",
}
_RESET = "\x1b[0m"
_DIM = "\x1b[2m"


def _cell(text: str, width: int) -> str:
    # Rows come cleaned; the frame goes to a raw terminal, where once more is cheap insurance.
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


def draw(rows: Sequence[RowView], generated_at: float, width: int, height: int) -> str:
    """The frame of these rows (otop/outputs/row.py) as terminal output (cursor home, lines,
    rest of the screen cleared)."""
    when = time.strftime("%H:%M:%S", time.localtime(generated_at))
    parts = [(c, f"{sum(r.group == g for r in rows)} {g.value}  ") for g, c in _COLOURS.items()]
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
    for r in rows[: max(0, (height - 3) // 2)]:
        top = (
            _cell(r.title, title_w)
            + "  "
            + _cell(r.label, 15)
            + "  "
            + _cell(r.short_id, 8)
            + "  "
            + _cell(r.model, 16)
        )
        # Under the model column: the pane; a line as long as the popup would wrap, scroll, and
        # push the counts line off the top.
        bottom = _cell(r.last_output or "-", title_w + 27) + "  " + _cell(r.pane, 16)
        lines.append(" " + _COLOURS[r.group] + top + _RESET)
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
