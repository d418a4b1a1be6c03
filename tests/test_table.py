"""The agents' table draws again only the cells that changed between two scans: a CPU figure
ticking in one row leaves every other cell as Textual rendered and cached it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.cache import LRUCache

from otop.ui.table import AgentTable

pytestmark = pytest.mark.ui

WIDTHS = {"TITLE": 20, "STATE": 10, "CPU%": 5}


def rows(cpu: dict[str, str]) -> list[tuple[str, list[Text]]]:
    return [
        (key, [Text(f"{key} title\nlast words"), Text("generating"), Text(value)])
        for key, value in cpu.items()
    ]


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield AgentTable()


class Counted(LRUCache[Any, Any]):
    """DataTable's cache of rendered cells, saying which cells were rendered into it."""

    def __init__(self, cached: LRUCache[Any, Any]) -> None:
        super().__init__(cached.maxsize)
        for key in list(cached.keys()):
            self.set(key, cached[key])
        self.rendered: list[tuple[str | None, str | None]] = []

    def __setitem__(self, key: Any, value: Any) -> None:
        self.rendered.append((key[0].value, key[1].value))
        super().__setitem__(key, value)


def test_one_changed_cell_is_rendered_alone() -> None:
    """Three rows; the second row's CPU changes: that cell alone is rendered again, the new
    value shows, and the cells around it still read as before."""

    async def run() -> list[tuple[str | None, str | None]]:
        app = TableApp()
        async with app.run_test(size=(60, 12)) as pilot:
            table = app.query_one(AgentTable)

            def screen() -> str:
                return "\n".join(table.render_line(y).text for y in range(table.size.height))

            table.fill(WIDTHS, rows({"a": "1.0", "b": "2.0", "c": "3.0"}), None)
            await pilot.pause()
            await pilot.pause()
            assert "2.0" in screen()
            cache = table._cell_render_cache = Counted(table._cell_render_cache)
            table.fill(WIDTHS, rows({"a": "1.0", "b": "9.5", "c": "3.0"}), None)
            await pilot.pause()
            text = screen()
            assert "9.5" in text and "2.0" not in text, text
            assert "1.0" in text and "3.0" in text and "a title" in text and "c title" in text
            return cache.rendered

    assert set(asyncio.run(run())) == {("b", "CPU%")}


def test_figures_hold_their_place_on_screen() -> None:
    """A CPU or memory figure that moved a little is shown as before until it was on screen
    FIGURE_HOLD seconds; one that moved by FIGURE_JUMP points, appeared or went is shown at
    once; rows gone are forgotten."""
    from otop.core.model import Group
    from otop.outputs.row import RowView
    from otop.ui.rows import FIGURE_HOLD, FIGURE_JUMP, Figures

    clock = [100.0]
    figures = Figures(lambda: clock[0])
    view = RowView("a", Group.IDLE, "idle", "T", "id", "model", "1", "0", "2", "-")

    def shown(cpu: str, memory: str = "300M") -> tuple[str, str]:
        held = figures.hold("a", view._replace(cpu=cpu, memory=memory))
        return held.cpu, held.memory

    assert shown("1.2") == ("1.2", "300M")
    clock[0] += 1.0
    assert shown("2.9", "301M") == ("1.2", "300M")  # jitter: held
    clock[0] += FIGURE_HOLD - 1.0
    assert shown("3.1", "302M") == ("3.1", "302M")  # held long enough: the new figures
    clock[0] += 0.5
    assert shown(f"{3.1 + FIGURE_JUMP:.1f}") == (f"{3.1 + FIGURE_JUMP:.1f}", "300M")  # a jump
    assert shown("") == ("", "300M")  # no figure any more
    figures.keep(["b"])
    assert figures.shown == {}
