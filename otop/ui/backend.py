"""What the app asks of the world, in one place: scans, history, pane text, and the actions
(otop/actions/act.py) on an agent.

The app calls these from worker threads; tests hand it a backend over fixture data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from otop.actions import act
from otop.core.model import Agent, McpServer, Pane, Scan
from otop.outputs.row import directory_of
from otop.scan.changes import Changes
from otop.scan.scanner import Scanner
from otop.sources.opencode.config import mcp_servers
from otop.sources.opencode.connection import StoreError
from otop.sources.opencode.rows import HistoryEntry
from otop.sources.tmux import Tmux


class Backend(Protocol):
    """Everything the UI reads or does outside itself."""

    def scan(self) -> Scan: ...

    def fresh(self) -> Scan: ...

    def history(
        self, session_id: str, database: str | None, service: str | None = None
    ) -> list[HistoryEntry]: ...

    def capture(self, pane: Pane, lines: int) -> str: ...

    def jump(self, agent: Agent) -> str | None: ...

    def yank(self, text: str) -> str: ...

    def mcp(self, agent: Agent | None) -> tuple[list[McpServer], list[str]]: ...

    def answer(self, agent: Agent, choice: int) -> str: ...

    def reply(self, agent: Agent, text: str) -> str: ...


class LiveBackend:
    """The real world: a Scanner, its read-only store and its tmux server.

    A scan is the running watcher's (the same document `list --json` answers with) when it has
    published a fresh one; else the app scans itself, as the watcher does: when a cheap probe
    moved, while an agent works, and every FULL_SCAN_EVERY seconds; in between it returns the
    same scan, which the app need not draw again."""

    def __init__(
        self,
        scanner: Scanner,
        mark: Callable[[Scan], Scan] = lambda s: s,
        published: Callable[[], Scan | None] = lambda: None,
    ) -> None:
        self.scanner = scanner
        self.mark = mark  # the watcher's unseen marks
        self.published = published  # the running watcher's latest scan, when fresh
        assert scanner.tmux is not None
        self.tmux: Tmux = scanner.tmux
        self.changes = Changes(scanner)
        self.last: Scan | None = None

    def scan(self) -> Scan:
        theirs = self.published()
        if theirs is not None:
            return theirs
        if self.last is None or self.last.origin != "scan" or self.changes.due(self.last):
            self.last = self.mark(self.scanner.scan())
        return self.last

    def fresh(self) -> Scan:
        """A scan of this moment (never the watcher's, which may be seconds old)."""
        self.last = self.mark(self.scanner.scan())
        return self.last

    def history(
        self, session_id: str, database: str | None, service: str | None = None
    ) -> list[HistoryEntry]:
        try:
            return self.scanner.history(session_id, database=database, service=service)
        except StoreError:
            return []

    def capture(self, pane: Pane, lines: int) -> str:
        return self.tmux.capture([pane.id], lines).get(pane.id, "")

    def jump(self, agent: Agent) -> str | None:
        try:
            act.jump(self.tmux, agent)
        except act.ActionError as exc:
            return str(exc)
        return None

    def yank(self, text: str) -> str:
        return act.yank(text, self.tmux)

    def mcp(self, agent: Agent | None) -> tuple[list[McpServer], list[str]]:
        """The MCP servers of the agent's own opencode config (its data's), for its project."""
        directory = directory_of(agent) if agent else None
        return mcp_servers(self.scanner.config_dir(agent), directory or None)

    def answer(self, agent: Agent, choice: int) -> str:
        remotes = self.scanner.remotes if agent.server else None
        try:
            return act.answer(self.tmux, agent, choice, remotes)
        except act.ActionError as exc:
            return f"not answered: {exc}"

    def reply(self, agent: Agent, text: str) -> str:
        try:
            return act.reply(self.tmux, agent, text)
        except act.ActionError as exc:
            return f"not sent: {exc}"
