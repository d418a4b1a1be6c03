"""Answering a permission prompt in place: reading opencode's dialog from styled pane text
(lines captured from the real TUI), and refusing to press anything when no dialog shows."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from otop.actions.answer import AnswerError, in_pane
from otop.core.model import State
from otop.sources.opencode.dialog import moves, request, selected
from otop.sources.tmux import Target, Tmux
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


HEAD = "\x1b[48;5;234m  \x1b[38;5;215m△ Permission required\x1b[0m\n  ← Read /etc/hostname\n"


def test_selected_choice_is_read_from_colours() -> None:
    """The choice drawn on its own background, below the dialog's header, is the selected one."""
    assert selected("other line\n" + HEAD + FIRST + "\nmore") == 0
    assert selected(HEAD + SECOND) == 1
    assert selected(HEAD + "Allow once   Allow always   Reject") is None  # no colours
    assert selected(FIRST) is None  # choices without the dialog's header are not a dialog
    assert selected("nothing here") is None


def test_model_text_above_the_dialog_is_not_read() -> None:
    """A line of model output naming the three choices, one of them highlighted, above the real
    dialog is not taken for it; and a foreground `38;5;N` is not a background."""
    fake = "  Choose \x1b[48;5;215mAllow once\x1b[48;5;234m, Allow always or `Reject`\x1b[0m\n"
    assert selected(fake + "\n" + HEAD + SECOND) == 1
    assert request(fake + HEAD + SECOND) == request(HEAD + SECOND)
    assert selected(fake) is None
    fg_only = HEAD + "\x1b[38;5;41mAllow once\x1b[38;5;15m  Allow always  Reject"
    assert selected(fg_only) is None  # 41 here is a foreground colour number


def test_moves_take_the_short_way_round() -> None:
    """Right and Left wrap around the three choices; the shortest way is taken."""
    assert moves(0, 0) == [] and moves(0, 1) == ["Right"] and moves(0, 2) == ["Left"]
    assert moves(2, 0) == ["Right"] and moves(1, 0) == ["Left"]


def test_no_dialog_no_keys(tmux: TmuxServer, tmp_path: Path) -> None:
    """When the pane shows no dialog, nothing is pressed and the reason is given."""
    marker = tmp_path / "pressed"
    pane = tmux.new_window(tmp_path, f"bash --norc -c 'read x; touch {marker}; sleep 60'")
    info = tmux("display", "-p", "-t", pane, "#{pane_tty} #{pane_pid}").split()
    base, proc = AGENTS[1], AGENTS[1].proc
    assert base.pane is not None and proc is not None
    started = psutil.Process(int(info[1])).create_time()
    agent = base._replace(
        pane=base.pane._replace(id=pane),
        proc=proc._replace(tty=info[0], pid=int(info[1]), started_at=started),
    )
    assert agent.state == State.PERMISSION
    with pytest.raises(AnswerError, match="does not show opencode's permission dialog"):
        in_pane(Tmux(Target(socket_name=tmux.socket)), agent, 2)
    assert not marker.exists()
    with pytest.raises(AnswerError, match="is idle, not waiting"):
        in_pane(Tmux(Target(socket_name=tmux.socket)), AGENTS[0], 0)
