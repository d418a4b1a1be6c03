"""The watcher's attention in a real tmux server with a real attached client: told once, on
the clients that look elsewhere, through the user's command; unseen marks set and cleared."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otop.decide.attention import FINISHED, Event
from otop.watcher.notify import OSASCRIPT, Notifier, NotifySettings, desktop, message
from tests.conftest import BIN, Client, World, agent_cmd, pid_in, wait_for
from tests.ui_world import AGENTS, NOW

NOTIFIER = "import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read() + '\\n')\n"


def notified(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def working_agent(w: World, name: str) -> tuple[str, str, str]:
    """A fake agent in its own window with a tool running; (pane, session id, assistant id)."""
    d = w.tmp / name
    d.mkdir()
    sid = w.db.session(str(d), f"Work {name}")
    w.db.user(sid, "build it")
    mid = w.db.assistant(sid)
    w.db.tool_part(mid, sid, "bash", inp={"command": "make"})
    pane = w.server.new_window(d, agent_cmd("-s", sid), name)
    pid_in(w.server, pane)
    return pane, sid, mid


def notify_to(w: World, out: Path, **options: str) -> None:
    script = w.tmp / "notifier.py"
    script.write_text(NOTIFIER)
    w.server(
        "set", "-g", "@otop-notify-command", shlex.join([sys.executable, str(script), str(out)])
    )
    for name, value in options.items():
        w.server("set", "-g", f"@otop-{name}", value)


def listed(w: World, sid: str) -> dict[str, object]:
    """The agent of a session in `otop list --json` (other opencode processes of this machine
    may be listed too)."""
    out = subprocess.run(
        [f"{BIN}/python", "-m", "otop", "-L", w.server.socket, "list", "--json"],
        capture_output=True,
        text=True,
        env=w.server.env,
        check=True,
    )
    agents = json.loads(out.stdout)["agents"]
    assert isinstance(agents, list)
    (mine,) = [a for a in agents if a["session_id"] == sid]
    assert isinstance(mine, dict)
    return mine


def window_of(w: World, pane: str) -> str:
    return w.server("display", "-p", "-t", pane, "#{window_id}").strip()


@pytest.mark.slow
def test_a_turn_finished_elsewhere_is_told_once_and_marked_until_looked_at(world: World) -> None:
    """A turn that ends in a window the client is not showing: one event through the user's
    command, one message on the client, `●` on the status line, the badge and in list --json;
    selecting that window in the real client clears the mark and records when it was seen."""
    pane, sid, mid = working_agent(world, "build")
    out = world.tmp / "events.jsonl"
    notify_to(world, out)
    client = Client(world.server)
    try:
        world.load()
        wait_for(lambda: "⚙1" in world.option("@otop_status"), what="a working agent")
        assert client.pane() != pane
        world.db.complete(mid)
        wait_for(lambda: notified(out), timeout=8, what="the notifier command")
        world.wait_beats(3)  # more beats: still one
        events = notified(out)
        assert [e["event"] for e in events] == [FINISHED]
        assert events[0]["title"] == "Work build" and events[0]["session_id"] == sid
        assert events[0]["pane"]["id"] == pane  # type: ignore[index]
        wait_for(lambda: b"Work build finished" in client.seen(), what="the client's message")
        win = window_of(world, pane)
        assert "●1" in world.option("@otop_status")
        assert "●" in world.option("@otop_badge", win)
        a = listed(world, sid)
        assert a["unseen"] is True and a["seen_at"] is None
        world.server("select-window", "-t", win)
        wait_for(lambda: "●" not in world.option("@otop_status"), timeout=4, what="mark cleared")
        assert "●" not in world.option("@otop_badge", win)
        a = listed(world, sid)
        assert a["unseen"] is False and isinstance(a["seen_at"], int)
        assert len(notified(out)) == 1
    finally:
        client.close()


@pytest.mark.slow
def test_nothing_is_told_for_the_pane_a_client_shows(world: World) -> None:
    """An error in the pane the client is looking at: no command, no message, no mark."""
    pane, _, mid = working_agent(world, "shown")
    out = world.tmp / "events.jsonl"
    notify_to(world, out, **{"notify-settle": "0.5"})
    world.server("select-window", "-t", window_of(world, pane))
    client = Client(world.server)
    try:
        assert client.pane() == pane
        world.load()
        wait_for(lambda: "⚙1" in world.option("@otop_status"), what="a working agent")
        world.db.complete(mid, finish=None, error={"name": "APIError", "data": {"message": "x"}})
        wait_for(lambda: "⏳1" in world.option("@otop_status"), what="the error (waiting)")
        world.wait_beats(3)  # past the settle time: nothing was told
        assert notified(out) == []
        assert b"needs you" not in client.seen()
        assert "●" not in world.option("@otop_status")
    finally:
        client.close()


def test_the_bell_rings_in_the_agents_window(world: World) -> None:
    """With @otop-bell on, an agent that starts waiting elsewhere rings its window's bell."""
    pane, _, mid = working_agent(world, "ring")
    world.server("set", "-g", "@otop-bell", "on")
    world.server("set", "-g", "@otop-notify-settle", "0.5")
    client = Client(world.server)
    try:
        world.load()
        wait_for(lambda: "⚙1" in world.option("@otop_status"), what="a working agent")
        win = window_of(world, pane)
        assert world.server("display", "-p", "-t", win, "#{window_bell_flag}").strip() == "0"
        world.db.complete(mid, finish=None, error={"name": "APIError", "data": {"message": "x"}})
        wait_for(
            lambda: world.server("display", "-p", "-t", win, "#{window_bell_flag}").strip() == "1",
            timeout=8,
            what="the bell flag",
        )
        wait_for(lambda: b"needs you: error" in client.seen(), what="the client's message")
    finally:
        client.close()


def test_messages_are_text_and_commands_are_argv() -> None:
    """A hostile title reaches the message as text, the desktop command as one argv item, and
    the user's command only as JSON on stdin (a real process reads it back)."""
    agent = AGENTS[1]  # title "[bold]Needs you[/bold] \x1b[31m"
    ev = Event("waiting", agent, NOW)
    assert "\x1b" not in message(ev) and "needs you: permission" in message(ev)
    argv = desktop("$(touch x) `y`", "waiting")
    assert argv == [] or argv[-1] == "$(touch x) `y`"


HOSTILE_TEXTS = [
    'say "hi" & do shell script "touch /tmp/x"',
    'back\\slash \\" end',
    "two\nlines\rand\ttabs",
    "$(touch x) `y` ' \"",
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=["quotes", "backslashes", "newlines", "shell"])
def test_macos_notifications_pass_the_text_as_an_argument(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On macOS the text is an argument of the AppleScript run handler, never spliced into the
    script: whatever it holds, the script is the same three lines and the text arrives whole
    (a stand-in osascript, since none runs here, prints the argv it was given)."""
    fake = tmp_path / "osascript"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf \'%s\\0\' "$a"; done\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    argv = desktop(text, "waiting", platform="darwin")
    got = subprocess.run(argv, capture_output=True, check=True).stdout.split(b"\0")[:-1]
    script = [w for line in OSASCRIPT for w in ("-e", line)]
    assert [a.decode() for a in got] == [*script, text, "otop: needs you"]
    assert OSASCRIPT[1] == "display notification (item 1 of argv) with title (item 2 of argv)"


def test_no_desktop_notifier_means_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without notify-send (or osascript on macOS) there is no desktop command to run."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert desktop("x", "waiting", platform="linux") == []
    assert desktop("x", "waiting", platform="darwin") == []


def test_the_users_command_gets_the_event_on_stdin(tmp_path: Path) -> None:
    """The notifier runs without a shell and reads the event JSON; a slow one is killed."""
    out = tmp_path / "got.jsonl"
    script = tmp_path / "n.py"
    script.write_text(NOTIFIER)
    n = Notifier(tmux=None)  # type: ignore[arg-type]
    n.tell(
        Event("finished", AGENTS[0], NOW),
        [],
        NotifySettings(False, "all", (sys.executable, str(script), str(out))),
    )
    wait_for(lambda: notified(out), what="the command's output")
    (got,) = notified(out)
    assert got["event"] == "finished" and got["title"] == "Idle one" and got["pid"] == 4001
    ((done, _),) = n.children
    done.wait(timeout=30)  # it wrote its line; on a busy machine it may not have left yet
    n.run([sys.executable, "-c", "import time; time.sleep(60)"], b"")
    slow = n.children[-1][0]
    n.children[-1] = (slow, time.monotonic() - 1)
    n.reap()
    assert slow.poll() is not None and not n.children
