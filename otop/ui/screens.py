"""The app's other screens: a session's detail (history, live pane), help, and text panels."""

from __future__ import annotations

import time
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static

from otop.actions.service import served_by
from otop.core.model import Agent, McpServer, SessionDetail
from otop.core.text import clean
from otop.outputs.explain import explain
from otop.outputs.row import title_of
from otop.sources.opencode.rows import HistoryEntry
from otop.ui.backend import Backend
from otop.ui.keys import APP_KEYS, DETAIL_KEYS, TABLE_KEYS, bindings, described


def lines(text: str) -> list[str]:
    """Hostile multi-line text as clean lines."""
    return [clean(line) for line in text.splitlines()]


def history_text(entries: list[HistoryEntry], children: tuple[SessionDetail, ...]) -> Text:
    """A session's messages, oldest first, as plain styled text (never markup)."""
    t = Text()
    if not entries:
        t.append("No messages in this session yet.\n", style="dim")
    for e in entries:
        _append_entry(t, e)
    if children:
        t.append("Subagents\n", style="bold")
        for c in children:
            t.append(f"   ↳ {clean(c.brief.title)}  {c.brief.id}\n")
    return t


def _append_entry(t: Text, e: HistoryEntry) -> None:
    """One message: its head (role, time, model), its error, and its parts."""
    when = time.strftime("%H:%M:%S", time.localtime(e.created_at))
    head = f"── {e.role} {when}"
    if e.role == "assistant":
        head += f" · {clean(e.model)} · {e.tokens_output} out"
    t.append(head + "\n", style="bold cyan" if e.role == "user" else "bold")
    if e.error:
        t.append(f"   error: {clean(e.error)}\n", style="red")
    for p in e.parts:
        if p.kind == "tool":
            t.append(f"   ⚙ {clean(p.tool)} [{clean(p.status)}] ", style="yellow")
            t.append(clean(p.text)[:200] + "\n")
        elif p.kind == "reasoning":
            for line in lines(p.text):
                t.append(f"   {line}\n", style="dim italic")
        elif p.kind == "text":
            for line in lines(p.text):
                t.append(f"   {line}\n")
    t.append("\n")


def todo_text(session: SessionDetail | None) -> Text:
    """A session's todo list, each entry marked by its status."""
    body = Text()
    if session is None or not session.todos:
        body.append("No todo list in this session.", style="dim")
    for todo in session.todos if session else ():
        mark = {"completed": "✓", "in_progress": "▶", "cancelled": "✗"}.get(todo.status, "○")
        style = {"completed": "dim", "in_progress": "bold", "cancelled": "dim strike"}.get(
            todo.status, ""
        )
        body.append(f"{mark} {clean(todo.content)}", style=style)
        body.append(f"  [{clean(todo.priority)}]\n", style="dim")
    return body


def mcp_text(servers: list[McpServer], problems: list[str]) -> Text:
    """MCP servers from opencode's config, enabled ones first in colour, then the problems."""
    body = Text()
    if not servers:
        body.append("No MCP servers configured.\n", style="dim")
    for s in servers:
        body.append("● " if s.enabled else "○ ", style="green" if s.enabled else "dim")
        body.append(f"{s.name}", style="bold" if s.enabled else "dim")
        body.append(f"  {s.kind}  {'enabled' if s.enabled else 'disabled'}\n")
        if s.target:
            body.append(f"    {s.target}\n", style="dim")
        body.append(f"    from {s.source}\n", style="dim")
    for p in problems:
        body.append(f"! {p}\n", style="red")
    return body


class DetailScreen(Screen[None]):
    """One session: its message history from the database, or a live capture of its pane."""

    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings(DETAIL_KEYS),
        Binding("k", "scroll(-1)", "up", show=False),
    ]

    def __init__(self, backend: Backend, agent: Agent, session: SessionDetail | None, now: float):
        super().__init__()
        self.backend = backend
        self.agent = agent
        self.session = session or agent.session
        self.now = now
        self.live = False
        self.history = Text("loading…", style="dim")

    def compose(self) -> ComposeResult:
        title = clean(self.session.brief.title) if self.session else title_of(self.agent)
        yield Static(Text(title, style="bold"), id="detail-title")
        yield Static(Text(explain(self.agent, self.now), style="dim"), id="detail-explain")
        with VerticalScroll(id="detail-body"):
            yield Static(self.history, id="detail-text")
        yield Footer()

    def on_mount(self) -> None:
        self.load()
        self.set_interval(1.0, self.refresh_live)

    @work(thread=True, exclusive=True, group="detail")
    def load(self) -> None:
        sid = self.session.brief.id if self.session else None
        served = served_by(self.agent)
        entries = self.backend.history(sid, self.agent.database, served) if sid else []
        children = self.session.children if self.session else ()
        text = history_text(entries, children)
        self.app.call_from_thread(self._show_history, text)

    def _show_history(self, text: Text) -> None:
        self.history = text
        if not self.live:
            self.query_one("#detail-text", Static).update(text)
            self.query_one("#detail-body", VerticalScroll).scroll_end(animate=False)

    def action_switch(self) -> None:
        self.live = not self.live
        if self.live:
            self.refresh_live()
        else:
            self._show_history(self.history)

    def refresh_live(self) -> None:
        if self.live:
            self.capture()

    @work(thread=True, exclusive=True, group="capture")
    def capture(self) -> None:
        pane = self.agent.pane
        text = (
            self.backend.capture(pane, 0)
            if pane is not None
            else "This agent runs in no tmux pane: nothing to capture."
        )
        self.app.call_from_thread(self._show_live, text)

    def _show_live(self, text: str) -> None:
        if self.live:
            self.query_one("#detail-text", Static).update(Text("\n".join(lines(text))))

    def action_scroll(self, by: int) -> None:
        self.query_one("#detail-body", VerticalScroll).scroll_relative(y=by, animate=False)

    def action_jump(self) -> None:
        error = self.backend.jump(self.agent)
        if error:
            self.notify(clean(error), severity="warning", markup=False)


class PanelScreen(ModalScreen[None]):
    """A text panel over the table (help, todos, MCP servers, evidence); esc closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,t,m,e", "app.pop_screen", "close"),
        Binding("j", "scroll(1)", "down", show=False),
        Binding("k", "scroll(-1)", "up", show=False),
    ]

    def __init__(self, title: str, body: RenderableType, panel_id: str) -> None:
        super().__init__(id=panel_id)
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="panel"):
            yield Static(Text(self.title_text, style="bold"), classes="panel-title")
            yield Static(self.body, classes="panel-body")

    def action_scroll(self, by: int) -> None:
        self.query_one(VerticalScroll).scroll_relative(y=by, animate=False)


def help_text(popup: bool) -> Group:
    """Every key, in a two-column grid that wraps its descriptions under themselves."""
    parts: list[Table | Text] = []
    for heading, keys in (
        ("Table", described(TABLE_KEYS + APP_KEYS)),
        ("Detail view", described(DETAIL_KEYS)),
    ):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True, justify="right")
        grid.add_column()
        for k, what in keys:
            grid.add_row(k, what)
        parts += [Text(heading, style="bold underline"), grid, Text()]
    t = Text()
    t.append("States: ", style="bold")
    t.append("working ", style="green")
    t.append("(generating, thinking, tool, subagent)  ")
    t.append("waiting ", style="bold dark_orange")
    t.append("(permission, question, error: it needs you)  idle (idle, interrupted, new)  ")
    t.append("stale", style="dim")
    t.append(" (a turn left unfinished by a dead or stuck process). ")
    t.append("A ? after a title marks a guessed session; ● one that finished or began waiting ")
    t.append("since its pane was last shown.")
    if popup:
        t.append("\nThis is the popup: Enter jumps to the pane and closes it.", style="dim")
    parts.append(t)
    return Group(*parts)
