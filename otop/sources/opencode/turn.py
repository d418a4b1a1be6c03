"""opencode's message and part JSON read as a Turn, whether the rows come from the SQLite
store or from a server's `/session/{id}/message`: one reading of a turn (pure; the decide
layer then turns a Turn into a state)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from otop.core.model import MessageRow, PartRow, Tokens, ToolRun, Turn
from otop.core.text import clean


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


def role(m: MessageRow) -> str:
    return str(m.data.get("role", "?")) if m.data is not None else "?"


def newest_assistant(recent: Sequence[MessageRow]) -> MessageRow | None:
    """The message whose parts tell what the turn does: the newest assistant message, unless a
    user message came after it (a new round whose answer is not written yet)."""
    for m in recent:  # newest first
        r = role(m)
        if r == "user":
            return None
        if r == "assistant":
            return m
    return None


def has_user(recent: Sequence[MessageRow]) -> bool:
    """Whether the round's user message is among these (else the reader walks back to it)."""
    return any(role(m) == "user" for m in recent)


def build(
    recent: Sequence[MessageRow], parts: Sequence[PartRow], earlier_user: float | None = None
) -> tuple[Turn, str, str]:
    """The turn of a session from its newest messages (newest first) and the parts of its
    `newest_assistant`; with the model and agent of that message. `earlier_user` is when the
    round began if no user message is among `recent`."""
    if not recent:
        return Turn(), "", ""
    malformed = any(m.data is None for m in recent)
    newest_role = role(recent[0])
    users = [m.created for m in recent if role(m) == "user"]
    base = Turn(
        last_message_id=recent[0].id,
        last_role=newest_role,
        completed=newest_role != "user",
        last_activity_at=max(m.updated for m in recent),
        round_started_at=users[0] if users else earlier_user,
        malformed=malformed,
    )
    older = next((m for m in recent if role(m) == "assistant" and m.data is not None), None)
    if older is None:
        return base, "", ""
    assert older.data is not None
    if newest_role == "user":
        # A new round has begun and its assistant message is not written yet: the older
        # assistant's finish or error belongs to the previous round.
        return base, model_label(older.data), str(older.data.get("agent") or "")
    return _assistant_turn(base, older, parts)


def _assistant_turn(base: Turn, msg: MessageRow, parts: Sequence[PartRow]) -> tuple[Turn, str, str]:
    data = msg.data
    assert data is not None
    times = data.get("time")
    done = isinstance(times, dict) and times.get("completed") is not None
    err_name, err_msg = assistant_error(data)
    tools: list[ToolRun] = []
    reasoning_open = text_open = rejected = False
    malformed = base.malformed
    last_activity = base.last_activity_at or 0.0
    for p in parts:
        last_activity = max(last_activity, p.updated)
        if p.data is None:
            malformed = True
            continue
        kind = p.data.get("type")
        if kind == "tool":
            run = running_tool(p.id, p.data)
            if run is not None:
                tools.append(run)
            rejected = rejected or tool_rejected(p.data)
        elif kind == "reasoning":
            reasoning_open = reasoning_open or span_open(p.data)
        elif kind == "text":
            text_open = text_open or span_open(p.data)
    finish = data.get("finish")
    # finish=tool-calls means the loop goes on with another assistant message, except after a
    # rejected permission (measured, opencode 1.18.33): there the loop stops.
    completed = done and (finish != "tool-calls" or rejected)
    turn = Turn(
        last_message_id=base.last_message_id,
        last_role=base.last_role,
        assistant_id=msg.id,
        assistant_created=msg.created,
        completed=completed,
        finish=str(finish) if finish else None,
        error_name=err_name,
        error_message=err_msg,
        running_tools=tuple(tools) if not completed else (),
        reasoning_open=reasoning_open and not completed,
        text_open=text_open and not completed,
        last_activity_at=last_activity,
        round_started_at=base.round_started_at,
        malformed=malformed,
        rejected=rejected,
    )
    agent = str(data.get("agent") or data.get("mode") or "")
    return turn, model_label(data), agent


def totals(messages: Iterable[dict[str, object] | None]) -> tuple[Tokens, float]:
    """Tokens and cost added up over assistant messages' JSON (for schemas whose session rows
    lack them, as 1.14's)."""
    sums = [0, 0, 0, 0, 0]
    cost = 0.0
    for data in messages:
        if data is None or data.get("role") != "assistant":
            continue
        tok = data.get("tokens")
        if isinstance(tok, dict):
            cache = tok.get("cache") if isinstance(tok.get("cache"), dict) else {}
            assert isinstance(cache, dict)
            counts = (
                tok.get("input"),
                tok.get("output"),
                tok.get("reasoning"),
                cache.get("read"),
                cache.get("write"),
            )
            for i, v in enumerate(counts):
                sums[i] += int(v) if isinstance(v, (int, float)) else 0
        c = data.get("cost")
        cost += float(c) if isinstance(c, (int, float)) else 0.0
    return Tokens(*sums), cost
