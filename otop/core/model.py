"""Frozen records that cross module boundaries: processes, panes, sessions, agents, scans.

They are NamedTuples, like every record a scan builds: a frozen dataclass costs 0.6 ms to
create at import (and loads `inspect`), which every one-shot command paid before it scanned.
A module that defines a NamedTuple (this one and every other) does not postpone its
annotations (no `from __future__ import annotations`, which the rest of otop uses):
typing.NamedTuple compiles each field's annotation when it is a string, which was nearly half
of what this module's own import cost (measured: 18.6 of 40 million instructions, `typing`
aside), and 8.7 million instructions of a one-shot `list --json` in the other modules. A name
used before its class is defined is quoted."""

from enum import Enum
from typing import NamedTuple


class State(str, Enum):
    """What an agent is doing right now."""

    GENERATING = "generating"
    THINKING = "thinking"
    TOOL = "tool"
    SUBAGENT = "subagent"
    PERMISSION = "permission"
    QUESTION = "question"
    ERROR = "error"
    IDLE = "idle"
    INTERRUPTED = "interrupted"
    NEW = "new"
    STALE = "stale"
    UNKNOWN = "unknown"  # otop cannot tell the session (or the data) it shows, so nor this

    @property
    def group(self) -> "Group":
        return GROUP_OF[self]


class Group(str, Enum):
    """How urgently a state concerns the user."""

    WAITING = "waiting"
    WORKING = "working"
    IDLE = "idle"
    STALE = "stale"


GROUP_OF: dict[State, Group] = {
    State.GENERATING: Group.WORKING,
    State.THINKING: Group.WORKING,
    State.TOOL: Group.WORKING,
    State.SUBAGENT: Group.WORKING,
    State.PERMISSION: Group.WAITING,
    State.QUESTION: Group.WAITING,
    State.ERROR: Group.WAITING,
    State.IDLE: Group.IDLE,
    State.INTERRUPTED: Group.IDLE,
    State.NEW: Group.IDLE,
    State.STALE: Group.STALE,
    State.UNKNOWN: Group.IDLE,
}

# Most urgent first: the order of the default sort and of badge precedence.
GROUP_RANK: dict[Group, int] = {Group.WAITING: 0, Group.WORKING: 1, Group.IDLE: 2, Group.STALE: 3}


class Confidence(str, Enum):
    """How sure otop is of one conclusion."""

    CERTAIN = "certain"
    LIKELY = "likely"
    GUESS = "guess"
    UNKNOWN = "unknown"


CONFIDENCE_RANK: dict[Confidence, int] = {
    Confidence.CERTAIN: 3,
    Confidence.LIKELY: 2,
    Confidence.GUESS: 1,
    Confidence.UNKNOWN: 0,
}


class Evidence(NamedTuple):
    """The source that decided one conclusion, how sure it is, and what it saw."""

    source: str
    confidence: Confidence
    detail: str
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "source": self.source,
            "confidence": self.confidence.value,
            "detail": self.detail,
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


class ProcKind(str, Enum):
    """What an opencode process was started as."""

    TUI = "tui"
    RUN = "run"
    SERVE = "serve"
    ATTACH = "attach"
    SERVICE = "service"  # opencode 2's per-user background service (`serve --service`)


class Home(NamedTuple):
    """The opencode data one process uses: its database, the data directory its logs are in
    (`log/` there), its config directory, and how the database was found (`open`: the
    process holds it open; `environment`: its environment names it); its state directory
    (where opencode 2's per-user service says where it listens), "" when unknown."""

    db: str
    data_dir: str
    config_dir: str
    found: str
    state_dir: str = ""


class Proc(NamedTuple):
    """One opencode process, as plain data."""

    pid: int
    kind: ProcKind
    argv: tuple[str, ...]
    cwd: str | None
    tty: str | None
    started_at: float  # epoch seconds
    rss_bytes: int
    cpu_percent: float | None  # delta between two samples; None until there are two
    ancestors: tuple[int, ...] = ()
    session_arg: str | None = None  # from -s/--session
    continue_arg: bool = False  # -c/--continue
    dir_arg: str | None = None  # positional project directory
    children: int = 0  # live child processes (tool commands)
    home: Home | None = None  # its opencode data; None: not found (home_problem says why)
    home_problem: str = ""
    version: str | None = None  # its executable's opencode version, where a package says it


class Pane(NamedTuple):
    """One tmux pane, as plain data."""

    id: str
    session: str
    window_index: int
    window_id: str
    window_name: str
    pane_index: int
    tty: str
    pid: int
    title: str
    current_command: str
    active: bool = False

    @property
    def location(self) -> str:
        return f"{self.session}:{self.window_index}.{self.pane_index}"

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "session": self.session,
            "window_index": self.window_index,
            "window_id": self.window_id,
            "window_name": self.window_name,
            "pane_index": self.pane_index,
        }


class Tokens(NamedTuple):
    """Token counts of a session."""

    input: int = 0
    output: int = 0
    reasoning: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.reasoning + self.cache_read + self.cache_write

    def to_json(self) -> dict[str, int]:
        return {
            "input": self.input,
            "output": self.output,
            "reasoning": self.reasoning,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
        }


class SessionBrief(NamedTuple):
    """The light columns of a root session, enough to correlate it with a process."""

    id: str
    title: str
    directory: str
    created_at: float  # epoch seconds
    updated_at: float
    interactive: bool
    parent_id: str | None = None


class ToolRun(NamedTuple):
    """A tool part that has not finished."""

    part_id: str
    tool: str
    status: str  # pending | running
    started_at: float | None
    child_session_id: str | None = None
    title: str = ""


class MessageRow(NamedTuple):
    """One stored message: id, times (epoch seconds) and its JSON (None when unreadable)."""

    id: str
    created: float
    updated: float
    data: dict[str, object] | None


class PartRow(NamedTuple):
    """One stored part of a message: id, last write (epoch seconds) and its JSON."""

    id: str
    updated: float
    data: dict[str, object] | None


class Turn(NamedTuple):
    """The newest turn of a session: what its latest rows say."""

    last_message_id: str | None = None
    last_role: str | None = None  # role of the newest message
    assistant_id: str | None = None  # newest assistant message
    assistant_created: float | None = None
    completed: bool = True
    finish: str | None = None
    error_name: str | None = None
    error_message: str | None = None
    running_tools: tuple[ToolRun, ...] = ()
    reasoning_open: bool = False
    text_open: bool = False
    last_activity_at: float | None = None  # newest write among the turn's rows
    round_started_at: float | None = None  # newest user message
    malformed: bool = False  # a row's JSON could not be read
    rejected: bool = False  # the user rejected a permission: opencode stops the loop there


class Todo(NamedTuple):
    """One entry of a session's todo list."""

    content: str
    status: str
    priority: str


class SessionDetail(NamedTuple):
    """Everything the monitor shows about one session, read from its newest rows."""

    brief: SessionBrief
    model: str
    agent: str
    tokens: Tokens
    cost: float
    messages: int
    last_output: str
    turn: Turn
    todos: tuple[Todo, ...] = ()
    children: tuple["SessionDetail", ...] = ()


class ServerSession(NamedTuple):
    """One root session as an opencode server lists it (`/session`, `/session/status`,
    `/permission`, `/question`, and a busy one's newest messages), read into plain fields."""

    detail: SessionDetail  # its turn names the session only: decide says whether it is done
    updated: float  # epoch seconds of its last update (0 when the server did not say)
    status: object = "idle"  # what /session/status says of it: idle, busy, retry
    permission: bool = False  # /permission lists a request of it
    question: bool = False  # /question lists a request of it
    request_id: str | None = None  # that request's id (the permission's first), if well formed
    permission_tool: str | None = None
    turn: Turn | None = None  # its newest messages as a Turn, when it is busy and they were read


class LogRun(NamedTuple):
    """One opencode process's lines in the log: its run id, start, directory and sessions."""

    run_id: str
    started_at: float  # epoch seconds of its first line
    directory: str | None
    sessions: tuple[str, ...] = ()  # session ids in order of their last mention
    created: tuple[str, ...] = ()
    last_line_at: float = 0.0
    pending_ask: str | None = None  # per_... or que_... id asked and not yet followed by work
    pending_ask_at: float | None = None
    last_session_at: float | None = None
    source: str = "opencode.log"

    @property
    def last_session(self) -> str | None:
        return self.sessions[-1] if self.sessions else None


class Subagent(NamedTuple):
    """A subagent session of an agent's current round, with the state the decide layer gave
    it (shown under its parent: one reading for the JSON, the table and the detail)."""

    session: SessionDetail
    state: State
    tool: str | None


class Agent(NamedTuple):
    """One opencode process (and its pane) joined to the session it shows."""

    key: str
    proc: Proc | None
    pane: Pane | None
    session: SessionDetail | None
    state: State
    tool: str | None
    evidence_pane: Evidence
    evidence_session: Evidence
    evidence_state: Evidence
    waiting_since: float | None = None
    server: str | None = None  # the opencode server it comes from (None: this machine)
    request_id: str | None = None  # the pending per_/que_ id a server reported
    unseen_since: float | None = None  # it finished or began waiting while nobody looked
    seen_at: float | None = None  # when a client last looked at its pane (the watcher saw)
    database: str | None = None  # the opencode database its session is read from
    subagents: tuple[Subagent, ...] = ()  # its session's children, decided

    @property
    def group(self) -> Group:
        return self.state.group

    @property
    def session_id(self) -> str | None:
        return self.session.brief.id if self.session else None

    @property
    def unseen(self) -> bool:
        return self.unseen_since is not None

    @property
    def guessed(self) -> bool:
        return self.evidence_session.confidence == Confidence.GUESS


class Problem(NamedTuple):
    """A source that could not be read, said in plain words."""

    source: str
    message: str


class Scan(NamedTuple):
    """One look at the world: every agent, and what could not be read."""

    generated_at: float  # epoch seconds
    agents: tuple[Agent, ...]
    db_path: str | None
    problems: tuple[Problem, ...] = ()
    tmux_socket: str | None = None
    origin: str = "scan"  # "watcher": the plugin's watcher made it (read from what it publishes)


class McpServer(NamedTuple):
    """One MCP server from opencode's config (secrets like headers and env are never kept)."""

    name: str
    kind: str  # local | remote | toggle (an entry that only enables or disables)
    target: str  # the command line or the URL
    enabled: bool
    source: str  # the config file that said so last
