"""What a person sees: SVG snapshots of the table, detail view, help and panels."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.pilot import Pilot

from otop.core.model import Agent, McpServer
from otop.ui.app import OtopApp
from tests.ui_world import FixtureBackend, settled

pytestmark = pytest.mark.ui

Snap = Callable[..., bool]


async def settle(pilot: Pilot[None]) -> None:
    await settled(pilot)


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
def test_table(snap_compare: Snap, size: tuple[int, int]) -> None:
    """The table: two rows per agent, colours by group, counts, footer keys."""
    assert snap_compare(
        OtopApp(FixtureBackend(), interval=60), terminal_size=size, run_before=settle
    )


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
def test_detail(snap_compare: Snap, size: tuple[int, int]) -> None:
    """The detail view: evidence, then the history with tools and text."""
    assert snap_compare(
        OtopApp(FixtureBackend(), interval=60),
        terminal_size=size,
        press=["enter"],
        run_before=settle,
    )


@pytest.mark.parametrize("size", [(100, 30), (80, 24)], ids=["100x30", "80x24"])
def test_help(snap_compare: Snap, size: tuple[int, int]) -> None:
    """The `?` help panel."""
    assert snap_compare(
        OtopApp(FixtureBackend(), interval=60),
        terminal_size=size,
        press=["question_mark"],
        run_before=settle,
    )


def test_todos(snap_compare: Snap) -> None:
    """The todo panel of the selected session."""
    assert snap_compare(
        OtopApp(FixtureBackend(), interval=60),
        terminal_size=(100, 30),
        press=["j", "j", "j", "t"],
        run_before=settle,
    )


class McpBackend(FixtureBackend):
    def mcp(self, agent: Agent | None) -> tuple[list[McpServer], list[str]]:
        src = "~/.config/opencode/opencode.json"
        return [
            McpServer("docs", "remote", "https://docs.example/mcp", True, src),
            McpServer("fs", "local", "mcp-fs --root /", False, "/p/2/opencode.jsonc"),
        ], ["/p/2/.opencode/opencode.json is not valid JSON (line 3: Expecting value)"]


def test_mcp(snap_compare: Snap) -> None:
    """The MCP panel: enabled and disabled servers, where each comes from, broken files."""

    async def open_mcp(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("m")
        await settled(pilot)

    app = OtopApp(McpBackend(), interval=60)
    assert snap_compare(app, terminal_size=(100, 30), run_before=open_mcp)


def test_popup_preview(snap_compare: Snap) -> None:
    """The popup with its pane preview open."""

    async def preview(pilot: Pilot[None]) -> None:
        await settled(pilot)
        await pilot.press("v")
        await settled(pilot)

    app = OtopApp(FixtureBackend(), popup=True, interval=60)
    assert snap_compare(app, terminal_size=(80, 24), run_before=preview)
