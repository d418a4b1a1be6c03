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
    shell = f"{command}; echo otop exited $?; sleep 600"
    pane = world.server.new_window(
        world.tmp, f"bash --norc --noprofile -c {shlex.quote(shell)}", "app"
    )

    def screen() -> str:
        return world.server("capture-pane", "-p", "-t", pane)

    wait_for(lambda: "sort: urgency" in screen() and "Work perm" in screen(), 30, what="rows")
    world.server("send-keys", "-t", pane, "q")
    wait_for(lambda: "otop exited" in screen(), 15, what="the app to leave")
    assert "otop exited 0" in screen(), screen()
