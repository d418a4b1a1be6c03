"""Every way a person starts otop still starts it: the `otop` command full screen (no
subcommand), `python -m otop`, and `otop ui`, each in a real tmux pane over fake agents."""

from __future__ import annotations

import shlex
import sys

import pytest

from tests.conftest import BIN, World, wait_for
from tests.test_plugin import add_agents

COMMANDS = {
    "otop": f"{BIN}/otop",
    "python -m otop": f"{shlex.quote(sys.executable)} -m otop",
    "otop ui": f"{BIN}/otop ui --interval 1",
}


@pytest.mark.parametrize("command", list(COMMANDS.values()), ids=list(COMMANDS))
def test_the_full_screen_app_starts_and_quits(world: World, command: str) -> None:
    """The app shows the agents' rows in a pane of its own, then `q` leaves it cleanly."""
    add_agents(world)
    # The shell says how the app ended: tmux's own #{pane_dead_status} is not always there
    # (measured on 3.3a: a pane dead, its process a zombie tmux had not reaped 15 s later).
    shell = f"echo before otop; {command}; echo otop exited $?; sleep 600"
    pane = world.server.new_window(
        world.tmp, f"bash --norc --noprofile -c {shlex.quote(shell)}", "app"
    )

    def screen() -> str:
        return world.server("capture-pane", "-p", "-t", pane)

    wait_for(lambda: "sort: urgency" in screen() and "Work perm" in screen(), 30, what="rows")
    world.server("send-keys", "-t", pane, "q")
    wait_for(lambda: "otop exited" in screen(), 15, what="the app to leave")
    assert "otop exited 0" in screen(), screen()
    # The shell's screen as it was: the app and its first frame drew on the alternate one.
    assert "before otop" in screen() and "sort: urgency" not in screen(), screen()


def test_the_first_rows_come_before_textual(world: World) -> None:
    """Without a watcher, the app's first scan is drawn as plain rows in the alternate screen
    before Textual has loaded (on a busy machine that takes a second or more)."""
    add_agents(world)
    code = (
        "import sys, time\n"
        "from otop.cli.commands import _first_frame\n"
        "from otop.scan.scanner import Scanner, Options\n"
        f"scan = Scanner(Options(socket_name={world.server.socket!r})).scan()\n"
        "assert _first_frame(scan, raw=True)\n"
        f"open({str(world.tmp / 'loaded')!r}, 'w').write(' '.join(sys.modules))\n"
        "time.sleep(600)\n"
    )
    pane = world.server.new_window(
        world.tmp, f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"
    )

    def screen() -> str:
        return world.server("capture-pane", "-p", "-t", pane)

    wait_for(lambda: "Work perm" in screen(), 30, what="the first rows")
    text = screen()
    assert "sort: urgency" in text and "loading…" in text and "permission" in text, text
    wait_for(lambda: (world.tmp / "loaded").exists(), 10, what="its modules")
    assert "textual" not in (world.tmp / "loaded").read_text().split(), "Textual loaded for it"
    assert world.server("display", "-p", "-t", pane, "#{alternate_on}").strip() == "1"
