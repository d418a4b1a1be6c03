"""Pure: the one row model. What a person sees of an agent (or of one of its subagents) is
built here once, as plain strings, and every view lays it out: the plain table, the app's
cells, the popup's first frame and the desktop bars."""

from typing import NamedTuple

from otop.core.model import Agent, Group, ProcKind, SessionDetail, State, Subagent
from otop.core.text import clean

UNSEEN_MARK = "● "  # before the title: finished or began waiting since its pane was last shown
GUESSED_MARK = " ?"  # after the title: the session is a guess
CHILD_MARK = "↳ "  # before a subagent's title


class RowView(NamedTuple):
    """What a person sees of one agent or subagent: cleaned strings ("" where there is
    nothing to show) and its group; a view only lays them out and styles them."""

    key: str
    group: Group
    label: str  # the state, with the tool it concerns: "tool:bash"
    title: str  # with its marks (UNSEEN_MARK, GUESSED_MARK; CHILD_MARK for a subagent)
    short_id: str  # "-" without a session
    model: str  # without its provider; "-" without a session
    tokens: str  # all of them; "-" without a session
    tokens_out: str
    messages: str
    last_output: str
    unseen: bool = False
    pane: str = ""  # session:window.pane
    where: str = ""  # the pane and its tty, or @server; "" for a subagent
    round_age: str = ""  # since the newest prompt
    up: str = ""  # since the process started
    pid: str = ""
    cpu: str = ""
    memory: str = ""


def age(seconds: float | None) -> str:
    """A duration as a short human string: 45s, 12m, 3h, 2d."""
    if seconds is None:
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h{(s % 3600) // 60:02d}"
    return f"{s // 86400}d"


def short_id(session_id: str | None) -> str:
    """A session id shortened for display (the random tail is what tells sessions apart)."""
    if not session_id:
        return "-"
    return clean(session_id)[-8:]


def state_label(state: State, tool: str | None) -> str:
    """A state as a person reads it: with the tool it runs or asks for."""
    if tool and state in (State.TOOL, State.PERMISSION):
        return f"{state.value}:{clean(tool)}"
    return state.value


def title_of(agent: Agent) -> str:
    """An agent's session title, cleaned, or what stands for it."""
    if agent.session is not None:
        return clean(agent.session.brief.title) or "(untitled)"
    if agent.proc is not None and agent.proc.kind == ProcKind.SERVE:
        return "opencode serve"
    return "(no session)" if agent.state == State.NEW else "(unknown session)"


def directory_of(agent: Agent) -> str:
    if agent.session is not None and agent.session.brief.directory:
        return agent.session.brief.directory
    if agent.proc is not None:
        return agent.proc.dir_arg or agent.proc.cwd or ""
    return ""


def row_key(agent: Agent, child: Subagent | None = None) -> str:
    return agent.key + (f"/{child.session.brief.id}" if child else "")


def _view(key: str, state: State, tool: str | None, title: str, s: SessionDetail | None) -> RowView:
    """The strings of a row that come from its state and its session."""
    return RowView(
        key=key,
        group=state.group,
        label=state_label(state, tool),
        title=title,
        short_id=short_id(s.brief.id if s else None),
        model=clean(s.model).split("/")[-1] if s else "-",
        tokens=f"{s.tokens.total:,}" if s else "-",
        tokens_out=f"{s.tokens.output:,}" if s else "",
        messages=str(s.messages) if s else "",
        last_output=clean(s.last_output) if s else "",
    )


def row_view(agent: Agent, now: float) -> RowView:
    """An agent's row: its session's strings, then its pane, process and round."""
    s, p = agent.session, agent.proc
    title = (UNSEEN_MARK if agent.unseen else "") + title_of(agent)
    title += GUESSED_MARK if agent.guessed else ""
    round_at = s.turn.round_started_at if s else None
    pane = clean(agent.pane.location) if agent.pane else ""
    return _view(agent.key, agent.state, agent.tool, title, s)._replace(
        unseen=agent.unseen,
        pane=pane,
        where=f"@{clean(agent.server)}" if agent.server else _where(pane, p.tty if p else None),
        round_age=age(now - round_at) if round_at else "",
        up=age(now - p.started_at) if p else "",
        pid=str(p.pid) if p else "",
        cpu=f"{p.cpu_percent:.1f}" if p and p.cpu_percent is not None else "",
        memory=_mb(p.rss_bytes) if p else "",
    )


def child_view(agent: Agent, child: Subagent) -> RowView:
    """A subagent's row, under its agent's: its own session and the state decided for it."""
    s = child.session
    title = CHILD_MARK + (clean(s.brief.title) or "(subagent)")
    return _view(row_key(agent, child), child.state, child.tool, title, s)


def _where(pane: str, tty: str | None) -> str:
    return (pane or "no pane") + " " + (tty.removeprefix("/dev/") if tty else "-")


def _mb(n: int) -> str:
    return f"{n / 1e6:.0f}M" if n else "-"
