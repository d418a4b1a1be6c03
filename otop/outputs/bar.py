"""Pure: agents' rows (otop/outputs/row.py) as desktop-bar output (SwiftBar, waybar, plain)."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from otop.core.model import Group
from otop.core.text import clean, cut
from otop.outputs.render import DEFAULT_ICONS
from otop.outputs.row import RowView

GROUPS = tuple(g.value for g in Group)  # most urgent first
LETTER = {"waiting": "W", "working": "G", "idle": "I", "stale": "S"}
COLOUR = {"waiting": "#ff8700", "working": "#5faf00", "idle": "#a8a8a8", "stale": "#6c6c6c"}
ICON = {g.value: DEFAULT_ICONS[g] for g in Group}


def counts(rows: Sequence[RowView]) -> dict[str, int]:
    out = dict.fromkeys(GROUPS, 0)
    for r in rows:
        out[r.group.value] += 1
    return out


def _line(r: RowView) -> str:
    """One agent in words, safe for any bar: no control characters, no `|`."""
    text = f"{r.label}  {cut(r.title, 60)}" + (f"  [{r.pane}]" if r.pane else "")
    return text.replace("|", "¦")


def summary(rows: Sequence[RowView], letters: bool = True) -> str:
    c = counts(rows)
    mark = LETTER if letters else ICON
    return " ".join(f"{mark[g]}{c[g]}" for g in GROUPS if c[g]) or "no agents"


def by_group(rows: Sequence[RowView]) -> list[tuple[str, list[RowView]]]:
    out = []
    for g in GROUPS:
        members = [r for r in rows if r.group.value == g]
        if members:
            out.append((g, members))
    return out


def plain(rows: Sequence[RowView], problems: Sequence[str] = ()) -> str:
    lines = [summary(rows)]
    for g, members in by_group(rows):
        lines += [f"{g}:"] + [f"  {_line(r)}" for r in members]
    lines += [f"! {clean(p)}" for p in problems]
    return "\n".join(lines)


def swiftbar(rows: Sequence[RowView], problems: Sequence[str] = ()) -> str:
    """SwiftBar/xbar: the title line, then a menu grouped by urgency, then Refresh."""
    c = counts(rows)
    colour = COLOUR["waiting"] if c["waiting"] else COLOUR["working"] if c["working"] else ""
    head = summary(rows) + (f" | color={colour}" if colour else "")
    lines = [head, "---"]
    for g, members in by_group(rows):
        lines.append(f"{g.capitalize()} ({len(members)}) | color={COLOUR[g]}")
        lines += [f"--{_line(r)} | color={COLOUR[g]}" for r in members]
    for p in problems:
        lines.append(f"{clean(p).replace('|', '¦')} | color=red")
    lines += ["---", "Refresh | refresh=true"]
    return "\n".join(lines)


def waybar(rows: Sequence[RowView], problems: Sequence[str] = ()) -> str:
    """waybar/i3bar custom module JSON: text, tooltip, class and alt (the most urgent group)."""
    c = counts(rows)
    top = next((g for g in GROUPS if c[g]), "none")
    tooltip = "\n".join(_line(r) for _, members in by_group(rows) for r in members)
    body = {
        "text": summary(rows, letters=False) if top != "none" else "",
        # waybar reads tooltips as Pango markup (its `escape` is off by default).
        "tooltip": pango("\n".join([tooltip, *map(clean, problems)]).strip())
        or "no opencode agents",
        "class": top,
        "alt": top,
    }
    return json.dumps(body, ensure_ascii=False)


def pango(text: str) -> str:
    """Text made safe inside Pango markup: `&`, `<` and `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


FORMATS: dict[str, Callable[[Sequence[RowView], Sequence[str]], str]] = {
    "plain": plain,
    "swiftbar": swiftbar,
    "waybar": waybar,
}
