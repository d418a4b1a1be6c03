"""Pure: bindings, session details and signals joined into Agents (a process's, a session
whose process is gone, an opencode server's)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from otop.core.model import (
    Agent,
    Confidence,
    Evidence,
    Pane,
    Proc,
    ProcKind,
    SessionBrief,
    SessionDetail,
    State,
    Tokens,
    Turn,
)
from otop.core.text import clean
from otop.decide.status import Signals, Verdict, infer
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
    )


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
    )


# -- an opencode server's sessions (its own word, so exact) ------------------------------------

_SESSION = re.compile(r"^ses_[0-9A-Za-z]{1,64}$")
_REQUEST = re.compile(r"^(per|que)_[0-9A-Za-z]{1,64}$")
RECENT = 24 * 3600.0  # idle sessions older than this are history, not agents
Json = Mapping[str, Any]
Doing = tuple[State, "str | None", str]


def server_agents(
    name: str,
    url: str,
    sessions: Sequence[Json],
    status: Json,
    permissions: Sequence[Json],
    questions: Sequence[Json],
    doing: Mapping[str, Doing],
    last_words: Mapping[str, str],
    now: float,
) -> list[Agent]:
    """A server's root sessions that are live or recent as agents, their states from what it
    lists (`/permission`, `/question`, `/session/status`, a busy session's newest parts)."""
    asks = {str(p.get("sessionID")): p for p in permissions}
    asked = {str(q.get("sessionID")): q for q in questions}
    out = []
    for s in sessions:
        sid = str(s.get("id") or "")
        if not _SESSION.match(sid) or s.get("parentID"):
            continue
        updated = _s(_map(s.get("time")).get("updated"))
        kind = _map(status.get(sid)).get("type", "idle")
        if sid not in asks and sid not in asked and kind == "idle" and now - updated > RECENT:
            continue
        request: str | None = None
        waiting = updated or None
        if sid in asks:
            state, request = State.PERMISSION, _request_id(asks[sid].get("id"))
            tool = clean(str(asks[sid].get("permission") or "")) or None
            said = f"GET /permission lists {request} ({tool or '?'})"
        elif sid in asked:
            state, request = State.QUESTION, _request_id(asked[sid].get("id"))
            tool, said = "question", f"GET /question lists {request}"
        elif kind in ("busy", "retry"):
            state, tool, now_doing = doing.get(sid, (State.GENERATING, None, "not fetched"))
            said = "GET /session/status says busy" if kind == "busy" else "retrying the model"
            said += f"; newest parts: {now_doing}"
            waiting = None
        else:
            state, tool, said = State.IDLE, None, "GET /session/status does not list it (idle)"
            waiting = None
        out.append(
            Agent(
                key=f"{name}:{sid}",
                proc=None,
                pane=None,
                session=_server_detail(s, sid, state, last_words.get(sid, "")),
                state=state,
                tool=tool,
                evidence_pane=Evidence("server", Confidence.UNKNOWN, f"on server {name}: no pane"),
                evidence_session=Evidence("server", Confidence.CERTAIN, f"{url} lists {sid}"),
                evidence_state=Evidence("server", Confidence.CERTAIN, f"{name}: {said}"),
                waiting_since=waiting,
                server=name,
                request_id=request,
            )
        )
    return out


def _server_detail(s: Json, sid: str, state: State, last_output: str) -> SessionDetail:
    times, model, tokens = _map(s.get("time")), _map(s.get("model")), _map(s.get("tokens"))
    cache = _map(tokens.get("cache"))
    title, where = clean(str(s.get("title") or "")), clean(str(s.get("directory") or ""))
    brief = SessionBrief(
        sid, title, where, _s(times.get("created")), _s(times.get("updated")), True
    )
    return SessionDetail(
        brief=brief,
        model=clean(f"{model.get('providerID', '')}/{model.get('id', '')}").strip("/"),
        agent=clean(str(s.get("agent") or "")),
        tokens=Tokens(
            input=_int(tokens.get("input")),
            output=_int(tokens.get("output")),
            reasoning=_int(tokens.get("reasoning")),
            cache_read=_int(cache.get("read")),
            cache_write=_int(cache.get("write")),
        ),
        cost=_finite(s.get("cost")),
        messages=0,
        last_output=last_output,
        turn=Turn(last_message_id=sid, completed=state == State.IDLE),
    )


def _map(v: object) -> Json:
    return v if isinstance(v, Mapping) else {}


def _request_id(v: object) -> str | None:
    """A pending request's id, if it looks like one (it is sent back to the server)."""
    return str(v) if _REQUEST.match(str(v)) else None


def _int(v: object) -> int:
    return int(v) if isinstance(v, (int, float)) and math.isfinite(v) else 0


def _finite(v: object) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else 0.0


def _s(ms: object) -> float:
    return float(ms) / 1000.0 if isinstance(ms, (int, float)) and math.isfinite(ms) else 0.0
