"""An opencode server's JSON (what otop/sources/opencode/remote.py fetched) read as plain
ServerSession records: ids checked against opencode's own shapes, numbers finite, text
cleaned. A malformed field degrades to a default, never raises."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from otop.core.model import (
    MessageRow,
    PartRow,
    ServerSession,
    SessionBrief,
    SessionDetail,
    Turn,
)
from otop.core.text import clean
from otop.sources.opencode import turn as turn_rules
from otop.sources.opencode.fields import as_map, seconds, session_detail
from otop.sources.opencode.rows import last_line

if TYPE_CHECKING:
    from otop.sources.opencode.remote import View

_SESSION = re.compile(r"^ses_[0-9A-Za-z]{1,64}$")
_REQUEST = re.compile(r"^(per|que)_[0-9A-Za-z]{1,64}$")
Json = Mapping[str, Any]


def sessions(view: View) -> list[ServerSession]:
    """The root sessions a server listed, with what it said of each (none after an error)."""
    if view.error is not None:
        return []
    asks = {str(p.get("sessionID")): p for p in view.permissions}
    asked = {str(q.get("sessionID")): q for q in view.questions}
    out = []
    for s in view.sessions:
        sid = str(s.get("id") or "")
        if not _SESSION.match(sid) or s.get("parentID"):
            continue
        request, tool = None, None
        if sid in asks:
            request = _request_id(asks[sid].get("id"))
            tool = clean(str(asks[sid].get("permission") or "")) or None
        elif sid in asked:
            request = _request_id(asked[sid].get("id"))
        recent = view.recent.get(sid)
        out.append(
            ServerSession(
                detail=_detail(s, sid, _last_words(recent) if recent is not None else ""),
                updated=seconds(as_map(s.get("time")).get("updated")),
                status=as_map(view.status.get(sid)).get("type", "idle"),
                permission=sid in asks,
                question=sid in asked,
                request_id=request,
                permission_tool=tool,
                turn=_turn(recent) if recent is not None else None,
            )
        )
    return out


def _detail(s: Json, sid: str, last_output: str) -> SessionDetail:
    times = as_map(s.get("time"))
    title, where = clean(str(s.get("title") or "")), clean(str(s.get("directory") or ""))
    brief = SessionBrief(
        sid, title, where, seconds(times.get("created")), seconds(times.get("updated")), True
    )
    return session_detail(s, brief, 0, last_output, Turn(last_message_id=sid))


def _turn(messages: Sequence[Json]) -> Turn:
    """A busy session's turn from its newest messages ({info, parts}, oldest first), read as
    the database's rows are (otop/sources/opencode/turn.py)."""
    recent: list[MessageRow] = []
    parts: dict[str, list[PartRow]] = {}
    for m in reversed(messages):
        info, raw_parts = m.get("info"), m.get("parts")
        if not isinstance(info, Mapping):
            continue
        times = info.get("time") if isinstance(info.get("time"), Mapping) else {}
        assert isinstance(times, Mapping)
        mid = str(info.get("id") or "")
        at = seconds(times.get("created"))
        recent.append(MessageRow(mid, at, at, dict(info)))
        rows = raw_parts if isinstance(raw_parts, list) else []
        parts[mid] = [PartRow(str(p.get("id", "")), at, p) for p in rows if isinstance(p, dict)]
    newest = turn_rules.newest_assistant(recent)
    turn, _, _ = turn_rules.build(recent, parts.get(newest.id, []) if newest else [])
    return turn


def _last_words(messages: Sequence[Json]) -> str:
    for m in reversed(messages):
        info, parts = m.get("info"), m.get("parts")
        if not isinstance(info, Mapping) or not isinstance(parts, list):
            continue
        if info.get("role") == "assistant":
            for p in reversed(parts):
                if isinstance(p, Mapping) and p.get("type") == "text" and p.get("text"):
                    return last_line(str(p["text"]))
    return ""


def _request_id(v: object) -> str | None:
    """A pending request's id, if it looks like one (it is sent back to the server)."""
    return str(v) if _REQUEST.match(str(v)) else None
