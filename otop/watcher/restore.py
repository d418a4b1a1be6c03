"""The watcher's published document (`list --json` shape) read back as a Scan, so the popup
paints its first frame at once and goes live behind it. What the document does not carry
(argv, pane titles, turn details) is left empty: the live scan a moment later has it."""

from __future__ import annotations

from typing import Any

from otop.core.model import (
    Agent,
    Confidence,
    Evidence,
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


def scan_from(doc: dict[str, Any], db_path: str | None) -> Scan | None:
    """The document as a Scan (the watcher's); None when any part of it is not what otop
    writes."""
    try:
        agents = tuple(_agent(a) for a in doc["agents"])
        problems = tuple(Problem("watcher", str(p)) for p in doc.get("problems") or ())
        return Scan(_s(doc["generated_at"]) or 0.0, agents, db_path, problems, origin="watcher")
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _s(ms: object) -> float | None:
    return float(ms) / 1000.0 if isinstance(ms, int | float) else None


def _evidence(e: dict[str, Any]) -> Evidence:
    return Evidence(
        str(e["source"]),
        Confidence(e["confidence"]),
        str(e["detail"]),
        tuple(str(n) for n in e.get("notes", ())),
    )


def _agent(a: dict[str, Any]) -> Agent:
    proc = None
    if a.get("pid") is not None:
        proc = Proc(
            int(a["pid"]),
            ProcKind(a["kind"]),
            (),
            a.get("directory"),
            a.get("tty"),
            _s(a.get("started_at")) or 0.0,
            int(a.get("rss_bytes") or 0),
            a.get("cpu_percent"),
        )
    pane = None
    if a.get("pane"):
        p = a["pane"]
        pane = Pane(
            str(p["id"]),
            str(p["session"]),
            int(p["window_index"]),
            str(p["window_id"]),
            str(p["window_name"]),
            int(p["pane_index"]),
            "",
            0,
            "",
            "",
        )
    ev = a["evidence"]
    return Agent(
        key=str(a["key"]),
        proc=proc,
        pane=pane,
        session=_session(a),
        state=State(a["state"]),
        tool=a.get("tool"),
        evidence_pane=_evidence(ev["pane"]),
        evidence_session=_evidence(ev["session"]),
        evidence_state=_evidence(ev["state"]),
        waiting_since=_s(a.get("waiting_since")),
        server=a.get("server"),
        unseen_since=0.0 if a.get("unseen") else None,  # marked; since when, the live scan says
        seen_at=_s(a.get("seen_at")),
        database=a.get("database"),
    )


def _session(a: dict[str, Any]) -> SessionDetail | None:
    if not a.get("session_id"):
        return None
    where = str(a.get("directory") or "")
    brief = SessionBrief(
        str(a["session_id"]), str(a.get("title") or ""), where, 0.0, 0.0, bool(a.get("interactive"))
    )
    turn = Turn(
        last_message_id=str(a["session_id"]),
        round_started_at=_s(a.get("round_started_at")),
        last_activity_at=_s(a.get("last_activity_at")),
    )
    todos = tuple(
        Todo(str(t["content"]), str(t["status"]), str(t["priority"])) for t in a.get("todos") or ()
    )
    return SessionDetail(
        brief,
        str(a.get("model") or ""),
        str(a.get("agent") or ""),
        Tokens(**a["tokens"]) if a.get("tokens") else Tokens(),
        float(a.get("cost") or 0.0),
        int(a.get("messages") or 0),
        str(a.get("last_output") or ""),
        turn,
        todos,
    )
