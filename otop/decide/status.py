"""Pure: one session's newest rows, plus liveness and what the screen or log shows, to a state."""

from typing import NamedTuple

from otop.core.model import Confidence, Evidence, SessionDetail, State, ToolRun, Turn

ABORTED = "MessageAbortedError"
# The tool that runs a subagent: `task` in opencode 1.x, `subagent` in opencode 2.
SUBAGENT_TOOLS = ("task", "subagent")
# A live process whose unfinished turn wrote nothing for this long, with no CPU and no tool
# command running, is taken to be stuck.
STUCK_AFTER = 15 * 60.0
IDLE_CPU = 1.0


class Signals(NamedTuple):
    """What is known outside the session's rows when its state is decided."""

    alive: bool = True  # a live process shows this session
    cpu_percent: float | None = None
    children: int = 0  # live child processes of the agent (tool commands)
    screen_permission: bool | None = None  # None: the pane was not looked at
    log_ask: str | None = None  # per_/que_ id the run's log asked and did not yet move past
    log_ask_at: float | None = None


class Verdict(NamedTuple):
    """A state with the tool it concerns, the evidence, and since when the agent waits."""

    state: State
    tool: str | None
    evidence: Evidence
    waiting_since: float | None = None


def _ev(source: str, detail: str, confidence: Confidence = Confidence.CERTAIN) -> Evidence:
    return Evidence(source=source, confidence=confidence, detail=detail)


def infer(session: SessionDetail | None, signals: Signals, now: float) -> Verdict:
    """Decide what an agent is doing from its session's newest rows and outside signals."""
    if session is None:
        return Verdict(State.NEW, None, _ev("session", "no session yet (home screen)"))
    turn = session.turn
    if turn.last_message_id is None:
        return Verdict(State.NEW, None, _ev("db", f"{session.brief.id} has no messages yet"))
    if turn.completed:
        return _finished(turn)
    return _unfinished(session, turn, signals, now)


def _finished(turn: Turn) -> Verdict:
    ref = turn.assistant_id or turn.last_message_id or "?"
    if turn.error_name == ABORTED:
        return Verdict(State.INTERRUPTED, None, _ev("db", f"{ref} error {ABORTED}"))
    if turn.rejected:
        detail = f"{ref}: a permission was rejected, and opencode stopped the turn there"
        return Verdict(State.INTERRUPTED, None, _ev("db", detail))
    if turn.error_name:
        detail = f"{ref} error {turn.error_name}"
        if turn.error_message:
            detail += f": {turn.error_message}"
        return Verdict(State.ERROR, None, _ev("db", detail), waiting_since=turn.last_activity_at)
    if turn.malformed and turn.finish is None and turn.assistant_id is None:
        return Verdict(State.IDLE, None, _ev("db", "newest rows unreadable", Confidence.GUESS))
    return Verdict(State.IDLE, None, _ev("db", f"{ref} completed, finish={turn.finish or '-'}"))


def _unfinished(session: SessionDetail, turn: Turn, sig: Signals, now: float) -> Verdict:
    """An unfinished turn: stale, asking a permission, running a tool, or with the model."""
    ref = turn.assistant_id or turn.last_message_id or "?"
    if not sig.alive:
        return Verdict(
            State.STALE,
            None,
            _ev("process", f"{ref} unfinished and no live process shows {session.brief.id}"),
        )
    return (
        _permission(session, turn, sig, ref)
        or _running_tool(session, turn, sig, now)
        or _without_tools(turn, sig, now, ref)
    )


def _permission(session: SessionDetail, turn: Turn, sig: Signals, ref: str) -> Verdict | None:
    """A permission dialog, as the screen shows it or else as the log asked it."""
    # A permission dialog looks like a running tool in the database: only the screen or the
    # log tells it apart. It may belong to a subagent, so it outranks the session's own parts.
    if sig.screen_permission:
        tool = _first_tool(session)
        return Verdict(
            State.PERMISSION,
            tool,
            _ev("screen", f"unfinished turn {ref} + pane shows 'Permission required'"),
            waiting_since=_since(sig.log_ask_at, turn),
        )
    if sig.log_ask and sig.log_ask.startswith("per_") and sig.screen_permission is None:
        return Verdict(
            State.PERMISSION,
            _first_tool(session),
            _ev("log", f"unfinished turn {ref} + log 'asking id={sig.log_ask}'", Confidence.LIKELY),
            waiting_since=_since(sig.log_ask_at, turn),
        )
    return None


def _running_tool(session: SessionDetail, turn: Turn, sig: Signals, now: float) -> Verdict | None:
    """The turn's running tools: a question first, then a subagent's task, then any tool."""
    tools = turn.running_tools
    for t in tools:
        if t.tool == "question":
            return Verdict(
                State.QUESTION,
                "question",
                _ev("db", f"running question tool {t.part_id}"),
                waiting_since=t.started_at,
            )
    for t in tools:
        if t.tool in SUBAGENT_TOOLS:
            return _task(t, _busiest_child(session, sig, now))
    if tools:
        t = tools[0]
        return Verdict(State.TOOL, t.tool, _ev("db", f"running {t.tool} tool {t.part_id}"))
    return None


def _task(t: ToolRun, child: Verdict | None) -> Verdict:
    """A running task tool: its subagent's question or permission, else the subagent at work."""
    if child is not None and child.state in (State.PERMISSION, State.QUESTION):
        return Verdict(
            child.state,
            child.tool,
            _ev("db", f"subagent {t.child_session_id or '?'}: {child.evidence.detail}"),
            waiting_since=child.waiting_since,
        )
    return Verdict(
        State.SUBAGENT,
        t.tool,
        _ev("db", f"running {t.tool} tool {t.part_id} (subagent {t.child_session_id or '?'})"),
    )


def _without_tools(turn: Turn, sig: Signals, now: float, ref: str) -> Verdict:
    """No tool running: stuck, thinking, or the model generating."""
    stuck = _stuck(turn, sig, now)
    if stuck:
        return Verdict(State.STALE, None, _ev("process", stuck, Confidence.LIKELY))
    if turn.reasoning_open:
        return Verdict(State.THINKING, None, _ev("db", f"{ref} has an open reasoning part"))
    if turn.last_role == "user":
        return Verdict(State.GENERATING, None, _ev("db", "user message waiting for the model"))
    return Verdict(State.GENERATING, None, _ev("db", f"{ref} not completed"))


def _first_tool(session: SessionDetail) -> str | None:
    for t in session.turn.running_tools:
        if t.tool not in SUBAGENT_TOOLS:
            return t.tool
    for child in session.children:
        for t in child.turn.running_tools:
            return t.tool
    return session.turn.running_tools[0].tool if session.turn.running_tools else None


def _busiest_child(session: SessionDetail, sig: Signals, now: float) -> Verdict | None:
    """The most urgent state among the subagents running in the current round."""
    best: Verdict | None = None
    for child in session.children:
        if child.turn.completed:
            continue
        v = infer(child, Signals(alive=sig.alive, cpu_percent=sig.cpu_percent), now)
        if best is None or v.state in (State.PERMISSION, State.QUESTION):
            best = v
    return best


def _since(at: float | None, turn: Turn) -> float | None:
    return at if at is not None else turn.last_activity_at


def _stuck(turn: Turn, sig: Signals, now: float) -> str | None:
    """Why a live process's unfinished turn looks abandoned, or None."""
    if turn.last_activity_at is None or sig.cpu_percent is None:
        return None
    silent = now - turn.last_activity_at
    if silent < STUCK_AFTER or sig.cpu_percent >= IDLE_CPU or sig.children:
        return None
    return (
        f"unfinished turn silent for {silent / 60:.0f} min, "
        f"CPU {sig.cpu_percent:.1f}%, no tool command running"
    )


def child_state(child: SessionDetail, alive: bool, now: float) -> Verdict:
    """The state of one subagent session, as shown under its parent."""
    return infer(child, Signals(alive=alive), now)


def busy_state(turn: Turn) -> tuple[State, str | None, str]:
    """What a session its server calls busy is doing, from its turn: a subagent, a tool, a
    reasoning stream, or text."""
    for run in turn.running_tools:
        if run.tool in SUBAGENT_TOOLS:
            return State.SUBAGENT, run.tool, f"{run.tool} {run.part_id} running"
        return State.TOOL, run.tool, f"{run.tool} {run.part_id} running"
    if turn.reasoning_open:
        return State.THINKING, None, "reasoning open"
    if turn.assistant_id is None:
        return State.GENERATING, None, "not fetched"
    return State.GENERATING, None, "no tool running"
