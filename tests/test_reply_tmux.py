"""`otop reply` and `otop answer` through tmux's send-keys on every tmux version of the matrix: a
fake TUI that draws opencode's prompt input, question dialog and permission dialog takes
exactly the keys they send."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from otop.cli.parser import main
from tests.conftest import ROOT, World, pid_in, wait_for

FAKE_TUI = ROOT / "tests" / "fake_tui.py"


def fake_tui(world: World, name: str, mode: str, session: str) -> tuple[str, Path]:
    """A window running the fake TUI on `session`, at a pane id past %10. Returns the pane and
    the file where the TUI writes what it was sent."""
    log = world.tmp / f"{name}.sent"
    log.touch()
    run = f"import runpy; runpy.run_path({str(FAKE_TUI)!r}, run_name='__main__')"
    command = (
        f"OTOP_FAKE_TUI_LOG={shlex.quote(str(log))} OTOP_FAKE_TUI_MODE={mode}"
        f" exec -a opencode {shlex.quote(sys.executable)} - -s {session} <<< {shlex.quote(run)}"
    )
    d = world.tmp / name
    d.mkdir()
    pane = world.server.new_window(d, f"bash --norc --noprofile -c {shlex.quote(command)}", name)
    pid_in(world.server, pane)
    drawn = ("Fake Model", "Pick one", "Permission required")
    wait_for(lambda: any(d in screen(world, pane) for d in drawn), what="the fake TUI")
    return pane, log


@pytest.fixture
def tuis(world: World) -> tuple[World, dict[str, tuple[str, Path, str]]]:
    """Ten shell windows, then an idle TUI, one asking a question and one asking leave."""
    for i in range(10):
        world.server.new_window(world.tmp, "sleep 600", f"sh{i}")
    idle = world.db.session(str(world.tmp / "idle"), "Idle one")
    world.db.finished_turn(idle, "hi", "Done.")
    ask = world.db.session(str(world.tmp / "ask"), "Asking one")
    world.db.user(ask, "ask me")
    world.db.tool_part(world.db.assistant(ask), ask, "question")
    perm = world.db.session(str(world.tmp / "perm"), "Asking leave")
    world.db.user(perm, "read it")
    world.db.tool_part(world.db.assistant(perm), perm, "read", inp={"filePath": "/etc/hostname"})
    made = {"idle": (idle, "prompt"), "ask": (ask, "question"), "perm": (perm, "permission")}
    out = {}
    for name, (session, mode) in made.items():
        pane, log = fake_tui(world, name, mode, session)
        assert int(pane[1:]) > 10, pane
        out[name] = (pane, log, session)
    return world, out


def screen(world: World, pane: str) -> str:
    return world.server("capture-pane", "-p", "-t", pane)


def reply(world: World, target: str, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    return reply_or_answer(world, ["reply", target, text], capsys)


def reply_or_answer(world: World, args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What otop said on success."""
    status = main(["-L", world.server.socket, *args])
    out = capsys.readouterr()
    assert status == 0, out.err
    return out.out.strip()


def test_the_next_prompt_is_typed_and_sent(
    tuis: tuple[World, dict[str, tuple[str, Path, str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A prompt holding tmux's and the shell's special characters reaches the idle TUI's input
    as typed, and Enter sends it once."""
    world, agents = tuis
    _, log, session = agents["idle"]
    text = "fix it; then #(touch x) $HOME \\; done"
    said = reply(world, session, text, capsys)
    assert said.startswith("otop: sent to s:"), said
    wait_for(lambda: log.read_text() != "", what="the prompt sent")
    assert log.read_text() == f"prompt: {text}\n"


def test_a_question_answered_by_number_and_by_words(
    tuis: tuple[World, dict[str, tuple[str, Path, str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """A digit picks that choice; words open the dialog's own answer line, are typed there
    and submitted; both through send-keys."""
    world, agents = tuis
    pane, log, _ = agents["ask"]
    assert reply(world, pane, "2", capsys) == "otop: answered 'blue'"
    assert log.read_text() == "answer: blue\n"
    world.server("respawn-pane", "-k", "-t", pane)  # the next question (same command)
    pid_in(world.server, pane)
    wait_for(lambda: "Pick one" in screen(world, pane), what="the dialog again")
    assert reply(world, pane, "green and gold", capsys) == "otop: answered 'green and gold'"
    assert log.read_text() == "answer: blue\nanswer: green and gold\n"


def test_a_permission_answered_in_place(
    tuis: tuple[World, dict[str, tuple[str, Path, str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    """`otop answer` reads which choice the dialog has selected (by its background), moves to
    the one asked for and confirms it: Reject is one move left of Allow once, wrapping."""
    world, agents = tuis
    pane, log, _ = agents["perm"]
    wait_for(lambda: state_of(world, pane, capsys) == "permission", what="the permission seen")
    said = reply_or_answer(world, ["answer", pane, "reject"], capsys)
    assert said.startswith("otop: answered 'Reject' in s:"), said
    wait_for(lambda: log.read_text() != "", what="the answer")
    assert log.read_text() == "answer: reject\n"


def state_of(world: World, pane: str, capsys: pytest.CaptureFixture[str]) -> str | None:
    """The state `otop list --json` gives the pane's agent."""
    assert main(["-L", world.server.socket, "list", "--json"]) == 0
    agents = json.loads(capsys.readouterr().out)["agents"]
    return next((a["state"] for a in agents if a["pane"] and a["pane"]["id"] == pane), None)
