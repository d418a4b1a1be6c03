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


HEADER = "Permission required"
# How far below its header opencode draws the choices (the request's lines sit between).
_DIALOG_LINES = 25


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
            if p in ("38", "48", "58") and i + 1 < len(params):
                # Extended colour: 5;N or 2;R;G;B follow; only 48 is a background.
                n = 3 if params[i + 1] == "5" else 5
                if p == "48":
                    bg = ";".join(params[i + 1 : i + n])
                i += n
                continue
            if p in ("0", "", "49"):
                bg = None
            elif p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
                bg = p
            i += 1
        out.append((plain_pos, bg))
    return out


def _block(styled: str) -> tuple[list[str], int] | None:
    """The dialog's lines (the last `Permission required` header down to its choices line) and
    the index of the choices line in them; None when no dialog is drawn. Text above the
    dialog (a model's output naming the choices) is never read as it."""
    lines = styled.splitlines()
    plain = [_SGR.sub("", line) for line in lines]
    heads = [i for i, p in enumerate(plain) if HEADER in p]
    if not heads:
        return None
    h = heads[-1]
    for j in range(h + 1, min(len(lines), h + _DIALOG_LINES)):
        if all(c in plain[j] for c in CHOICES):
            return lines[h : j + 1], j - h
    return None


def request(styled: str) -> str | None:
    """The dialog's text without its choices (what is being asked), to tell one request from
    the next; None when no dialog is drawn."""
    block = _block(styled)
    if block is None:
        return None
    lines, at = block
    return "\n".join(_SGR.sub("", line).rstrip() for line in lines[:at])


def selected(styled: str) -> int | None:
    """Which choice (0, 1, 2) the dialog has selected, or None when no dialog is drawn."""
    block = _block(styled)
    if block is None:
        return None
    lines, at = block
    line = lines[at]
    plain = _SGR.sub("", line)
    changes = _backgrounds(line)
    bgs = []
    for choice in CHOICES:
        pos = plain.index(choice)
        bg = None
        for where, b in changes:
            if where <= pos:
                bg = b
            else:
                break
        bgs.append(bg)
    odd = [i for i, b in enumerate(bgs) if bgs.count(b) == 1]
    return odd[0] if len(odd) == 1 else None


def moves(current: int, wanted: int) -> list[str]:
    """The tmux key names that move the selection from one choice to another."""
    step = (wanted - current) % len(CHOICES)
    return ["Right"] * step if step <= 1 else ["Left"] * (len(CHOICES) - step)
