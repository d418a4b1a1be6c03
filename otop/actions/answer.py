"""Answer an agent's permission prompt without switching to it: through its server's API, or
with keystrokes to its TUI after reading that the pane shows the dialog right now."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from otop.core.model import Agent, State
from otop.sources.opencode.dialog import CHOICES, REPLIES, moves, request, selected
from otop.sources.tmux import Tmux, TmuxError

if TYPE_CHECKING:
    from otop.sources.opencode.remote import Remotes


class AnswerError(Exception):
    """Why a prompt was not answered, in plain words (nothing was confirmed)."""


# What 1/2/3 may answer: a permission, and a running tool (or subagent) whose permission the
# view shown may be too old to know of (the popup's first rows are the watcher's last scan).
# The dialog on screen, or the service's pending list, decides: never the view.
ANSWERABLE = (State.PERMISSION, State.TOOL, State.SUBAGENT)


def in_pane(tmux: Tmux, agent: Agent, choice: int, settle: float = 0.15) -> str:
    """Select a choice in the pane's permission dialog and confirm it; checked before and after
    moving, so a dialog that is gone or changed gets no Enter."""
    if agent.state not in ANSWERABLE:
        raise AnswerError(f"this agent is {agent.state.value}, not waiting on a permission")
    if agent.pane is None:
        raise AnswerError("this agent runs in no tmux pane")
    pane = agent.pane.id
    try:
        same_process(tmux, agent)
        first = tmux.styled(pane)
        current, asked = selected(first), request(first)
        if current is None:
            raise AnswerError("the pane does not show opencode's permission dialog now")
        keys = moves(current, choice)
        if keys:
            tmux.keys(pane, *keys)
            deadline = time.monotonic() + 1.0
            while (now := selected(tmux.styled(pane))) != choice:
                if time.monotonic() > deadline:
                    shown = CHOICES[now] if now is not None else "no dialog"
                    raise AnswerError(f"the dialog shows {shown!r}, not {CHOICES[choice]!r}")
                time.sleep(settle)
        last = tmux.styled(pane)
        if selected(last) != choice or request(last) != asked:
            raise AnswerError("the dialog changed while answering (another request?)")
        tmux.keys(pane, "Enter")
    except TmuxError as exc:
        raise AnswerError(f"tmux: {exc}") from None
    return f"answered {CHOICES[choice]!r} in {agent.pane.location}"


def same_process(tmux: Tmux, agent: Agent) -> None:
    """The pane must still hold this agent's opencode: a pane reused by another program (or
    another opencode) gets no keys meant for this one."""
    assert agent.pane is not None
    if agent.proc is None:
        raise AnswerError("this agent's process is gone")
    pane = next((p for p in tmux.panes() if p.id == agent.pane.id), None)
    if pane is None or pane.tty != agent.proc.tty:
        raise AnswerError("the pane no longer runs this agent's opencode")
    if not alive(agent.proc.pid, agent.proc.started_at):
        raise AnswerError(f"opencode (pid {agent.proc.pid}) has exited")


def alive(pid: int, started_at: float) -> bool:
    """Whether the process still runs, and is the same one (a pid is reused once it exits)."""
    import psutil

    try:
        return abs(psutil.Process(pid).create_time() - started_at) < 1.0
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def on_server(remotes: Remotes, agent: Agent, choice: int) -> str:
    """Answer through the opencode server that reported the prompt (its own API)."""
    if agent.state == State.QUESTION:
        raise AnswerError("a question needs typing: answer it in opencode")
    if agent.state != State.PERMISSION or not agent.request_id or not agent.server:
        raise AnswerError(f"this agent is {agent.state.value}, not waiting on a permission")
    from otop.sources.opencode.remote import (
        describe,  # the HTTP modules only when a server is asked
    )

    client = remotes.clients.get(agent.server)
    if client is None:
        raise AnswerError(f"no server named {agent.server}")
    try:
        client.reply(agent.request_id, REPLIES[choice])
    except (OSError, ValueError) as exc:
        raise AnswerError(f"server {agent.server}: {describe(exc)}") from None
    return f"answered {CHOICES[choice]!r} on server {agent.server}"
