"""Pure: bindings, session details and signals joined into Agents (a process's, a session
whose process is gone, an opencode server's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from otop.core.model import (
    Agent,
    Confidence,
    Evidence,
    Pane,
    Proc,
    ProcKind,
    ServerSession,
    SessionDetail,
    State,
    Subagent,
)
from otop.decide.status import Signals, Verdict, busy_state, child_state, infer
from otop.decide.tiers import Binding, World, in_dir

UNKNOWN_STATE = "session unknown, so its state is too"


def process_agent(
    b: Binding,
    details: Mapping[str, SessionDetail],
    screens: Mapping[str, bool],
    cpu: Mapping[int, float | None],
    now: float,
) -> Agent:
    """A process's agent: its binding, its session's detail and the outside signals."""
    p = b.proc
    detail = details.get(b.session_id) if b.session_id else None
    if p.kind == ProcKind.SERVE:
        verdict = Verdict(
            State.IDLE, None, Evidence("kind", Confidence.CERTAIN, "a server: see its sessions")
        )
    elif b.ambiguous:
        verdict = Verdict(
            State.UNKNOWN,
            None,
            Evidence("session", Confidence.UNKNOWN, UNKNOWN_STATE),
        )
    else:
        sig = Signals(
            alive=True,
            cpu_percent=cpu.get(p.pid),
            children=p.children,
            screen_permission=screens.get(b.pane.id) if b.pane else None,
            log_ask=b.run.pending_ask if b.run else None,
            log_ask_at=b.run.pending_ask_at if b.run else None,
        )
        verdict = infer(detail, sig, now)
    return Agent(
        key=f"pid:{p.pid}",
        proc=_with_cpu(p, cpu),
        pane=b.pane,
        session=detail,
        state=verdict.state,
        tool=verdict.tool,
        evidence_pane=b.pane_evidence,
        evidence_session=b.session_evidence,
        evidence_state=verdict.evidence,
        waiting_since=verdict.waiting_since,
        subagents=subagents(detail, True, now),
    )


def subagents(detail: SessionDetail | None, alive: bool, now: float) -> tuple[Subagent, ...]:
    """The subagent sessions of a session, each with its own state (alive: the agent has a
    live process)."""
    out = []
    for child in detail.children if detail else ():
        v = child_state(child, alive, now)
        out.append(Subagent(child, v.state, v.tool))
    return tuple(out)


def _with_cpu(p: Proc, cpu: Mapping[int, float | None]) -> Proc:
    """The process with this scan's CPU figure (the same record when it already has it)."""
    return p if cpu.get(p.pid) == p.cpu_percent else p._replace(cpu_percent=cpu.get(p.pid))


def unknown_data_agent(b: Binding, cpu: Mapping[int, float | None], why: str) -> Agent:
    """A process whose opencode data cannot be told or read (otop/sources/homes.py): its
    pane is known, its session and state are not, and it says why rather than look new."""
    p = b.proc
    return Agent(
        key=f"pid:{p.pid}",
        proc=_with_cpu(p, cpu),
        pane=b.pane,
        session=None,
        state=State.UNKNOWN,
        tool=None,
        evidence_pane=b.pane_evidence,
        evidence_session=Evidence("data", Confidence.UNKNOWN, why),
        evidence_state=Evidence(
            "session", Confidence.UNKNOWN, "session unknown, so its state is too"
        ),
    )


def recent_in_dir(world: World, b: Binding, most: int = 12) -> list[str]:
    """The newest root sessions of a process's directory: what a guessed pane may show."""
    mine = [s for s in world.sessions.values() if s.parent_id is None and in_dir(s, b.proc)]
    mine.sort(key=lambda s: s.updated_at, reverse=True)
    return [s.id for s in mine[:most]]


def orphan_agent(
    detail: SessionDetail, pane: Pane | None, servers: list[Proc], now: float
) -> Agent:
    """A session with an unfinished turn and no TUI: stale, unless a server may be driving it."""
    if servers:
        # `opencode serve` runs sessions for its clients without a TUI; which ones, only its
        # HTTP API can say, so the turn is taken as live rather than declared stale.
        server = servers[0]
        verdict = infer(detail, Signals(alive=True), now)
        return Agent(
            key=f"ses:{detail.brief.id}",
            proc=server,
            pane=None,
            session=detail,
            state=verdict.state,
            tool=verdict.tool,
            evidence_pane=Evidence("none", Confidence.UNKNOWN, "driven by a server, not a pane"),
            evidence_session=Evidence(
                "server",
                Confidence.GUESS,
                f"no TUI shows {detail.brief.id}; opencode serve (pid {server.pid}) may drive it",
            ),
            evidence_state=verdict.evidence,
            subagents=subagents(detail, True, now),
        )
    verdict = infer(detail, Signals(alive=False), now)
    pane_ev = (
        Evidence("pane title", Confidence.LIKELY, f"{pane.id} still carries the session's title")
        if pane
        else Evidence("none", Confidence.UNKNOWN, "its process is gone")
    )
    return Agent(
        key=f"ses:{detail.brief.id}",
        proc=None,
        pane=pane,
        session=detail,
        state=verdict.state,
        tool=verdict.tool,
        evidence_pane=pane_ev,
        evidence_session=Evidence(
            "db", Confidence.CERTAIN, f"{detail.brief.id} has an unfinished turn and no process"
        ),
        evidence_state=verdict.evidence,
        subagents=subagents(detail, False, now),
    )


# -- an opencode server's sessions (its own word, so exact) ------------------------------------

RECENT = 24 * 3600.0  # idle sessions older than this are history, not agents


def server_agents(
    name: str, url: str, sessions: Sequence[ServerSession], now: float
) -> list[Agent]:
    """A server's root sessions that are live or recent as agents, their states from what it
    lists (`/permission`, `/question`, `/session/status`, a busy session's newest parts)."""
    out = []
    for s in sessions:
        sid = s.detail.brief.id
        pending = s.permission or s.question
        if not pending and s.status == "idle" and now - s.updated > RECENT:
            continue
        state, tool, said = _server_state(s)
        waiting = (s.updated or None) if pending else None
        detail = s.detail._replace(turn=s.detail.turn._replace(completed=state == State.IDLE))
        out.append(
            Agent(
                key=f"{name}:{sid}",
                proc=None,
                pane=None,
                session=detail,
                state=state,
                tool=tool,
                evidence_pane=Evidence("server", Confidence.UNKNOWN, f"on server {name}: no pane"),
                evidence_session=Evidence("server", Confidence.CERTAIN, f"{url} lists {sid}"),
                evidence_state=Evidence("server", Confidence.CERTAIN, f"{name}: {said}"),
                waiting_since=waiting,
                server=name,
                request_id=s.request_id if pending else None,
            )
        )
    return out


def _server_state(s: ServerSession) -> tuple[State, str | None, str]:
    """A server's session's state, its tool, and what the server said of it."""
    if s.permission:
        said = f"GET /permission lists {s.request_id} ({s.permission_tool or '?'})"
        return State.PERMISSION, s.permission_tool, said
    if s.question:
        return State.QUESTION, "question", f"GET /question lists {s.request_id}"
    if s.status in ("busy", "retry"):
        doing = (State.GENERATING, None, "not fetched") if s.turn is None else busy_state(s.turn)
        state, tool, now_doing = doing
        said = "GET /session/status says busy" if s.status == "busy" else "retrying the model"
        return state, tool, f"{said}; newest parts: {now_doing}"
    return State.IDLE, None, "GET /session/status does not list it (idle)"
