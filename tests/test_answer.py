"""Answering a permission prompt in place: reading opencode's dialog from styled pane text
(lines captured from the real TUI), and refusing to press anything when no dialog shows."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from otop.answer import AnswerError, in_pane
from otop.model import State
from otop.opencode.dialog import moves, selected
from otop.tmux import Target, Tmux
from tests.conftest import TmuxServer
from tests.ui_world import AGENTS

# The dialog's choice line from a real opencode 1.18.33 (`capture-pane -e`), as first drawn,
# and after Right once.
FIRST = (
    "\x1b[48;5;232m  \x1b[38;5;215m\x1b[48;5;233m┃\x1b[38;5;15m\x1b[48;5;234m  \x1b[48;5;215m"
    " \x1b[38;5;232mAllow once\x1b[38;5;15m \x1b[48;5;234m  \x1b[38;5;8mAllow always\x1b[38;5;15m"
    "   \x1b[38;5;8mReject\x1b[38;5;15m       \x1b[38;5;255mctrl+f \x1b[38;5;8mfullscreen"
)
SECOND = (
    "\x1b[48;5;232m  \x1b[38;5;215m\x1b[48;5;233m┃\x1b[38;5;15m\x1b[48;5;234m   \x1b[38;5;8m"
    "Allow once\x1b[38;5;15m  \x1b[48;5;215m \x1b[38;5;232mAllow always\x1b[38;5;15m \x1b[48;5;234m"
    "  \x1b[38;5;8mReject\x1b[38;5;15m        \x1b[38;5;255mctrl+f \x1b[38;5;8mfullscreen"
)


def test_selected_choice_is_read_from_colours() -> None:
    """The choice drawn on its own background is the selected one."""
    assert selected("other line\n" + FIRST + "\nmore") == 0
    assert selected(SECOND) == 1
    assert selected("Allow once   Allow always   Reject") is None  # no colours: cannot tell
    assert selected("nothing here") is None


def test_moves_take_the_short_way_round() -> None:
    """Right and Left wrap around the three choices; the shortest way is taken."""
    assert moves(0, 0) == [] and moves(0, 1) == ["Right"] and moves(0, 2) == ["Left"]
    assert moves(2, 0) == ["Right"] and moves(1, 0) == ["Left"]


def test_no_dialog_no_keys(tmux: TmuxServer, tmp_path: Path) -> None:
    """When the pane shows no dialog, nothing is pressed and the reason is given."""
    marker = tmp_path / "pressed"
    pane = tmux.new_window(tmp_path, f"bash --norc -c 'read x; touch {marker}; sleep 60'")
    agent = replace(AGENTS[1], pane=replace(AGENTS[1].pane, id=pane))  # type: ignore[type-var]
    assert agent.state == State.PERMISSION
    with pytest.raises(AnswerError, match="does not show opencode's permission dialog"):
        in_pane(Tmux(Target(socket_name=tmux.socket)), agent, 2)
    assert not marker.exists()
    with pytest.raises(AnswerError, match="is idle, not waiting"):
        in_pane(Tmux(Target(socket_name=tmux.socket)), AGENTS[0], 0)
