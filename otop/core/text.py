"""Hostile text made safe: control characters and escape sequences removed, widths measured."""

from __future__ import annotations

import json
import re
import unicodedata

# CSI/OSC/other ESC sequences, then any remaining C0/C1 control character except tab.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile(
    r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def clean(text: str) -> str:
    """Remove escape sequences and control characters (tabs become spaces)."""
    text = _ESCAPES.sub("", text)
    text = text.replace("\t", " ").replace("\r\n", " ").replace("\n", " ")
    return _CONTROLS.sub("", text)


def clean_lines(text: str) -> str:
    """Each line cleaned, the line breaks kept: the one way out to a terminal for text that
    may carry a session's words (titles, evidence, errors, names from config files)."""
    return "\n".join(clean(line) for line in text.split("\n"))


# json.dumps escapes C0 controls, not C1 ones (a lone 0x9b is a CSI to some terminals).
_C1 = re.compile(r"[\x80-\x9f\u2028\u2029]")


def json_text(obj: object) -> str:
    """JSON for a terminal: readable non-ASCII, every control character escaped."""
    return _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False))


def cell_width(text: str) -> int:
    """Terminal cells a string takes (East Asian wide and emoji count two)."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or ch in "\u200b\u200d\ufe0f":
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def cut(text: str, cells: int, ellipsis: str = "…") -> str:
    """Shorten text to at most `cells` terminal cells, marking the cut."""
    if cells <= 0:
        return ""
    if cell_width(text) <= cells:
        return text
    out = []
    used = 0
    limit = cells - cell_width(ellipsis)
    for ch in text:
        w = cell_width(ch)
        if used + w > limit:
            break
        out.append(ch)
        used += w
    return "".join(out) + ellipsis
