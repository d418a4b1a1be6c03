"""Pure readers of opencode's JSON `data` columns; a malformed row degrades, never raises."""

import json
from collections.abc import Callable, Sequence
from typing import NamedTuple

from otop.core.text import clean
from otop.sources.opencode.turn import assistant_error, model_label, ms_to_s


def load_json(raw: object) -> dict[str, object] | None:
    """A `data` column as a dict, or None when it is not a JSON object."""
    if not isinstance(raw, (str, bytes)):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def last_line(text: str) -> str:
    """The last non-empty line of a text, cleaned of control characters."""
    for line in reversed(text.splitlines()):
        line = clean(line).strip()
        if line:
            return line[:500]
    return ""


class HistoryPart(NamedTuple):
    """One part of a message, reduced to what the detail view shows."""

    kind: str
    text: str
    tool: str = ""
    status: str = ""


class HistoryEntry(NamedTuple):
    """One message of a session's history, for the detail view."""

    id: str
    role: str
    created_at: float
    model: str
    tokens_output: int
    error: str
    parts: tuple[HistoryPart, ...]


def history_entry(mid: str, created: float, raw: object, parts: list[object]) -> HistoryEntry:
    """One message and its parts as plain, cleaned data."""
    data = load_json(raw)
    if data is None:
        return HistoryEntry(mid, "?", created, "", 0, "unreadable message", ())
    out: list[HistoryPart] = []
    for praw in parts:
        p = load_json(praw)
        if p is None:
            out.append(HistoryPart("?", "unreadable part"))
            continue
        kind = str(p.get("type") or "?")
        if kind in ("text", "reasoning"):
            out.append(HistoryPart(kind, str(p.get("text") or "")))
        elif kind == "tool":
            state = p.get("state") if isinstance(p.get("state"), dict) else {}
            assert isinstance(state, dict)
            title = state.get("title") or ""
            inp = state.get("input")
            if not title and isinstance(inp, dict):
                title = inp.get("command") or inp.get("filePath") or inp.get("description") or ""
            out.append(
                HistoryPart(
                    "tool",
                    str(title),
                    tool=str(p.get("tool") or "?"),
                    status=str(state.get("status") or "?"),
                )
            )
    tokens = data.get("tokens")
    output = tokens.get("output") if isinstance(tokens, dict) else 0
    err_name, err_msg = assistant_error(data)
    return HistoryEntry(
        id=mid,
        role=str(data.get("role") or "?"),
        created_at=created,
        model=model_label(data),
        tokens_output=int(output) if isinstance(output, (int, float)) else 0,
        error=f"{err_name}: {err_msg}" if err_name else "",
        parts=tuple(out),
    )


Query = Callable[[str, Sequence[object]], list[tuple[object, ...]]]


def read_history(query: Query, session_id: str, limit: int) -> list[HistoryEntry]:
    """A session's newest messages with their parts, oldest first, for the detail view."""
    msgs = query(
        "SELECT id, time_created, data FROM message WHERE session_id = ?"
        " ORDER BY time_created DESC, id DESC LIMIT ?",
        [session_id, limit],
    )
    msgs.reverse()
    if not msgs:
        return []
    ids = [str(m[0]) for m in msgs]
    marks = ",".join("?" * len(ids))
    parts: dict[str, list[object]] = {i: [] for i in ids}
    for mid, raw in query(
        f"SELECT message_id, data FROM part WHERE message_id IN ({marks}) ORDER BY id", ids
    ):
        parts[str(mid)].append(raw)
    return [
        history_entry(str(mid), ms_to_s(created) or 0.0, raw, parts[str(mid)])
        for mid, created, raw in msgs
    ]
