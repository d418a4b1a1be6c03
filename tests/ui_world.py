"""A fixed world for the app: agents in every group, hostile titles, a backend that records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from otop.core.model import (
    Agent,
    Confidence,
    Evidence,
    McpServer,
    Pane,
    Problem,
    Proc,
    ProcKind,
    Scan,
    SessionBrief,
    SessionDetail,
    State,
    Todo,
    Tokens,
    Turn,
)
from otop.decide.agents import subagents
from otop.outputs.row import directory_of
from otop.sources.opencode.config import mcp_servers
from otop.sources.opencode.rows import HistoryEntry, HistoryPart

if TYPE_CHECKING:  # the fixed world serves tests that never start the app
    from textual.pilot import Pilot

NOW = 1_800_000_000.0
EV = Evidence("argv", Confidence.CERTAIN, "argv names the session (-s)")
GUESS = Evidence("recency", Confidence.GUESS, "the newest session in /p/guess")


def detail(n: int, title: str, *, interactive: bool = True, **kw: object) -> SessionDetail:
    brief = SessionBrief(
        f"ses_{n:04d}abcdef01{n * 7919:08x}", title, f"/p/{n}", NOW - 600, NOW - 5, interactive
    )
    base = SessionDetail(
        brief,
        "fake/fake-model",
        "build",
        Tokens(1200 * n, 300 * n),
        0.0,
        4 * n,
        f"last words of {n}",
        Turn(round_started_at=NOW - 30 * n),
    )
    return base._replace(**kw)  # type: ignore[arg-type]


def agent(
    n: int,
    state: State,
    session: SessionDetail | None,
    *,
    kind: ProcKind = ProcKind.TUI,
    guessed: bool = False,
    waiting: float | None = None,
    unseen: float | None = None,
) -> Agent:
    proc = Proc(
        4000 + n,
        kind,
        ("opencode",),
        f"/p/{n}",
        f"/dev/pts/{n}",
        NOW - 3600 - n,
        80_000_000 + n,
        2.5 * n,
    )
    pane = Pane(f"%{n}", "work", n, f"@{n}", f"w{n}", 0, f"/dev/pts/{n}", 100 + n, "", "opencode")
    return Agent(
        f"pid:{4000 + n}",
        proc,
        pane,
        session,
        state,
        "bash" if state == State.TOOL else None,
        EV,
        GUESS if guessed else EV,
        EV,
        waiting,
        unseen_since=unseen,
        subagents=subagents(session, True, NOW),  # as the decide layer gives them
    )


CHILD = detail(9, "dig around (@general subagent)", interactive=False)
AGENTS = (
    agent(
        1,
        State.IDLE,
        detail(
            1,
            "Idle one",
            todos=(
                Todo("write the parser", "completed", "high"),
                Todo("[red]test it[/red]", "in_progress", "medium"),
                Todo("ship", "pending", "low"),
            ),
        ),
        unseen=NOW - 40,
    ),
    agent(2, State.PERMISSION, detail(2, "[bold]Needs you[/bold] \x1b[31m"), waiting=NOW - 90),
    agent(3, State.SUBAGENT, detail(3, "Busy with a helper", children=(CHILD,))),
    agent(4, State.TOOL, detail(4, "日本語のタイトル 🚀 wide and long enough to be cut somewhere")),
    agent(
        5,
        State.GENERATING,
        detail(5, "A run in the background", interactive=False),
        kind=ProcKind.RUN,
    ),
    agent(6, State.IDLE, detail(6, "Maybe this one"), guessed=True),
    agent(7, State.STALE, detail(7, "Killed mid-turn")),
)

HISTORY = [
    HistoryEntry(
        "msg_1", "user", NOW - 120, "", 0, "", (HistoryPart("text", "fix the [b]bug[/b]"),)
    ),
    HistoryEntry(
        "msg_2",
        "assistant",
        NOW - 110,
        "fake/fake-model",
        42,
        "",
        (
            HistoryPart("reasoning", "thinking about it"),
            HistoryPart("tool", "make test", tool="bash", status="completed"),
            HistoryPart("text", "Fixed it.\nAll tests pass."),
        ),
    ),
]


class FixtureBackend:
    """A backend over fixed data that records what the app asked of it."""

    def __init__(
        self,
        agents: tuple[Agent, ...] = AGENTS,
        problems: tuple[Problem, ...] = (),
        config: Path | None = None,
        jump_error: str | None = None,
    ) -> None:
        self.agents = agents
        self.problems = problems
        self.config = config
        self.jump_error = jump_error
        self.scans = 0
        self.jumps: list[str] = []
        self.yanked: list[str] = []
        self.captured: list[str] = []
        self.answered: list[tuple[str, int]] = []
        self.fresh_scans = 0  # scans asked for because a view was too old to act on
        self.replies: list[tuple[str, str]] = []

    def scan(self) -> Scan:
        self.scans += 1
        return Scan(NOW, self.agents, "/data/opencode.db", self.problems)

    def fresh(self) -> Scan:
        self.fresh_scans += 1
        return self.scan()

    def history(
        self, session_id: str, database: str | None, service: str | None = None
    ) -> list[HistoryEntry]:
        return HISTORY

    def capture(self, pane: Pane, lines: int) -> str:
        self.captured.append(pane.id)
        return f"$ screen of {pane.id}\n\x1b[31mred?\x1b[0m [bold]not bold[/bold]\n"

    def jump(self, agent: Agent) -> str | None:
        self.jumps.append(agent.key)
        return self.jump_error

    def yank(self, text: str) -> str:
        self.yanked.append(text)
        return f"copied {text} to the tmux buffer"

    def answer(self, agent: Agent, choice: int) -> str:
        self.answered.append((agent.key, choice))
        return f"answered {choice} in {agent.pane.location if agent.pane else '-'}"

    def reply(self, agent: Agent, text: str) -> str:
        self.replies.append((agent.key, text))
        return f"sent to {agent.pane.location if agent.pane else '-'}"

    def mcp(self, agent: Agent | None) -> tuple[list[McpServer], list[str]]:
        if self.config is None:
            return [], []
        return mcp_servers(self.config, directory_of(agent) if agent else None)


async def settled(pilot: Pilot[None]) -> None:
    """Wait until the app's workers have finished and their messages are handled: a condition,
    not a fixed delay (a worker may start another, e.g. an answer then a rescan)."""
    for _ in range(3):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
