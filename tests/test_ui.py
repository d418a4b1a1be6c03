"""The Textual app driven by Pilot over a fixed world (no tmux or opencode needed): every key."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static

from otop.actions.answer import ANSWERABLE
from otop.core.model import Problem, Scan
from otop.core.text import cell_width
from otop.ui.app import OtopApp
from otop.ui.screens import DetailScreen, PanelScreen
from tests.ui_world import AGENTS, CHILD, FixtureBackend, settled

pytestmark = pytest.mark.ui

Step = Callable[[OtopApp, Pilot[None]], Awaitable[None]]


def drive(
    backend: FixtureBackend, body: Step, *, popup: bool = False, size: tuple[int, int] = (100, 30)
) -> OtopApp:
    """Run the app headless, wait for its first scan, then run the test's steps."""
    app = OtopApp(backend, popup=popup, interval=60)

    async def run() -> None:
        async with app.run_test(size=size) as pilot:
            await settled(pilot)
            await body(app, pilot)

    asyncio.run(run())
    return app


def titles(app: OtopApp) -> list[str]:
    return [r.session.brief.title.split()[0] if r.session else "-" for r in app.rows]


def message(app: OtopApp) -> str:
    return str(app.query_one("#message", Static).render())


def screen_text(app: OtopApp) -> str:
    """The plain text of every Static on the current screen, as a terminal would show it."""
    console = Console(record=True, width=200, file=io.StringIO())
    for widget in app.screen.query(Static):
        console.print(widget.content)
    return console.export_text()


def test_rows_sorted_counted_and_hostile_text_plain() -> None:
    """Two rows per agent, waiting first; counts by group; markup and escapes shown inert."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(DataTable)
        assert table.row_count == 6  # the `opencode run` agent is hidden
        assert titles(app) == ["[bold]Needs", "Busy", "日本語のタイトル", "Idle", "Maybe", "Killed"]
        first = table.get_row_at(0)[0]
        assert isinstance(first, Text)
        assert first.plain.startswith("[bold]Needs you[/bold]") and "\x1b" not in first.plain
        counts = str(app.query_one("#counts", Static).render())
        assert "1 waiting" in counts and "2 working" in counts and "2 idle" in counts
        assert "1 stale" in counts and "sort: urgency" in counts
        guessed = table.get_row_at(4)[0]
        assert isinstance(guessed, Text) and guessed.plain.split("\n")[0].endswith(" ?")

    drive(FixtureBackend(), body)


def test_long_and_wide_titles_are_cut_not_wrapped_at_80x24() -> None:
    """At 80x24 every cell keeps two lines, and wide titles fit their cell width."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(DataTable)
        for i in range(table.row_count):
            for cell in table.get_row_at(i):
                assert isinstance(cell, Text)
                assert cell.plain.count("\n") == 1
        wide = table.get_row_at(2)[0]
        assert isinstance(wide, Text)
        top = wide.plain.split("\n")[0]
        assert top.endswith("…") and cell_width(top) <= app.table().column_widths["TITLE"] < 30

    drive(FixtureBackend(), body, size=(80, 24))


def test_enter_in_popup_jumps_and_closes() -> None:
    """In the popup, Enter jumps to the selected agent's pane and closes the app."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("j", "enter")
        await settled(pilot)

    app = drive(backend, body, popup=True)
    assert backend.jumps == ["pid:4003"]
    assert not app.is_running


def test_failed_jump_says_why_and_rescans() -> None:
    """A jump to a pane that has closed says so, keeps the app open and scans again."""
    backend = FixtureBackend(jump_error="cannot jump to %2: can't find pane")

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        before = backend.scans
        await pilot.press("enter")
        await settled(pilot)
        assert app.is_running
        assert "can't find pane" in message(app)
        assert backend.scans > before

    drive(backend, body, popup=True)


def test_enter_in_full_screen_opens_the_detail_view() -> None:
    """Full screen Enter shows the history (tools, text, evidence); tab shows the live pane."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("enter")
        await settled(pilot)
        assert isinstance(app.screen, DetailScreen)
        text = screen_text(app)
        assert "fix the [b]bug[/b]" in text and "⚙ bash [completed]" in text
        assert "All tests pass." in text and "certain" in text
        await pilot.press("tab")
        await settled(pilot)
        assert "$ screen of %2" in screen_text(app) and "\x1b" not in screen_text(app)
        await pilot.press("o")
        assert backend.jumps == ["pid:4002"]
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen) and app.is_running

    drive(backend, body)


def test_detail_lists_subagents() -> None:
    """The detail view of a parent lists its subagent children."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("j", "enter")
        await settled(pilot)
        assert "↳ dig around (@general subagent)" in screen_text(app)

    drive(FixtureBackend(), body)


def test_o_jumps_without_closing_full_screen() -> None:
    """`o` jumps from the full-screen table and the table stays."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("o")
        assert backend.jumps == ["pid:4002"] and app.is_running

    drive(backend, body)


def test_r_rescans_and_jk_move() -> None:
    """`r` scans at once; j/k and arrows move the cursor."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        table = app.query_one(DataTable)
        before = backend.scans
        await pilot.press("r")
        await settled(pilot)
        assert backend.scans == before + 1
        await pilot.press("j", "j", "down")
        assert table.cursor_row == 3
        await pilot.press("k", "up")
        assert table.cursor_row == 1

    drive(backend, body)


def test_sort_cycles_and_flips() -> None:
    """`>` and `<` cycle the sort column; `s` flips its direction; the header says which."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("greater_than_sign")
        assert app.sort == "title"
        assert titles(app)[:2] == ["[bold]Needs", "Busy"] and "sort: title ↓" in str(
            app.query_one("#counts", Static).render()
        )
        await pilot.press("s")
        assert titles(app)[0] == "日本語のタイトル"
        await pilot.press("less_than_sign", "less_than_sign")
        assert app.sort == "model"
        app.sort, app.flipped = "cpu", False
        app.redraw()
        assert titles(app)[0] == "Killed"  # pid 4007 uses most CPU in the fixture

    drive(FixtureBackend(), body)


def test_filter_is_live_and_esc_clears_it() -> None:
    """`/` filters as you type (title, model, tty, state, session id); esc clears it."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("slash", "b", "u", "s", "y")
        assert titles(app) == ["Busy"]
        box = app.query_one("#filter", Input)
        box.value = "pts/6"
        await settled(pilot)
        assert titles(app) == ["Maybe"]
        box.value = "permission"
        await settled(pilot)
        assert titles(app) == ["[bold]Needs"]
        box.value = "nothing like this"
        await settled(pilot)
        assert app.rows == [] and "No agent matches" in message(app)
        await pilot.press("enter", "escape")
        assert len(app.rows) == 6 and not box.display and app.is_running

    drive(FixtureBackend(), body)


def test_y_yanks_the_session_id() -> None:
    """`y` copies the selected session id and says where it went."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("y")
        assert backend.yanked == [AGENTS[1].session_id]
        assert "tmux buffer" in message(app)

    drive(backend, body)


def test_a_shows_children_and_p_background() -> None:
    """`a` adds subagent children under their parent; `p` adds `opencode run` processes."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("a")
        keys = [r.key for r in app.rows]
        child = "pid:4003/" + CHILD.brief.id
        assert keys.index("pid:4003") + 1 == keys.index(child)
        assert "pid:4005" not in keys
        await pilot.press("p")
        assert "pid:4005" in [r.key for r in app.rows]
        await pilot.press("a", "p")
        assert len(app.rows) == 6

    drive(FixtureBackend(), body)


def test_t_shows_the_todo_list() -> None:
    """`t` opens the selected session's todos, markup inert; esc closes the panel."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("j", "j", "j", "t")
        assert isinstance(app.screen, PanelScreen)
        text = screen_text(app)
        assert "✓ write the parser" in text and "▶ [red]test it[/red]" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, PanelScreen)

    drive(FixtureBackend(), body)


def test_m_lists_mcp_servers_from_config(tmp_path: Path) -> None:
    """`m` lists MCP servers from the global and the project config, enabled and disabled."""
    cfg = tmp_path / "config"
    cfg.mkdir()
    (cfg / "opencode.json").write_text(
        '{"mcp": {"docs": {"type": "remote", "url": "https://docs.example/mcp"},'
        ' "fs": {"type": "local", "command": ["mcp-fs", "--root", "/"]}}}'
    )
    backend = FixtureBackend(config=cfg)

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("m")
        await settled(pilot)
        text = screen_text(app)
        assert "docs  remote  enabled" in text and "https://docs.example/mcp" in text
        assert "fs  local  enabled" in text and "mcp-fs --root /" in text

    drive(backend, body)


def test_e_explains_and_question_mark_helps() -> None:
    """`e` shows the evidence for the selected agent; `?` lists every key."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("j", "j", "j", "j", "e")
        text = screen_text(app)
        assert "guess" in text and "the newest session in /p/guess" in text
        await pilot.press("escape", "question_mark")
        text = screen_text(app)
        for key in ("enter", "filter", "sort", "yank", "todo", "MCP", "preview", "waiting"):
            assert key.lower() in text.lower()
        await pilot.press("question_mark")
        assert not isinstance(app.screen, PanelScreen)

    drive(FixtureBackend(), body)


def test_v_previews_the_pane() -> None:
    """`v` shows the last lines of the selected agent's pane, escape sequences removed."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("v")
        await settled(pilot)
        preview = str(app.query_one("#preview", Static).render())
        assert "$ screen of %2" in preview and "[bold]not bold[/bold]" in preview
        await pilot.press("j")
        await settled(pilot)
        assert "$ screen of %3" in str(app.query_one("#preview", Static).render())
        await pilot.press("v")
        assert not app.query_one("#preview", Static).display

    drive(backend, body, popup=True)


def test_w_finds_the_waiting_agent_and_q_quits() -> None:
    """`w` (and `n`) move to the next waiting agent; `q` quits."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("j", "j", "w")
        assert app.query_one(DataTable).cursor_row == 0
        await pilot.press("j", "n")
        assert app.query_one(DataTable).cursor_row == 0
        await pilot.press("q")

    app = drive(FixtureBackend(), body)
    assert not app.is_running


def test_empty_states_say_why() -> None:
    """With no agents the app names the missing database, or says none run and where it looked."""

    async def missing(app: OtopApp, pilot: Pilot[None]) -> None:
        assert "no opencode database at /x" in message(app)

    drive(FixtureBackend((), (Problem("database", "no opencode database at /x"),)), missing)

    async def quiet(app: OtopApp, pilot: Pilot[None]) -> None:
        assert "No opencode agents running" in message(app) and "/data/opencode.db" in message(app)

    drive(FixtureBackend(()), quiet)


def test_1_2_3_answer_a_permission_and_a_question_jumps() -> None:
    """1/2/3 answer the selected agent's permission prompt; elsewhere they say why not."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("3")
        await settled(pilot)
        assert backend.answered == [("pid:4002", 2)] and "answered 2" in message(app)
        # A running tool or subagent may hold a permission the view does not know of yet: the
        # pane's dialog decides. Other states are told why not.
        while (row := app.selected()) is not None and row.agent.state in ANSWERABLE:
            await pilot.press("j")
        assert row is not None and row.agent.state not in ANSWERABLE
        await pilot.press("1")
        await settled(pilot)
        assert "not waiting on a permission" in message(app)
        assert backend.answered == [("pid:4002", 2)]
        assert backend.fresh_scans == 1  # looked at again before saying so

    drive(backend, body)


def test_server_agents_have_their_own_section() -> None:
    """Agents of an opencode server come after this machine's, marked with the server name."""

    remote = AGENTS[1]._replace(key="lab:ses_x", proc=None, pane=None, server="lab")
    backend = FixtureBackend((*AGENTS, remote))

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        assert app.rows[-1].agent.server == "lab"  # waiting, yet after every local agent
        last = app.query_one(DataTable).get_row_at(len(app.rows) - 1)[-1]
        assert isinstance(last, Text) and last.plain.endswith("@lab")
        app.query_one(DataTable).move_cursor(row=len(app.rows) - 1)
        await pilot.press("o")
        assert backend.jumps[-1] == "lab:ses_x"

    drive(backend, body)


def test_problems_show_in_the_header() -> None:
    """An unreachable server (or another source problem) is said in the header, in words."""
    problem = Problem("server", "server nope (http://127.0.0.1:9): unreachable: refused")

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        text = str(app.query_one("#counts", Static).render())
        assert "! server nope (http://127.0.0.1:9): unreachable: refused" in text

    drive(FixtureBackend(problems=(problem,)), body)


def test_a_scan_that_changes_nothing_shown_lays_nothing_out() -> None:
    """The same agents scanned again (a fresh scan each time) leave the screen's layout alone:
    no widget's text changed, so Textual neither lays the screen out nor draws the table's
    rows again (a layout pass at every scan drew every row: most of the app's CPU)."""
    backend = FixtureBackend()

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        layouts: list[float] = []
        screen = app.screen
        lay_out = screen._refresh_layout

        def counted(*args: Any, **kwargs: Any) -> None:
            layouts.append(time.time())
            lay_out(*args, **kwargs)

        screen._refresh_layout = counted  # type: ignore[method-assign]
        for _ in range(3):
            app.show(Scan(time.time(), backend.agents, "/data/opencode.db"))
            await pilot.pause()
        assert "Needs you" in str(app.query_one(DataTable).get_row_at(0)[0])
        assert layouts == []
        app.say("a message")
        await pilot.pause()
        assert message(app) == "a message" and layouts == []

    drive(backend, body)


@pytest.mark.parametrize("leave", ["tab", "down"])
def test_filter_then_act_on_the_match(leave: str) -> None:
    """`/`, letters, then Tab or Down: the filter stays and its top match is selected, and the
    table's keys act on it (`3` answers the permission, `i` replies, `y` yanks); `/` opens the
    filter as it was, esc clears it."""

    async def body(app: OtopApp, pilot: Pilot[None]) -> None:
        await pilot.press("slash", *"needs", leave)
        box = app.query_one("#filter", Input)
        assert titles(app) == ["[bold]Needs"] and not box.display
        await pilot.press("3")
        await settled(pilot)
        assert [choice for _, choice in backend.answered] == [2]
        assert backend.answered[0][0] == app.rows[0].agent.key
        await pilot.press("y")
        assert backend.yanked == [app.rows[0].agent.session_id]
        await pilot.press("i", *"go on", "enter")
        await settled(pilot)
        assert backend.replies == [(app.rows[0].agent.key, "go on")]
        await pilot.press("slash")
        assert box.display and box.value == "needs"
        await pilot.press("escape")
        assert len(app.rows) == 6 and not box.display

    backend = FixtureBackend()
    drive(backend, body)
