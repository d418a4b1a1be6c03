"""Pure: opencode's permission dialog read from a pane's styled text (`capture-pane -e`).

The TUI draws `Allow once   Allow always   Reject` on one line and marks the selected choice
with its own background colour; Left and Right move the selection (wrapping), Enter confirms.
otop reads which choice is selected before and after moving, so it never confirms blind.
"""

from __future__ import annotations

import re

CHOICES = ("Allow once", "Allow always", "Reject")
REPLIES = ("once", "always", "reject")  # opencode's own names for them
_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def _backgrounds(line: str) -> list[tuple[int, str | None]]:
    """(position in the plain text, background in effect) at every SGR change of a line."""
    out: list[tuple[int, str | None]] = []
    bg: str | None = None
    plain_pos = 0
    last = 0
    for m in _SGR.finditer(line):
        plain_pos += len(_SGR.sub("", line[last : m.start()]))
        last = m.end()
        params = m.group(1).split(";") if m.group(1) else ["0"]
        i = 0
        while i < len(params):
            p = params[i]
            if p in ("0", "") or p == "49":
                bg = None
            elif p == "48" and i + 1 < len(params):
                n = 3 if params[i + 1] == "5" else 5
                bg = ";".join(params[i + 1 : i + n])
                i += n - 1
            elif p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
                bg = p
            i += 1
        out.append((plain_pos, bg))
    return out


def selected(styled: str) -> int | None:
    """Which choice (0, 1, 2) the dialog has selected, or None when no dialog is drawn."""
    for line in styled.splitlines():
        plain = _SGR.sub("", line)
        if not all(c in plain for c in CHOICES):
            continue
        changes = _backgrounds(line)
        bgs = []
        for choice in CHOICES:
            at = plain.index(choice)
            bg = None
            for pos, b in changes:
                if pos <= at:
                    bg = b
                else:
                    break
            bgs.append(bg)
        odd = [i for i, b in enumerate(bgs) if bgs.count(b) == 1]
        return odd[0] if len(odd) == 1 else None
    return None


def moves(current: int, wanted: int) -> list[str]:
    """The tmux key names that move the selection from one choice to another."""
    step = (wanted - current) % len(CHOICES)
    return ["Right"] * step if step <= 1 else ["Left"] * (len(CHOICES) - step)
