"""Pure: one agent as two styled table rows' worth of cells, and the header counts."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

from otop.model import Agent, Group
from otop.render import age, counts, short_id, state_label, title_of
from otop.text import clean, cut

STYLE = {
    Group.WORKING: "green",
    Group.WAITING: "bold dark_orange",
    Group.IDLE: "",
    Group.STALE: "dim",
}
COLUMNS = ("TITLE", "STATE", "SESSION", "UP", "CPU%", "TOKENS", "MODEL")


def _mb(n: int | None) -> str:
    return f"{n / 1e6:.0f}M" if n else "-"


def cells(agent: Agent, now: float, title_width: int = 40) -> list[Text]:
    """Seven cells, each two lines: the first line facts, the second dimmed secondary facts."""
    s = agent.session
    p = agent.proc
    style = STYLE[agent.group]
    title = title_of(agent) + (" ?" if agent.guessed else "")
    last = clean(s.last_output) if s else ""
    loc = agent.pane.location if agent.pane else "-"
    top = [
        cut(title, title_width),
        state_label(agent),
        short_id(agent.session_id),
        age(now - p.started_at) if p else "-",
        f"{p.cpu_percent:.1f}" if p and p.cpu_percent is not None else "-",
        f"{s.tokens.total:,}" if s else "-",
        cut(clean(s.model).split("/")[-1], 18) if s else "-",
    ]
    bottom = [
        cut(last or "-", title_width),
        f"round {age(now - s.turn.round_started_at)}" if s and s.turn.round_started_at else "",
        f"{s.messages} msgs" if s else "",
        f"pid {p.pid}" if p else "no process",
        _mb(p.rss_bytes) if p else "",
        f"out {s.tokens.output:,}" if s else "",
        loc,
    ]
    out = []
    for a, b in zip(top, bottom, strict=True):
        t = Text(a, style=style, no_wrap=True, overflow="ellipsis")
        t.append("\n")
        t.append(b, style="dim")
        out.append(t)
    return out


def header(agents: Sequence[Agent]) -> Text:
    """Counts by group, most urgent first."""
    c = counts(agents)
    t = Text()
    for group, label in ((Group.WAITING, "waiting"), (Group.WORKING, "working"),
                         (Group.IDLE, "idle"), (Group.STALE, "stale")):  # fmt: skip
        if t:
            t.append("  ")
        t.append(f"{c[group]} {label}", style=STYLE[group] or None)
    return t
