"""opencode 2's JSON (what otop/sources/opencode/service.py read) as the records 1.x rows become:
SessionBrief for correlation, SessionDetail with its Turn for the state. Shapes as measured on
2.1.2: a session's messages come newest first, typed `user`, `assistant` and `idle` (the end of
a turn, with its `outcome`); an assistant's `content` holds `text`, `reasoning` and `tool`
parts. A malformed field degrades to a default, never raises."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from otop.core.model import SessionBrief, SessionDetail, ToolRun, Turn
from otop.core.text import clean
from otop.sources.opencode.fields import as_int, as_map, seconds, session_detail
from otop.sources.opencode.rows import HistoryEntry, HistoryPart, last_line

Json = Mapping[str, Any]
SESSION = re.compile(r"^ses_[0-9A-Za-z]{1,64}$")  # a session id, safe in a request's path
# The evidence source of a state read from an opencode 2 service (otop acts on it there).
SOURCE = "service"
# What 1.x calls an interrupted turn's error (otop/decide/status.py reads it): 2.x says
# `outcome: interrupted`, and its assistant's error type `aborted`.
ABORTED = "MessageAbortedError"


def brief(s: Json) -> SessionBrief | None:
    """A root session as correlation reads it; None for a child or a malformed one."""
    sid = str(s.get("id") or "")
    if not SESSION.match(sid) or s.get("parentID"):
        return None
    times = as_map(s.get("time"))
    return SessionBrief(
        id=sid,
        title=clean(str(s.get("title") or "")),
        directory=clean(str(as_map(s.get("location")).get("directory") or "")),
        created_at=seconds(times.get("created")),
        updated_at=seconds(times.get("updated")),
        interactive=True,
    )


def detail(s: Json, messages: Sequence[Json], running: bool) -> SessionDetail | None:
    """A session with its newest messages (newest first), `running` as the service's active
    list says."""
    b = brief(s)
    if b is None:
        return None
    return session_detail(
        s,
        b,
        sum(m.get("type") in ("user", "assistant") for m in messages),
        _last_words(messages),
        turn(messages, running),
    )


def turn(messages: Sequence[Json], running: bool) -> Turn:
    """The newest turn: done at an `idle` message (its outcome says how), running while the
    service lists the session as active."""
    if not messages:
        return Turn()
    newest = messages[0]
    assistant = next((m for m in messages if m.get("type") == "assistant"), None)
    user = next((m for m in messages if m.get("type") == "user"), None)
    said = next((m for m in messages if m.get("type") in ("user", "assistant")), None)
    done = not running
    error_name, error_message = _error(newest, assistant) if done else (None, None)
    return Turn(
        last_message_id=str(newest.get("id") or "") or None,
        last_role=str(said.get("type")) if said else None,
        assistant_id=str(assistant.get("id")) if assistant else None,
        assistant_created=seconds(as_map(assistant.get("time")).get("created"))
        if assistant
        else None,
        completed=done,
        finish=str(assistant.get("finish")) if assistant and assistant.get("finish") else None,
        error_name=error_name,
        error_message=error_message,
        running_tools=_running(assistant) if running and assistant else (),
        reasoning_open=running and assistant is not None and _last_part(assistant) == "reasoning",
        last_activity_at=_created(newest) or None,
        round_started_at=_created(user) if user else None,
    )


def pending(requests: Sequence[Json], prefix: str) -> str | None:
    """The first pending request's id (`per_...`, `frm_...`), if well formed."""
    for r in requests:
        rid = str(r.get("id") or "")
        if rid.startswith(prefix) and rid[len(prefix) :].isalnum() and len(rid) < 80:
            return rid
    return None


def _error(newest: Json, assistant: Json | None) -> tuple[str | None, str | None]:
    """How a finished turn ended: (error name, message), (None, None) when it succeeded."""
    outcome = newest.get("outcome") if newest.get("type") == "idle" else None
    err = as_map(newest.get("error")) or (as_map(assistant.get("error")) if assistant else {})
    if outcome == "interrupted" or err.get("type") == "aborted":
        return ABORTED, None
    if outcome == "failed" or err:
        return clean(str(err.get("type") or "error")), clean(str(err.get("message") or ""))[:300]
    return None, None


def history(messages: Sequence[Json]) -> list[HistoryEntry]:
    """A session's messages (newest first, as the service sends them) for the detail view,
    oldest first: what the user sent, what the model wrote and ran, and what opencode itself
    added (a `synthetic` message, such as the notice of a restarted service)."""
    out = []
    for m in reversed(messages):
        kind, mid, when = m.get("type"), clean(str(m.get("id") or "?"))[:80], _created(m)
        if kind in ("user", "synthetic"):
            text = str(m.get("text") or m.get("description") or "")
            role = "user" if kind == "user" else "opencode"
            out.append(HistoryEntry(mid, role, when, "", 0, "", (HistoryPart("text", text),)))
        elif kind == "assistant":
            err, why = _error(m, None)
            model = as_map(m.get("model"))
            label = "/".join(str(model[k]) for k in ("providerID", "id") if model.get(k))
            out.append(
                HistoryEntry(
                    mid,
                    "assistant",
                    when,
                    clean(label),
                    as_int(as_map(m.get("tokens")).get("output")),
                    f"{err}: {why}" if err and why else err or "",
                    tuple(_part(p) for p in _content(m)),
                )
            )
    return out


def _part(p: Json) -> HistoryPart:
    kind = str(p.get("type") or "?")
    if kind in ("text", "reasoning"):
        return HistoryPart(kind, str(p.get("text") or ""))
    if kind != "tool":
        return HistoryPart(clean(kind)[:40], "")
    state, given = as_map(p.get("state")), as_map(as_map(p.get("state")).get("input"))
    what = given.get("command") or given.get("path") or given.get("description") or ""
    return HistoryPart(
        "tool",
        clean(str(what))[:300],
        tool=clean(str(p.get("name") or "?"))[:60],
        status=clean(str(state.get("status") or "?"))[:20],
    )


def _running(assistant: Json) -> tuple[ToolRun, ...]:
    out = []
    for p in _content(assistant):
        state = as_map(p.get("state"))
        if p.get("type") != "tool" or state.get("status") not in ("pending", "running"):
            continue
        out.append(
            ToolRun(
                part_id=clean(str(p.get("id") or "?"))[:80],
                tool=clean(str(p.get("name") or "?"))[:60],
                status=str(state.get("status")),
                started_at=seconds(as_map(p.get("time")).get("created")) or None,
            )
        )
    return tuple(out)


def _created(m: Json) -> float:
    return seconds(as_map(m.get("time")).get("created"))


def _last_part(assistant: Json) -> str | None:
    parts = _content(assistant)
    return str(parts[-1].get("type")) if parts else None


def _last_words(messages: Sequence[Json]) -> str:
    for m in messages:
        if m.get("type") != "assistant":
            continue
        for p in reversed(_content(m)):
            if p.get("type") == "text" and p.get("text"):
                return last_line(str(p["text"]))
    return ""


def _content(m: Json) -> list[Json]:
    parts = m.get("content")
    return [p for p in parts if isinstance(p, Mapping)] if isinstance(parts, list) else []
