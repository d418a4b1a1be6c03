"""prefix+O on a real client, on every tmux version of the matrix: the popup (tmux >= 3.2) or
the picker's own session (3.1c) shows rows, and keys typed at once after prefix+O, or a
moment later, act as if typed once it was ready; none reaches the pane underneath."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import psutil
import pytest

from otop.cli.parser import main
from tests.conftest import Client, World, tmux_version, wait_for
from tests.test_plugin import add_agents

pytestmark = pytest.mark.ui

# Seconds between prefix+O and the rest of the keys: 0 is the same write (the fast lane runs
# that one; the others are marked slow).
DELAYS = [
    pytest.param(d, id=f"{d:g}s", marks=[pytest.mark.slow] if d else [])
    for d in (0.0, 0.1, 0.3, 0.6, 1.0)
]


@pytest.fixture
def picked(world: World) -> Iterator[tuple[World, dict[str, str], Client]]:
    """Twelve windows of shells, then three agents (pane ids past %12), the plugin loaded, a
    real client looking at the first shell."""
    for i in range(11):
        world.server.new_window(world.tmp, "sleep 600", f"sh{i}")
    panes = add_agents(world)
    assert all(int(panes[k][1:]) >= 12 for k in ("tool", "perm", "idle")), panes
    world.load()
    wait_for(lambda: "⏳1" in world.option("@otop_status"), what="the watcher's first look")
    client = Client(world.server)
    try:
        world.server("select-window", "-t", "s:0")
        wait_for(lambda: client.pane() == "%0", what="the client on the first shell")
        yield world, panes, client
    finally:
        client.close()


def pickers() -> list[psutil.Process]:
    """The `otop popup` processes running now."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        argv = p.info["cmdline"] or []
        if "otop" in " ".join(argv) and "popup" in argv:
            found.append(p)
    return found


def closed(world: World) -> bool:
    """No picker runs, and on tmux 3.1c its session is gone too."""
    sessions = world.server("list-sessions", "-F", "#{session_name}")
    return not pickers() and "otop-picker" not in sessions


def press_then(client: Client, keys: bytes, delay: float) -> None:
    if delay == 0:
        client.press(b"\x02O" + keys)
        return
    client.press(b"\x02O")
    time.sleep(delay)
    client.press(keys)


@pytest.mark.parametrize("delay", DELAYS)
def test_a_filter_and_one_enter_land_on_the_pane(
    picked: tuple[World, dict[str, str], Client], delay: float
) -> None:
    """`/`, a title's letters and ONE Enter, typed with prefix+O or a moment after, land the
    client on that agent's pane and close the picker; the shell below got none of it."""
    world, panes, client = picked
    before = world.server("show-options", "-t", "s")
    press_then(client, b"/idle\r", delay)
    wait_for(lambda: client.pane() == panes["idle"], timeout=20, what="the jump")
    wait_for(lambda: closed(world), timeout=10, what="the picker to close")
    below = world.server("capture-pane", "-p", "-t", "%0")
    assert "idle" not in below
    # Nothing of the typeahead is left: the session's own options, the client's key table.
    assert world.server("show-options", "-t", "s") == before
    keys = world.server("list-clients", "-F", "#{client_name} #{client_key_table}")
    assert f"{client.name} root" in keys.splitlines()


def test_typed_at_a_persons_speed(picked: tuple[World, dict[str, str], Client]) -> None:
    """Keys typed one by one, 80 ms apart, from the moment prefix+O is pressed."""
    world, panes, client = picked
    client.press(b"\x02O")
    for key in b"/idle\r":
        time.sleep(0.08)
        client.press(bytes([key]))
    wait_for(lambda: client.pane() == panes["idle"], timeout=20, what="the jump")
    wait_for(lambda: closed(world), timeout=10, what="the picker to close")


@pytest.mark.parametrize("delay", DELAYS)
def test_escape_closes_it_where_it_was(
    picked: tuple[World, dict[str, str], Client], delay: float
) -> None:
    """Esc at any moment after prefix+O closes the picker and leaves the client where it was,
    with nothing left behind."""
    world, _, client = picked
    wait_for(lambda: not pickers(), what="no picker yet")
    press_then(client, b"\x1b", delay)
    if delay >= 0.3:
        wait_for(lambda: b"Work perm" in client.seen(), timeout=20, what="the rows")
    wait_for(lambda: closed(world), timeout=20, what="the picker to close")
    assert client.pane() == "%0"


def test_moves_typed_at_once(picked: tuple[World, dict[str, str], Client]) -> None:
    """j j and Enter with prefix+O select the third row (rows by urgency: waiting, working,
    idle)."""
    _, panes, client = picked
    press_then(client, b"jj\r", 0)
    wait_for(lambda: client.pane() == panes["idle"], timeout=20, what="the jump")


def test_rows_show_and_another_client_stays(picked: tuple[World, dict[str, str], Client]) -> None:
    """The picker shows the agents' rows to the client that asked; a second client on the
    same session keeps showing what it showed (a popup, or a session of the picker's own)."""
    world, _, client = picked
    other = Client(world.server)
    try:
        wait_for(lambda: other.pane() == "%0", what="the second client")
        client.press(b"\x02O")
        wait_for(lambda: b"Work idle" in client.seen(), timeout=20, what="the rows")
        if tmux_version() < (3, 2):
            wait_for(lambda: "otop-picker" in world.server("list-sessions"), what="its session")
        assert other.pane() == "%0" and pickers()
        client.press(b"q")
        wait_for(lambda: closed(world), timeout=20, what="the picker to close")
        assert client.pane() == "%0" and other.pane() == "%0"
    finally:
        other.close()


def test_counts_and_badges_match_the_listing(
    picked: tuple[World, dict[str, str], Client], capsys: pytest.CaptureFixture[str]
) -> None:
    """On a server of twelve windows the status counts and each agent's window badge say what
    `otop list --json` says (the agent waiting on a permission counted as waiting); prefix+N
    lands on it."""
    world, panes, client = picked
    assert main(["-L", world.server.socket, "list", "--json"]) == 0
    agents = json.loads(capsys.readouterr().out)["agents"]
    by_pane = {a["pane"]["id"]: a for a in agents if a["pane"]}
    assert {by_pane[panes[k]]["state"] for k in ("tool", "perm", "idle")} == {
        "tool",
        "permission",
        "idle",
    }
    icons = {"waiting": "⏳", "working": "⚙", "idle": "·"}
    status = world.option("@otop_status")
    for group, icon in icons.items():
        n = sum(a["group"] == group for a in agents)
        assert f"{icon}{n}" in status, (group, status)
    for key in ("tool", "perm", "idle"):
        window = world.server("display", "-p", "-t", panes[key], "#{window_id}").strip()
        badge = world.option("@otop_badge", window)
        assert icons[by_pane[panes[key]]["group"]] in badge, (key, badge)
    client.press(b"\x02N")
    wait_for(lambda: client.pane() == panes["perm"], timeout=10, what="prefix+N's jump")
