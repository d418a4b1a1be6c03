"""What the app asks of the world, in one place: scans, history, pane text, jumps, clipboard.

The app calls these from worker threads; tests hand it a backend over fixture data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

from otop import answer, reply
from otop.model import Agent, McpServer, Pane, Scan
from otop.opencode.config import mcp_servers
from otop.opencode.rows import HistoryEntry
from otop.opencode.store import StoreError
from otop.scan import Scanner
from otop.tmux import Tmux, TmuxError


class Backend(Protocol):
    """Everything the UI reads or does outside itself."""

    def scan(self) -> Scan: ...

    def history(self, session_id: str) -> list[HistoryEntry]: ...

    def capture(self, pane: Pane, lines: int) -> str: ...

    def jump(self, agent: Agent) -> str | None: ...

    def yank(self, text: str) -> str: ...

    def mcp(self, directory: str | None) -> tuple[list[McpServer], list[str]]: ...

    def answer(self, agent: Agent, choice: int) -> str: ...

    def reply(self, agent: Agent, text: str) -> str: ...


class LiveBackend:
    """The real world: a Scanner, its read-only store and its tmux server."""

    def __init__(self, scanner: Scanner, mark: Callable[[Scan], Scan] = lambda s: s) -> None:
        self.scanner = scanner
        self.mark = mark  # the watcher's unseen marks
        assert scanner.tmux is not None
        self.tmux: Tmux = scanner.tmux

    def scan(self) -> Scan:
        return self.mark(self.scanner.scan())

    def history(self, session_id: str) -> list[HistoryEntry]:
        try:
            return self.scanner.store.history(session_id)
        except StoreError:
            return []

    def capture(self, pane: Pane, lines: int) -> str:
        return self.tmux.capture([pane.id], lines).get(pane.id, "")

    def jump(self, agent: Agent) -> str | None:
        if agent.server:
            return f"this agent runs on server {agent.server}: no pane to jump to"
        if agent.pane is None:
            return "this agent runs in no tmux pane"
        try:
            self.tmux.jump(agent.pane, os.environ.get("OTOP_CLIENT") or None)
        except TmuxError as exc:
            return f"cannot jump to {agent.pane.id}: {exc}"
        return None

    def yank(self, text: str) -> str:
        return yank(text, self.tmux)

    def mcp(self, directory: str | None) -> tuple[list[McpServer], list[str]]:
        return mcp_servers(self.scanner.paths.config_dir, directory)

    def answer(self, agent: Agent, choice: int) -> str:
        try:
            if agent.server:
                return answer.on_server(self.scanner.remotes, agent, choice)
            return answer.in_pane(self.tmux, agent, choice)
        except answer.AnswerError as exc:
            return f"not answered: {exc}"

    def reply(self, agent: Agent, text: str) -> str:
        try:
            return reply.send(self.tmux, agent, text)
        except reply.ReplyError as exc:
            return f"not sent: {exc}"


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
