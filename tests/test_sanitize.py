"""One way out for session text to a terminal: ESC, OSC, C0 and C1 bytes from titles, pane
titles, database paths, MCP names and the yank message never reach it."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from textual.widgets import Static

from otop.cli.parser import main
from otop.core.text import clean_lines, json_text
from otop.sources.opencode.config import mcp_servers
from otop.ui.app import OtopApp
from tests.conftest import World, agent_cmd, pid_in
from tests.ui_world import AGENTS, FixtureBackend, settled

HOSTILE = "evil \x1b]2;pwn\x07\x1b[31mred\x1b[0m \x9b31m\x90dcs\x9c\x07bell\x08"
# Anything a terminal acts on: ESC, BEL, other C0 (tab and newline aside), DEL, C1.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def test_cleaners() -> None:
    """clean_lines keeps line breaks and drops everything else a terminal acts on;
    json_text escapes C1 characters that json.dumps leaves raw."""
    assert not CONTROL.search(clean_lines(HOSTILE + "\n" + HOSTILE))
    assert clean_lines("a\nb").splitlines() == ["a", "b"]
    out = json_text({"t": HOSTILE})
    assert not CONTROL.search(out) and json.loads(out)["t"] == HOSTILE


def test_cli_outputs(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """`otop list`, `list --json` and `explain` with a hostile session title and pane title,
    and an error naming a hostile database path: nothing a terminal acts on gets out."""
    d = world.tmp / "proj"
    d.mkdir()
    sid = world.db.session(str(d), HOSTILE)
    world.db.finished_turn(sid, "hi", HOSTILE)
    pid_in(world.server, world.server.new_window(d, agent_cmd("-s", sid, title="OC | " + HOSTILE)))
    sock = world.server.socket
    for args in (["list"], ["list", "--json"], ["explain", sid]):
        assert main(["-L", sock, *args]) == 0
        out = capsys.readouterr()
        assert "evil" in out.out, args
        assert not CONTROL.search(out.out.replace("\n", "")), (args, out.out)
        assert not CONTROL.search(out.err.replace("\n", ""))
    assert main(["--db", str(world.tmp / HOSTILE), "list"]) != 0
    err = capsys.readouterr().err
    assert "evil" in err and not CONTROL.search(err.replace("\n", ""))


def test_mcp_names_from_a_project(tmp_path: Path) -> None:
    """MCP server names, commands and problems from a project's opencode.json are cleaned."""
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "opencode.json").write_text(
        json.dumps(
            {
                "mcp": {
                    HOSTILE: {"type": "local", "command": ["run", HOSTILE]},
                    "bad" + HOSTILE: "not an object",
                }
            }
        )
    )
    servers, problems = mcp_servers(cfg, str(proj))
    text = " ".join([*(f"{s.name} {s.target} {s.kind} {s.source}" for s in servers), *problems])
    assert "evil" in text and not CONTROL.search(text)


def test_yank_message_in_the_app() -> None:
    """The app's message line shows a message carrying escapes as plain text."""
    backend = FixtureBackend(agents=(AGENTS[0],))
    backend.yank = lambda text: f"copied {HOSTILE}"  # type: ignore[method-assign]
    app = OtopApp(backend, popup=False, interval=60)

    async def run() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await settled(pilot)
            await pilot.press("y")
            shown = str(app.query_one("#message", Static).render())
            assert "evil" in shown and not CONTROL.search(shown)

    asyncio.run(run())
