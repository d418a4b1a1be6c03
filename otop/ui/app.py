"""otop's live table (full screen or popup); it renders scans and never reads opencode itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from otop.model import Agent, Scan
from otop.render import ordered, visible
from otop.ui.rows import COLUMNS, cells, header

Source = Callable[[], Scan]
Jumper = Callable[[Agent], "str | None"]


class OtopApp(App[None]):
    """A two-row-per-agent table, refreshed in a worker thread."""

    CSS_PATH = "otop.tcss"
    TITLE = "otop"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("escape", "quit", "close", show=False),
        Binding("enter", "select", "jump"),
        Binding("r", "rescan", "refresh"),
        Binding("j", "down", "down", show=False),
        Binding("k", "up", "up", show=False),
        Binding("a", "toggle_all", "all"),
        Binding("w,n", "next_waiting", "next waiting"),
    ]

    def __init__(self, source: Source, jumper: Jumper, *, popup: bool = False,
                 interval: float = 2.0) -> None:  # fmt: skip
        super().__init__()
        self.source = source
        self.jumper = jumper
        self.popup = popup
        self.interval = interval
        self.show_all = False
        self.scan: Scan | None = None
        self.rows: list[Agent] = []

    def compose(self) -> ComposeResult:
        yield Static(id="counts")
        table: DataTable[object] = DataTable(id="agents", cursor_type="row", zebra_stripes=False)
        yield table
        yield Static(id="message")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for col in COLUMNS:
            table.add_column(col, key=col)
        self.action_rescan()
        self.set_interval(self.interval, self.action_rescan)

    @work(thread=True, exclusive=True, group="scan")
    def action_rescan(self) -> None:
        scan = self.source()
        self.call_from_thread(self.show, scan)

    def show(self, scan: Scan) -> None:
        """Redraw the table from a scan, keeping the cursor on the same agent."""
        self.scan = scan
        table = self.query_one(DataTable)
        keep = (
            self.rows[table.cursor_row].key
            if self.rows and table.cursor_row < len(self.rows)
            else None
        )
        self.rows = ordered(a for a in scan.agents if visible(a, self.show_all))
        table.clear()
        now = time.time()
        width = max(20, self.size.width - 60)
        for a in self.rows:
            table.add_row(*cells(a, now, width), height=2, key=a.key)
        self.query_one("#counts", Static).update(header(self.rows))
        if not self.rows:
            problem = next((p.message for p in scan.problems if p.source == "database"), None)
            self.say(problem or "No opencode agents running.")
        if keep is not None:
            for i, a in enumerate(self.rows):
                if a.key == keep:
                    table.move_cursor(row=i)
                    break

    def say(self, text: str) -> None:
        self.query_one("#message", Static).update(text)

    def selected(self) -> Agent | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def action_select(self) -> None:
        agent = self.selected()
        if agent is None:
            return
        error = self.jumper(agent)
        if error:
            self.say(error)
            self.action_rescan()
        elif self.popup:
            self.exit()

    def action_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        if self.scan is not None:
            self.show(self.scan)

    def action_next_waiting(self) -> None:
        table = self.query_one(DataTable)
        for i, a in enumerate(self.rows):
            if a.group.value == "waiting" and i != table.cursor_row:
                table.move_cursor(row=i)
                return
        self.say("no agent is waiting for you")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_select()
