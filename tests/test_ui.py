"""The Textual app driven by Pilot over fixture scans (no tmux or opencode needed)."""

from __future__ import annotations

import asyncio
import time

from rich.text import Text
from textual.widgets import DataTable, Static

from otop.model import (
    Agent,
    Confidence,
    Evidence,
    Pane,
    Proc,
    ProcKind,
    Scan,
    SessionBrief,
    SessionDetail,
    State,
    Tokens,
    Turn,
)
from otop.ui.app import OtopApp

EV = Evidence("test", Confidence.CERTAIN, "fixture")


def agent(n: int, state: State, title: str) -> Agent:
    brief = SessionBrief(f"ses_{n:026d}", title, "/p", 0, 0, True)
    detail = SessionDetail(brief, "fake/fake-model", "build", Tokens(10, 5), 0.0, 4,
                           "last words", Turn(round_started_at=time.time() - 30))  # fmt: skip
    proc = Proc(1000 + n, ProcKind.TUI, ("opencode",), "/p", "/dev/pts/1", time.time() - 60,
                50_000_000, 1.5)  # fmt: skip
    pane = Pane(f"%{n}", "s", n, f"@{n}", "w", 0, "/dev/pts/1", 1, "", "opencode")
    return Agent(f"pid:{1000 + n}", proc, pane, detail, state, None, EV, EV, EV)


AGENTS = (
    agent(1, State.IDLE, "Idle one"),
    agent(2, State.PERMISSION, "[bold]Needs you[/bold]"),
    agent(3, State.GENERATING, "Busy one"),
)


def scan() -> Scan:
    return Scan(time.time(), AGENTS, "/db")


def test_rows_sorted_and_counted() -> None:
    """Agents show two rows each, waiting first, with counts by group in the header."""

    async def run() -> None:
        app = OtopApp(scan, lambda a: None, interval=60)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.3)
            table = app.query_one(DataTable)
            assert table.row_count == 3
            assert [a.session.brief.title for a in app.rows if a.session] == [
                "[bold]Needs you[/bold]", "Busy one", "Idle one"]  # fmt: skip
            first = table.get_row_at(0)[0]
            assert isinstance(first, Text)
            assert first.plain.startswith("[bold]Needs you[/bold]")  # markup shown, not applied
            counts = app.query_one("#counts", Static).render()
            assert "1 waiting" in str(counts) and "1 working" in str(counts)

    asyncio.run(run())


def test_enter_jumps_and_closes_popup() -> None:
    """In the popup, Enter jumps to the selected agent's pane and closes the app."""
    jumped: list[str] = []

    def jump(a: Agent) -> str | None:
        jumped.append(a.key)
        return None

    async def run() -> None:
        app = OtopApp(scan, jump, popup=True, interval=60)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("j")
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert not app.is_running

    asyncio.run(run())
    assert jumped == ["pid:1003"]


def test_failed_jump_says_why() -> None:
    """A jump that fails (pane closed) shows the reason and keeps the app open."""

    async def run() -> None:
        app = OtopApp(scan, lambda a: "pane %2 has closed", popup=True, interval=60)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("enter")
            await pilot.pause(0.1)
            assert app.is_running
            assert "has closed" in str(app.query_one("#message", Static).render())

    asyncio.run(run())


def test_next_waiting_and_quit() -> None:
    """`w` moves to the waiting agent; `q` quits."""

    async def run() -> None:
        app = OtopApp(scan, lambda a: None, interval=60)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause(0.3)
            await pilot.press("j", "j")
            await pilot.press("w")
            assert app.query_one(DataTable).cursor_row == 0
            await pilot.press("q")
            assert not app.is_running

    asyncio.run(run())


def test_empty_state_names_the_problem() -> None:
    """With no agents, the app says why (for example the missing database)."""
    from otop.model import Problem

    def empty() -> Scan:
        return Scan(time.time(), (), "/x", (Problem("database", "no opencode database at /x"),))

    async def run() -> None:
        app = OtopApp(empty, lambda a: None, interval=60)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(0.3)
            assert "no opencode database" in str(app.query_one("#message", Static).render())

    asyncio.run(run())
