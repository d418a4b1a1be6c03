"""Pure readers of opencode's JSON `data` columns; a malformed row degrades, never raises."""

from __future__ import annotations

import json
from dataclasses import dataclass

from otop.model import ToolRun
from otop.text import clean


def load_json(raw: object) -> dict[str, object] | None:
    """A `data` column as a dict, or None when it is not a JSON object."""
    if not isinstance(raw, (str, bytes)):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def ms_to_s(value: object) -> float | None:
    """opencode's epoch milliseconds as otop's epoch seconds (None when absent)."""
    return float(value) / 1000.0 if isinstance(value, (int, float)) and value > 0 else None


def model_label(data: dict[str, object] | None) -> str:
    """`provider/model` from a session's model JSON, or an assistant or user message."""
    if not data:
        return ""
    model = data.get("model")
    if isinstance(model, dict):
        mid = model.get("id") or model.get("modelID")
        provider = model.get("providerID")
    else:
        mid = data.get("modelID") or data.get("id")
        provider = data.get("providerID")
    if not mid:
        return ""
    return clean(f"{provider}/{mid}" if provider else str(mid))


def assistant_error(data: dict[str, object]) -> tuple[str | None, str | None]:
    """The error name and message of an assistant message, if it failed."""
    err = data.get("error")
    if not isinstance(err, dict):
        return None, None
    name = str(err.get("name") or "Error")
    message = None
    inner = err.get("data")
    if isinstance(inner, dict) and inner.get("message"):
        message = clean(str(inner.get("message")))[:300]
    elif err.get("message"):
        message = clean(str(err.get("message")))[:300]
    return name, message


def span_open(data: dict[str, object]) -> bool:
    """A text or reasoning part that has started and not ended."""
    t = data.get("time")
    return isinstance(t, dict) and t.get("start") is not None and t.get("end") is None


def running_tool(part_id: str, data: dict[str, object]) -> ToolRun | None:
    """A tool part that is pending or running, else None."""
    state = data.get("state")
    if not isinstance(state, dict):
        return None
    status = state.get("status")
    if status not in ("pending", "running"):
        return None
    times = state.get("time")
    started = ms_to_s(times.get("start")) if isinstance(times, dict) else None
    meta = state.get("metadata")
    child = None
    if isinstance(meta, dict):
        sid = meta.get("sessionId") or meta.get("sessionID")
        child = str(sid) if sid else None
    return ToolRun(
        part_id=part_id,
        tool=clean(str(data.get("tool") or "?")),
        status=str(status),
        started_at=started,
        child_session_id=child,
        title=clean(str(state.get("title") or ""))[:120],
    )


def tool_rejected(data: dict[str, object]) -> bool:
    """A tool part that failed because the user rejected its permission prompt."""
    state = data.get("state")
    if not isinstance(state, dict) or state.get("status") != "error":
        return False
    return "rejected permission" in str(state.get("error") or "").lower()


def last_line(text: str) -> str:
    """The last non-empty line of a text, cleaned of control characters."""
    for line in reversed(text.splitlines()):
        line = clean(line).strip()
        if line:
            return line[:500]
    return ""


@dataclass(frozen=True)
class HistoryPart:
    """One part of a message, reduced to what the detail view shows."""

    kind: str
    text: str
    tool: str = ""
    status: str = ""


@dataclass(frozen=True)
class HistoryEntry:
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
