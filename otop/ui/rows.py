"""The app's table rows: the one row model (otop/outputs/row.py) as two-line Rich cells, sorted
and filtered, with each agent's subagent children under it if asked."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.text import Text

from otop.core.model import GROUP_RANK, Agent, Group, Scan, SessionDetail, Subagent
from otop.core.text import clean, cut
from otop.outputs.render import counts, urgency
from otop.outputs.row import (
    UNSEEN_MARK,
    RowView,
    child_view,
    directory_of,
    row_key,
    row_view,
    state_label,
    title_of,
)

STYLE = {
    Group.WORKING: "green",
    Group.WAITING: "bold dark_orange",
    Group.IDLE: "",
    Group.STALE: "dim",
}
UNSEEN_STYLE = "bold dodger_blue1"
# Fixed widths of every column but the title, which takes what is left.
WIDTHS = {"STATE": 15, "SESSION": 8, "UP": 8, "CPU%": 5, "TOKENS": 9, "MODEL": 16}
NARROW_DROPS = ("UP", "CPU%")  # below 100 columns


Drawn = list[tuple[str, list[Text]]]  # (row key, its cells) in table order

# A CPU or memory figure on screen is held this long: an idle TUI's CPU moves by a point or two
# at every scan, and each move drew its whole row again (most of the app's CPU while nothing
# else changed). A CPU figure that moved by FIGURE_JUMP points or more is shown at once.
FIGURE_HOLD = 6.0
FIGURE_JUMP = 10.0


class Figures:
    """The CPU and memory figures the table shows, by row (the data itself, `list --json` and
    the sort by CPU are not held)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.shown: dict[str, tuple[float, str, str]] = {}  # key -> (since, cpu, memory)

    def hold(self, key: str, view: RowView) -> RowView:
        """The view with the figures shown before, while they are held."""
        now = self.clock()
        old = self.shown.get(key)
        if old is not None and now - old[0] < FIGURE_HOLD and not _jumped(old[1], view.cpu):
            return view._replace(cpu=old[1], memory=old[2])
        self.shown[key] = (now, view.cpu, view.memory)
        return view

    def keep(self, keys: Iterable[str]) -> None:
        """Forget the rows no longer shown."""
        wanted = set(keys)
        self.shown = {k: v for k, v in self.shown.items() if k in wanted}


def _jumped(before: str, now: str) -> bool:
    if not before or not now:
        return before != now  # a figure that appeared or went
    return abs(float(now) - float(before)) >= FIGURE_JUMP


def changed_cells(
    columns: Iterable[str], before: Drawn, after: Drawn
) -> list[tuple[str, str, Text]]:
    """(row key, column, new cell) for every cell that reads differently, the rows being the
    same ones in the same order."""
    return [
        (key, column, new)
        for (key, cells), (_, old_cells) in zip(after, before, strict=True)
        for column, new, old in zip(columns, cells, old_cells, strict=True)
        if new != old
    ]


def layout(screen_width: int) -> dict[str, int]:
    """Column widths for a screen width: the title gets the rest, narrow screens drop two."""
    cols = {k: v for k, v in WIDTHS.items() if screen_width >= 100 or k not in NARROW_DROPS}
    # each column has one cell of padding on both sides; the scrollbar takes two more
    title = max(12, screen_width - sum(cols.values()) - 2 * (len(cols) + 1) - 2)
    return {"TITLE": title, **cols}


@dataclass(frozen=True)
class Row:
    """One table entry: an agent, or one of its subagent children (shown with `a`)."""

    agent: Agent
    child: Subagent | None = None

    @property
    def key(self) -> str:
        return row_key(self.agent, self.child)

    @property
    def session(self) -> SessionDetail | None:
        return self.child.session if self.child else self.agent.session

    def view(self, now: float) -> RowView:
        """What the row shows (otop/outputs/row.py)."""
        return (
            row_view(self.agent, now) if self.child is None else child_view(self.agent, self.child)
        )


def cells(
    row: Row, now: float, widths: dict[str, int], figures: Figures | None = None
) -> list[Text]:
    """The row's cells for the columns in `widths`, each two lines: facts, then dimmed facts;
    with its CPU and memory figures held by `figures`, if given."""
    v = row.view(now) if figures is None else figures.hold(row.key, row.view(now))
    content = {
        "TITLE": (v.title, v.last_output or "-"),
        "STATE": (v.label, f"round {v.round_age}" if v.round_age else ""),
        "SESSION": (v.short_id, f"{v.messages} msgs" if v.messages else ""),
        "UP": (v.up, v.pid),
        "CPU%": (v.cpu, v.memory),
        "TOKENS": (v.tokens, f"out {v.tokens_out}" if v.tokens_out else ""),
        "MODEL": (v.model, v.where),
    }
    style = STYLE[v.group]
    out = []
    for name, width in widths.items():
        top, bottom = content[name]
        t = Text(cut(top, width), style=style, no_wrap=True, overflow="ellipsis")
        if name == "TITLE" and v.unseen:
            t.stylize(UNSEEN_STYLE, 0, len(UNSEEN_MARK))
        t.append("\n")
        t.append(cut(bottom, width), style="dim")
        out.append(t)
    return out


def header(agents: Sequence[Agent], extra: str = "", problems: Sequence[str] = ()) -> Text:
    """Counts by group, most urgent first, then `extra` (sort, filter) dimmed, then the first
    problem (an unreachable server, tmux) in red."""
    c = counts(agents)
    t = Text()
    for group, label in (
        (Group.WAITING, "waiting"),
        (Group.WORKING, "working"),
        (Group.IDLE, "idle"),
        (Group.STALE, "stale"),
    ):
        if t:
            t.append("  ")
        t.append(f"{c[group]} {label}", style=STYLE[group] or None)
    unseen = sum(a.unseen for a in agents)
    if unseen:
        t.append(f"  {UNSEEN_MARK}{unseen} unseen", style=UNSEEN_STYLE)
    if extra:
        t.append("   " + extra, style="dim")
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        t.append(f"   ! {clean(problems[0])}{more}", style="red")
    return t


def _cpu(a: Agent) -> float:
    return a.proc.cpu_percent or 0.0 if a.proc else -1.0


def _tokens(a: Agent) -> int:
    return a.session.tokens.total if a.session else -1


# name -> (key, natural direction is descending)
SORTS: dict[str, tuple[Callable[[Agent], object], bool]] = {
    "urgency": (urgency, False),
    "title": (lambda a: title_of(a).lower(), False),
    "state": (lambda a: (GROUP_RANK[a.group], a.state.value), False),
    "session": (lambda a: a.session_id or "", False),
    "uptime": (lambda a: -(a.proc.started_at if a.proc else 0.0), True),
    "cpu": (_cpu, True),
    "tokens": (_tokens, True),
    "model": (lambda a: a.session.model if a.session else "", False),
}
SORT_NAMES = tuple(SORTS)


def sort_agents(agents: Iterable[Agent], name: str, flipped: bool) -> list[Agent]:
    """Agents in a sort's natural direction (biggest first for numbers), or flipped."""
    key, descending = SORTS.get(name, SORTS["urgency"])
    return sorted(agents, key=key, reverse=descending != flipped)  # type: ignore[arg-type]


def matches(agent: Agent, needle: str) -> bool:
    """Whether a filter text occurs in title, model, directory, tty, state or session id."""
    if not needle:
        return True
    s = agent.session
    label = state_label(agent.state, agent.tool)
    hay = [title_of(agent), label, agent.group.value, directory_of(agent)]
    if s:
        hay += [s.model, s.brief.id]
    if agent.proc:
        hay += [agent.proc.tty or "", str(agent.proc.pid)]
    if agent.pane:
        hay.append(agent.pane.location)
    low = needle.lower()
    return any(low in h.lower() for h in hay)


def build(
    agents: Iterable[Agent], *, sort: str, flipped: bool, needle: str, children: bool
) -> list[Row]:
    """The rows of the table: filtered, sorted, each agent followed by its children if asked."""
    out: list[Row] = []
    chosen = sort_agents((a for a in agents if matches(a, needle)), sort, flipped)
    # Agents of opencode servers come after this machine's, one section per server.
    chosen.sort(key=lambda a: (a.server is not None, a.server or ""))
    for a in chosen:
        out.append(Row(a))
        if children and a.session is not None:
            out += [Row(a, c) for c in a.subagents]
    return out


def empty_text(scan: Scan, filtered: bool) -> str:
    """What the table says when it shows no row, and why."""
    if filtered:
        return "No agent matches the filter (esc clears it)."
    for p in scan.problems:
        if p.source == "database":
            return f"No opencode agents found: {p.message}."
    hidden = len(scan.agents)
    more = f" ({hidden} hidden: a shows all, p background)" if hidden else ""
    return f"No opencode agents running{more}. Database: {scan.db_path or '-'}"


@dataclass(frozen=True)
class View:
    """How the table is looked at: its sort, its direction, the filter and its matches."""

    sort: str
    flipped: bool
    needle: str
    shown: int


def status_line(scan: Scan, agents: Sequence[Agent], view: View, now: float) -> Text:
    """The line above the table: counts, sort and filter, how old the data is and whose (the
    watcher's scan, or the app's own), and the first problem."""
    extra = f"sort: {view.sort} {'↑' if view.flipped else '↓'}"
    if view.needle:
        extra += f"   filter: {clean(view.needle)} ({view.shown} shown)"
    old = max(0.0, now - scan.generated_at)
    if old >= 1.5:
        whose = "the watcher's scan" if scan.origin == "watcher" else "scanned"
        extra += f"   {whose} {old:.0f} s ago"
    problems = [p.message for p in scan.problems if p.source != "database"]
    return header(agents, extra, problems)


def next_for_you(rows: Sequence[Row], cursor: int) -> int | None:
    """The next row after the cursor whose agent waits for you; with none, the next unseen
    one (an agent's row, never a child's); None when there is neither."""
    n = len(rows)
    for unseen in (False, True):
        for step in range(1, n + 1):
            i = (cursor + step) % n
            a = rows[i].agent
            if rows[i].child is None and (a.unseen if unseen else a.group == Group.WAITING):
                return i
    return None
