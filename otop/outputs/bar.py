"""Pure: the `otop list --json` document as desktop-bar output (SwiftBar, waybar, plain)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from otop.core.model import Group
from otop.core.text import clean, cut
from otop.outputs.render import DEFAULT_ICONS

GROUPS = tuple(g.value for g in Group)  # most urgent first
LETTER = {"waiting": "W", "working": "G", "idle": "I", "stale": "S"}
COLOUR = {"waiting": "#ff8700", "working": "#5faf00", "idle": "#a8a8a8", "stale": "#6c6c6c"}
ICON = {g.value: DEFAULT_ICONS[g] for g in Group}


def _agents(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    agents = doc.get("agents")
    return [a for a in agents if isinstance(a, Mapping)] if isinstance(agents, list) else []


def counts(doc: Mapping[str, Any]) -> dict[str, int]:
    out = dict.fromkeys(GROUPS, 0)
    for a in _agents(doc):
        g = a.get("group")
        if g in out:
            out[g] += 1
    return out


def _line(a: Mapping[str, Any]) -> str:
    """One agent in words, safe for any bar: no control characters, no `|`."""
    title = clean(str(a.get("title") or "(no session)"))
    state = clean(str(a.get("state") or "?"))
    if a.get("tool"):
        state += f":{clean(str(a['tool']))}"
    pane = a.get("pane")
    where = clean(str(pane.get("session", ""))) if isinstance(pane, Mapping) else ""
    if isinstance(pane, Mapping):
        where += f":{pane.get('window_index')}.{pane.get('pane_index')}"
    text = f"{state}  {cut(title, 60)}" + (f"  [{where}]" if where else "")
    return text.replace("|", "¦")


def summary(doc: Mapping[str, Any], letters: bool = True) -> str:
    c = counts(doc)
    mark = LETTER if letters else ICON
    return " ".join(f"{mark[g]}{c[g]}" for g in GROUPS if c[g]) or "no agents"


def by_group(doc: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    out = []
    for g in GROUPS:
        members = [a for a in _agents(doc) if a.get("group") == g]
        if members:
            out.append((g, members))
    return out


def plain(doc: Mapping[str, Any]) -> str:
    lines = [summary(doc)]
    for g, members in by_group(doc):
        lines += [f"{g}:"] + [f"  {_line(a)}" for a in members]
    lines += [f"! {clean(str(p))}" for p in _problems(doc)]
    return "\n".join(lines)


def swiftbar(doc: Mapping[str, Any]) -> str:
    """SwiftBar/xbar: the title line, then a menu grouped by urgency, then Refresh."""
    c = counts(doc)
    colour = COLOUR["waiting"] if c["waiting"] else COLOUR["working"] if c["working"] else ""
    head = summary(doc) + (f" | color={colour}" if colour else "")
    lines = [head, "---"]
    for g, members in by_group(doc):
        lines.append(f"{g.capitalize()} ({len(members)}) | color={COLOUR[g]}")
        lines += [f"--{_line(a)} | color={COLOUR[g]}" for a in members]
    for p in _problems(doc):
        lines.append(f"{clean(str(p)).replace('|', '¦')} | color=red")
    lines += ["---", "Refresh | refresh=true"]
    return "\n".join(lines)


def waybar(doc: Mapping[str, Any]) -> str:
    """waybar/i3bar custom module JSON: text, tooltip, class and alt (the most urgent group)."""
    c = counts(doc)
    top = next((g for g in GROUPS if c[g]), "none")
    tooltip = "\n".join(_line(a) for _, members in by_group(doc) for a in members)
    problems = [clean(str(p)) for p in _problems(doc)]
    body = {
        "text": summary(doc, letters=False) if top != "none" else "",
        # waybar reads tooltips as Pango markup (its `escape` is off by default).
        "tooltip": pango("\n".join([tooltip, *problems]).strip()) or "no opencode agents",
        "class": top,
        "alt": top,
    }
    return json.dumps(body, ensure_ascii=False)


def pango(text: str) -> str:
    """Text made safe inside Pango markup: `&`, `<` and `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _problems(doc: Mapping[str, Any]) -> Sequence[object]:
    p = doc.get("problems")
    return p if isinstance(p, list) else []


FORMATS = {"plain": plain, "swiftbar": swiftbar, "waybar": waybar}
