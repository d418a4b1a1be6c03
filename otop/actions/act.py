"""What a person does to an agent, for the CLI and the app alike: find it, jump to its pane,
answer its permission prompt, reply to it, copy its session id, pick the next one to see."""

from __future__ import annotations

import os
from collections.abc import Sequence

from otop.actions import answer as answering
from otop.actions import reply as replying
from otop.actions import service
from otop.core.model import Agent, Scan
from otop.decide.attention import next_for_you
from otop.sources.opencode.dialog import CHOICES
from otop.sources.tmux import Tmux, TmuxError

CLIENT_ENV = "OTOP_CLIENT"  # the tmux client a key binding ran for (`#{client_name}`)


class ActionError(Exception):
    """Why an action was not done, in plain words."""


def client() -> str | None:
    """The tmux client to act for: the one whose key started otop, else tmux's own choice."""
    return os.environ.get(CLIENT_ENV) or None


def find(scan: Scan, target: str) -> Agent:
    """The one agent a person names by session id (or its end), pane id or pid."""
    if target.startswith("%"):
        hits = [a for a in scan.agents if a.pane and a.pane.id == target]
    elif target.isdigit():
        hits = [a for a in scan.agents if a.proc and a.proc.pid == int(target)]
    else:
        hits = [a for a in scan.agents if a.session_id == target] or [
            a
            for a in scan.agents
            if a.session_id and (a.session_id.endswith(target) or a.session_id.startswith(target))
        ]
    if not hits:
        raise ActionError(f"no running agent matches {target!r} (see `otop list --all`)")
    if len(hits) > 1:
        ids = ", ".join(a.session_id or a.key for a in hits)
        raise ActionError(f"{target!r} matches several agents: {ids}")
    return hits[0]


def next_one(agents: Sequence[Agent], now: float) -> Agent:
    """Where prefix+N goes: the agent waiting longest, else the one unseen longest."""
    agent = next_for_you(agents, now)
    if agent is None:
        raise ActionError("no agent is waiting for you or finished unseen")
    return agent


def jump(tmux: Tmux, agent: Agent) -> None:
    """Show the agent's pane in the client."""
    if agent.server:
        raise ActionError(f"this agent runs on server {agent.server}: no pane to jump to")
    if agent.pane is None:
        raise ActionError(f"agent {agent.session_id or agent.key} runs in no tmux pane")
    try:
        tmux.jump(agent.pane, client())
    except TmuxError as exc:
        raise ActionError(f"cannot jump to {agent.pane.id}: {exc}") from None


def answer(tmux: Tmux, agent: Agent, choice: int, remotes: object = None) -> str:
    """Answer a permission prompt: through the agent's server, or in its pane's dialog."""
    if not 0 <= choice < len(CHOICES):
        raise ActionError(f"no choice {choice + 1}: 1, 2 or 3")
    try:
        if service.of_service(agent):
            return service.answer(agent, choice)
        if agent.server:
            from otop.sources.opencode.remote import Remotes

            assert isinstance(remotes, Remotes), "an agent of a server needs its pollers"
            return answering.on_server(remotes, agent, choice)
        return answering.in_pane(tmux, agent, choice)
    except answering.AnswerError as exc:
        raise ActionError(str(exc)) from None


def reply(tmux: Tmux, agent: Agent, text: str) -> str:
    """The agent's next prompt, or its question's answer: typed after reading its screen, or
    sent through its opencode 2 service."""
    try:
        if service.of_service(agent):
            replying.check(text)
            return service.reply(agent, text)
        return replying.send(tmux, agent, text)
    except (replying.ReplyError, answering.AnswerError) as exc:
        raise ActionError(str(exc)) from None


def yank(text: str, tmux: Tmux | None) -> str:
    """Copy text to the system clipboard, else to tmux's paste buffer; says which it used."""
    import pyperclip

    try:
        pyperclip.copy(text)
        return f"copied {text} to the clipboard"
    except pyperclip.PyperclipException:
        pass
    if tmux is not None:
        try:
            tmux.cmd("set-buffer", "--", text)
            return f"copied {text} to the tmux buffer (no clipboard tool found; paste: prefix+])"
        except TmuxError as exc:
            return f"cannot copy: no clipboard tool, and tmux said: {exc}"
    return "cannot copy: no clipboard tool (install xclip, xsel or wl-clipboard)"
