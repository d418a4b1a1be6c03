"""otop's live table (full screen or popup); it renders scans and asks its backend for the rest."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import DataTable, Footer, Input, Static

from otop.actions.answer import ANSWERABLE
from otop.core.model import Agent, McpServer, Scan, State
from otop.core.text import clean
from otop.outputs.explain import explain
from otop.outputs.render import visible
from otop.outputs.row import directory_of, title_of
from otop.ui import rows as tables
from otop.ui.backend import Backend
from otop.ui.keyboard import Keyboard
from otop.ui.keys import APP_KEYS, TABLE_KEYS, bindings
from otop.ui.rows import SORT_NAMES, Row
from otop.ui.screens import DetailScreen, PanelScreen, help_text, lines, mcp_text, todo_text
from otop.ui.table import AgentTable

# Keys of the table (otop/ui/keys.py); they do nothing under the detail view or a panel.
_TABLE: list[Binding] = bindings(TABLE_KEYS)
_TABLE_ACTIONS = {b.action.split("(")[0] for b in _TABLE}


class OtopApp(App[None]):
    """A two-row-per-agent table, refreshed in a worker thread."""

    CSS_PATH = "otop.tcss"
    TITLE = "otop"
    BINDINGS: ClassVar[list[BindingType]] = [*bindings(APP_KEYS), *_TABLE]

    def __init__(
        self,
        backend: Backend,
        *,
        popup: bool = False,
        interval: float = 2.0,
        first: Scan | None = None,
        typed: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.first = first  # the watcher's latest scan: the first frame, before a scan of our own
        self.backend = backend
        self.popup = popup
        self.interval = interval
        self.show_all = False
        self.background = False
        self.sort = "urgency"
        self.flipped = False
        self.needle = ""
        self.scan: Scan | None = None
        self.rows: list[Row] = []
        self.empty_shown = False
        self.shown_lines: dict[str, Text] = {}  # what put() last put in each widget
        self.figures = tables.Figures()  # CPU and memory figures held on screen
        self.replying: Agent | None = None
        # Keys typed before the popup was open (otop/plugin/typeahead.py) come first.
        self.keyboard = Keyboard(self, self.BINDINGS, typed)

    def compose(self) -> ComposeResult:
        yield Static(id="counts")
        yield AgentTable()
        yield Static(id="preview")
        yield Input(
            placeholder="filter: title, model, directory, tty, state, session; tab: act on it",
            id="filter",
        )
        yield Input(id="reply")
        yield Static(id="message")
        yield Footer()

    def on_mount(self) -> None:
        self.screen.set_focus(self.table())
        if self.first is not None:
            self.show(self.first)
        self.action_rescan()
        self.set_interval(self.interval, self.action_rescan)

    # -- scans --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="scan")
    def action_rescan(self) -> None:
        scan = self.backend.scan()
        self.call_from_thread(self.show, scan)

    def show(self, scan: Scan) -> None:
        first = self.scan is None
        self.scan = scan
        # While the app closes, its widgets are already gone: nothing to draw.
        with contextlib.suppress(NoMatches):
            self.redraw()
        if first:
            self.call_later(self.keyboard.replay)

    # -- keys, in the order typed (otop/ui/keyboard.py) ---------------------------------

    async def on_event(self, event: events.Event) -> None:
        key = event if isinstance(event, events.Key) and not event.is_forwarded else None
        if key is None or not await self.keyboard.take(key):
            await super().on_event(event)

    async def default_key(self, event: events.Key) -> None:
        """A key as Textual itself would deliver it (to a panel or the detail view)."""
        await super().on_event(event)

    def table(self) -> AgentTable:
        return self.query_one(AgentTable)

    def redraw(self) -> None:
        """Rebuild the table from the last scan, keeping the cursor on the same row; rows
        that would read as they read now are left as they are (no work for Textual)."""
        scan = self.scan
        if scan is None:
            return
        agents = [a for a in scan.agents if visible(a, self.show_all, self.background)]
        current = self.selected()
        self.rows = tables.build(
            agents, sort=self.sort, flipped=self.flipped, needle=self.needle, children=self.show_all
        )
        widths = tables.layout(self.size.width)
        now = scan.generated_at
        drawn = [(row.key, tables.cells(row, now, widths, self.figures)) for row in self.rows]
        self.figures.keep(key for key, _ in drawn)
        self.table().fill(widths, drawn, current.key if current else None)
        view = tables.View(self.sort, self.flipped, self.needle, len(self.rows))
        self.put("#counts", tables.status_line(scan, agents, view, time.time()))
        if not self.rows:
            self.say(tables.empty_text(scan, bool(agents)))
            self.empty_shown = True
        elif self.empty_shown:
            self.say("")
            self.empty_shown = False
        self.update_preview()

    def say(self, text: str) -> None:
        self.put("#message", Text(clean(text)))

    def put(self, selector: str, text: Text) -> None:
        """New text in a widget of fixed height (otop.tcss). Only a change is drawn, and
        without a layout pass: Static.update lays the whole screen out again, which drew every
        row of the table at each scan."""
        if self.shown_lines.get(selector) != text:
            self.shown_lines[selector] = text
            self.query_one(selector, Static).update(text, layout=False)

    def selected(self) -> Row | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    # -- moving -------------------------------------------------------------------------

    def action_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_next_waiting(self) -> None:
        """The next agent waiting for you after the cursor; with none, the next unseen one."""
        table = self.table()
        i = tables.next_for_you(self.rows, table.cursor_row)
        if i is None:
            self.say("No agent is waiting for you or finished unseen.")
        else:
            table.move_cursor(row=i)

    def on_resize(self) -> None:
        self.redraw()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Table keys work on the table only, not under the detail view or a panel."""
        if action in ("quit", "help") or action not in _TABLE_ACTIONS:
            return True
        return self.screen is self.screen_stack[0]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        with contextlib.suppress(NoMatches):  # highlights still arrive while the app closes
            self.update_preview()

    # -- acting on the selected agent ---------------------------------------------------

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_select()

    def action_select(self) -> None:
        if self.popup:
            self.action_jump()
        else:
            self.action_detail()

    def action_jump(self) -> None:
        row = self.selected()
        if row is None:
            return
        error = self.backend.jump(row.agent)
        if error:
            self.say(error)
            self.action_rescan()
        elif self.popup:
            self.exit()

    def action_detail(self) -> None:
        row = self.selected()
        if row is None or self.scan is None:
            return
        self.push_screen(DetailScreen(self.backend, row.agent, row.session, self.scan.generated_at))

    def action_answer(self, choice: int) -> None:
        """1/2/3 answer a permission prompt in place; a question needs typing: go there."""
        row = self.selected()
        if row is None:
            return
        agent = row.agent
        if agent.state == State.QUESTION:
            self.say("A question needs typing: jumping to its pane.")
            self.action_jump()
            return
        self.say("Answering…")
        self.send_answer(agent, choice)

    @work(thread=True, exclusive=True, group="answer")
    def send_answer(self, agent: Agent, choice: int) -> None:
        """Answer; a view too old to show the permission (keys typed as the popup opens act on
        the watcher's last scan) is looked at again first."""
        if agent.state not in ANSWERABLE:
            agent = next((a for a in self.backend.fresh().agents if a.key == agent.key), agent)
        if agent.state not in ANSWERABLE:
            said = "This agent is not waiting on a permission (1/2/3 answer one)."
        else:
            said = self.backend.answer(agent, choice)
        self.call_from_thread(self.say, said)
        self.call_from_thread(self.action_rescan)

    def action_yank(self) -> None:
        row = self.selected()
        if row is None or row.session is None:
            self.say("Nothing to copy: this agent has no session yet.")
            return
        self.say(self.backend.yank(row.session.brief.id))

    def action_explain(self) -> None:
        row = self.selected()
        if row is None or self.scan is None:
            return
        body = Text(explain(row.agent, self.scan.generated_at))
        self.push_screen(PanelScreen("Why otop believes it", body, "explain"))

    def action_todos(self) -> None:
        row = self.selected()
        if row is None:
            return
        s = row.session
        title = "Todos: " + (clean(s.brief.title) if s else "(no session)")
        self.push_screen(PanelScreen(title, todo_text(s), "todos"))

    def action_mcp(self) -> None:
        row = self.selected()
        self.load_mcp(row.agent if row else None)

    @work(thread=True, exclusive=True, group="mcp")
    def load_mcp(self, agent: Agent | None) -> None:
        servers, problems = self.backend.mcp(agent)
        directory = directory_of(agent) if agent else None
        self.call_from_thread(self._show_mcp, directory or None, servers, problems)

    def _show_mcp(
        self, directory: str | None, servers: list[McpServer], problems: list[str]
    ) -> None:
        title = "MCP servers" + (f" for {clean(directory)}" if directory else "")
        self.push_screen(PanelScreen(title, mcp_text(servers, problems), "mcp"))

    # -- view options -------------------------------------------------------------------

    def action_sort(self, step: int) -> None:
        i = SORT_NAMES.index(self.sort)
        self.sort = SORT_NAMES[(i + step) % len(SORT_NAMES)]
        self.redraw()

    def action_flip(self) -> None:
        self.flipped = not self.flipped
        self.redraw()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.say("Showing every session and subagent." if self.show_all else "")
        self.redraw()

    def action_toggle_background(self) -> None:
        self.background = not self.background
        self.say("Showing opencode run and serve too." if self.background else "")
        self.redraw()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        self.screen.set_focus(box)

    def on_input_changed(self, event: Input.Changed) -> None:
        # The value now, not the one the message carried: keys typed since have changed it.
        self.keyboard.edited(event.input)

    # -- replying -----------------------------------------------------------------------

    def action_reply(self) -> None:
        """`i`: a line to send to the selected agent (its next prompt, or a question's answer)."""
        row = self.selected()
        if row is None or row.child is not None:
            self.say("Select an agent to reply to.")
            return
        self.replying = row.agent
        box = self.query_one("#reply", Input)
        what = "answer (or a choice's number)" if row.agent.state == State.QUESTION else "prompt"
        box.placeholder = f"{what} for {title_of(row.agent)}: Enter sends, Esc cancels"
        box.value = ""
        box.display = True
        self.screen.set_focus(box)

    def send_reply(self, text: str) -> None:
        agent = self.replying
        self.close_reply()
        if agent is None or not text.strip():
            self.say("Nothing sent.")
            return
        self.say("Sending…")
        self.deliver(agent, text)

    @work(thread=True, exclusive=True, group="reply")
    def deliver(self, agent: Agent, text: str) -> None:
        said = self.backend.reply(agent, text)
        self.call_from_thread(self.say, said)
        self.call_from_thread(self.action_rescan)

    def close_reply(self) -> None:
        box = self.query_one("#reply", Input)
        box.value = ""
        box.display = False
        self.replying = None
        self.screen.set_focus(self.table())

    def action_close(self) -> None:
        if self.query_one("#reply", Input).display:
            self.close_reply()
            self.say("Nothing sent.")
            return
        box = self.query_one("#filter", Input)
        if box.display or self.needle:
            box.value = ""
            box.display = False
            self.needle = ""
            self.screen.set_focus(self.table())
            self.redraw()
            return
        self.exit()

    def action_preview(self) -> None:
        panel = self.query_one("#preview", Static)
        panel.display = not panel.display
        self.update_preview()

    def update_preview(self) -> None:
        panel = self.query_one("#preview", Static)
        if not panel.display:
            return
        row = self.selected()
        if row is None or row.agent.pane is None:
            self.put("#preview", Text("(no pane to preview)", style="dim"))
            return
        self.load_preview(row)

    @work(thread=True, exclusive=True, group="preview")
    def load_preview(self, row: Row) -> None:
        assert row.agent.pane is not None
        text = self.backend.capture(row.agent.pane, 0)
        self.call_from_thread(self._show_preview, text)

    def _show_preview(self, text: str) -> None:
        shown = lines(text)
        while shown and not shown[-1].strip():
            shown.pop()
        self.put("#preview", Text("\n".join(shown[-12:]), no_wrap=True, overflow="ellipsis"))

    def action_help(self) -> None:
        self.push_screen(PanelScreen("otop keys", help_text(self.popup), "help"))
