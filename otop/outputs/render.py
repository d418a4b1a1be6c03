"""Pure: agents as JSON, as a plain table, and as tmux-safe status text."""

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from otop.core.model import GROUP_RANK, Agent, Group, ProcKind, Scan
from otop.core.text import cell_width, clean, cut
from otop.outputs.row import RowView, age, directory_of, row_view, title_of

JSON_VERSION = 1


def _ms(t: float | None) -> int | None:
    return int(t * 1000) if t is not None else None


def visible(agent: Agent, show_all: bool, background: bool | None = None) -> bool:
    """Whether a view lists an agent: interactive TUIs by default; `show_all` adds
    non-interactive sessions, `background` adds `opencode run` and servers (default: show_all)."""
    if background is None:
        background = show_all
    if agent.proc is not None and agent.proc.kind in (ProcKind.RUN, ProcKind.SERVE):
        return background
    return show_all or interactive(agent)


def interactive(agent: Agent) -> bool:
    """A TUI (or `attach`) process is interactive whatever its session's origin (a TUI may
    resume a session `opencode run` made); without a process, the session's own flag says."""
    if agent.proc is not None:
        return agent.proc.kind in (ProcKind.TUI, ProcKind.ATTACH)
    return agent.session is None or agent.session.brief.interactive


def urgency(agent: Agent) -> tuple[int, float, str]:
    """Sort key: waiting first (longest wait first), then working, idle, stale."""
    since = agent.waiting_since or 0.0
    return (GROUP_RANK[agent.group], since, agent.session.brief.title if agent.session else "")


def ordered(agents: Iterable[Agent]) -> list[Agent]:
    return sorted(agents, key=urgency)


def _children(agent: Agent) -> list[dict[str, object]]:
    return [
        {
            "session_id": c.session.brief.id,
            "title": clean(c.session.brief.title),
            "state": c.state.value,
            "group": c.state.group.value,
            "tool": c.tool,
        }
        for c in agent.subagents
    ]


def agent_json(agent: Agent, now: float) -> dict[str, object]:
    """One agent in the `otop list --json` shape."""
    s = agent.session
    p = agent.proc
    return {
        "key": agent.key,
        "pid": p.pid if p else None,
        "kind": p.kind.value if p else None,
        "session_id": s.brief.id if s else None,
        "title": title_of(agent) if s else None,
        "directory": directory_of(agent) or None,
        "state": agent.state.value,
        "group": agent.group.value,
        "tool": agent.tool,
        "interactive": interactive(agent),
        "model": s.model if s else None,
        "agent": s.agent if s else None,
        "tokens": s.tokens.to_json() if s else None,
        "cost": s.cost if s else None,
        "messages": s.messages if s else 0,
        "last_output": s.last_output if s else "",
        "round_started_at": _ms(s.turn.round_started_at) if s else None,
        "last_activity_at": _ms(s.turn.last_activity_at) if s else None,
        "waiting_since": _ms(agent.waiting_since),
        "unseen": agent.unseen,
        "seen_at": _ms(agent.seen_at),
        "started_at": _ms(p.started_at) if p else None,
        "cpu_percent": round(p.cpu_percent, 1) if p and p.cpu_percent is not None else None,
        "rss_bytes": p.rss_bytes if p else None,
        "tty": p.tty if p else None,
        "pane": agent.pane.to_json() if agent.pane else None,
        "server": agent.server,
        "database": clean(agent.database) if agent.database else None,
        "children": _children(agent),
        "todos": [
            {"content": clean(t.content), "status": t.status, "priority": t.priority}
            for t in (s.todos if s else ())
        ],
        "evidence": {
            "pane": agent.evidence_pane.to_json(),
            "session": agent.evidence_session.to_json(),
            "state": agent.evidence_state.to_json(),
        },
    }


def document(scan: Scan, agents: Sequence[Agent]) -> dict[str, object]:
    """The `otop list --json` document."""
    return {
        "version": JSON_VERSION,
        "generated_at": _ms(scan.generated_at),
        "agents": [agent_json(a, scan.generated_at) for a in agents],
    }


def counts(agents: Iterable[Agent]) -> dict[Group, int]:
    out = dict.fromkeys(Group, 0)
    for a in agents:
        out[a.group] += 1
    return out


def table(agents: Sequence[Agent], now: float, width: int = 120) -> str:
    """A readable plain-text table for `otop list`."""
    head = ("STATE", "TITLE", "SESSION", "PANE", "PID", "CPU%", "ROUND", "MODEL")
    rows = [_table_row(row_view(a, now)) for a in agents]
    fixed = [max([cell_width(h)] + [cell_width(r[i]) for r in rows]) for i, h in enumerate(head)]
    title_w = max(12, min(fixed[1], width - sum(fixed) + fixed[1] - 2 * len(head)))
    fixed[1] = title_w
    lines = []
    for r in (head, *rows):
        cells = [cut(c, fixed[i]) for i, c in enumerate(r)]
        lines.append(
            "  ".join(c + " " * (fixed[i] - cell_width(c)) for i, c in enumerate(cells)).rstrip()
        )
    return "\n".join(lines)


def _table_row(v: RowView) -> tuple[str, ...]:
    """A row's strings in the table's columns, "-" where there is nothing to show."""
    cells = (v.label, v.title, v.short_id, v.pane, v.pid, v.cpu, v.round_age, v.model)
    return tuple(c or "-" for c in cells)


# -- tmux status line and window badges ------------------------------------------------------


def tmux_escape(text: str) -> str:
    """Text made inert in a tmux format: `#` doubled, so `#(`, `#[` and `#{` stay literal."""
    return clean(text).replace("#", "##")


def message_text(text: str) -> str:
    """Text for `display-message`, which expands formats and then strftime: `#` and `%`
    doubled."""
    return tmux_escape(text).replace("%", "%%")


UNSEEN = "unseen"
# What `@otop-status-format` may name: the groups, and agents done or waiting since last seen.
PLACEHOLDERS = (*(g.value for g in Group), UNSEEN)
DEFAULT_TEMPLATE = "{waiting} {unseen} {working} {idle} {stale}"
UNSEEN_ICON = "●"
UNSEEN_COLOUR = "colour39"


class StatusStyle(NamedTuple):
    """How counts and badges look in tmux: a glyph and a colour per group (and for unseen
    agents), and a template."""

    icons: Mapping[Group, str]
    colours: Mapping[Group, str]
    template: str = DEFAULT_TEMPLATE
    unseen_icon: str = UNSEEN_ICON
    unseen_colour: str = UNSEEN_COLOUR

    def paint(self, group: Group | None, text: str) -> str:
        """Text (already escaped) in its group's colour (None: the unseen colour); colours are
        tmux style words."""
        colour = self.unseen_colour if group is None else self.colours.get(group, "")
        if not colour or colour == "default":
            return text
        return f"#[fg={colour}]{text}#[fg=default]"


DEFAULT_ICONS: dict[Group, str] = {
    Group.WAITING: "⏳",
    Group.WORKING: "⚙",
    Group.IDLE: "·",
    Group.STALE: "✗",
}
DEFAULT_COLOURS: dict[Group, str] = {
    Group.WAITING: "colour208",
    Group.WORKING: "colour2",
    Group.IDLE: "default",
    Group.STALE: "colour244",
}
DEFAULT_STYLE = StatusStyle(DEFAULT_ICONS, DEFAULT_COLOURS)


def status_text(agents: Iterable[Agent], style: StatusStyle = DEFAULT_STYLE) -> str:
    """Counts by group (and of unseen agents) for `#{otop_status}`: empty counts and a world
    without agents vanish."""
    agents = list(agents)
    c = counts(agents)
    parts: dict[str, str] = {}
    for group in Group:
        n = c[group]
        parts[group.value] = (
            style.paint(group, f"{tmux_escape(style.icons.get(group, ''))}{n}") if n else ""
        )
    n = sum(a.unseen for a in agents)
    parts[UNSEEN] = style.paint(None, f"{tmux_escape(style.unseen_icon)}{n}") if n else ""
    try:
        text = style.template.format_map(parts)
    except (KeyError, ValueError, IndexError):
        text = DEFAULT_STYLE.template.format_map(parts)
    return " ".join(text.split())


def window_badges(
    agents: Iterable[Agent], now: float, style: StatusStyle = DEFAULT_STYLE
) -> dict[str, str]:
    """Per tmux window id, a badge for the most urgent of its agents (with a leading space).

    Waiting badges say how long the agent has waited; a `?` marks a guessed session, the unseen
    icon an agent that finished or began waiting since a client last showed its pane.
    """
    best: dict[str, Agent] = {}
    guessed: set[str] = set()
    unseen: set[str] = set()
    for a in agents:
        if a.pane is None:
            continue
        wid = a.pane.window_id
        if a.guessed:
            guessed.add(wid)
        if a.unseen:
            unseen.add(wid)
        cur = best.get(wid)
        if cur is None or urgency(a) < urgency(cur):
            best[wid] = a
    out: dict[str, str] = {}
    for wid, a in best.items():
        text = style.icons.get(a.group, "")
        if a.group == Group.WAITING and a.waiting_since is not None:
            text += age(now - a.waiting_since)
        if wid in guessed:
            text += "?"
        out[wid] = " " + style.paint(a.group, tmux_escape(text))
        if wid in unseen:
            out[wid] += style.paint(None, tmux_escape(style.unseen_icon))
    return out
