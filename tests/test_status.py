"""Every state, from real SQLite rows in opencode's schema through the store to `infer`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from devtools.store import OpencodeDB, now_ms
from otop.core.model import State
from otop.decide.status import STUCK_AFTER, Signals, infer
from otop.sources.opencode.store import Store

ABORT: dict[str, Any] = {
    "name": "MessageAbortedError",
    "data": {"message": "The operation was aborted."},
}
API: dict[str, Any] = {
    "name": "APIError",
    "data": {"message": "Bad Request: model overloaded", "statusCode": 400},
}


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[OpencodeDB, str], None]
    signals: Signals
    state: State
    tool: str | None = None


def _turn(db: OpencodeDB, sid: str) -> str:
    db.user(sid, "do it")
    return db.assistant(sid)


def _new(db: OpencodeDB, sid: str) -> None:
    pass


def _user_only(db: OpencodeDB, sid: str) -> None:
    db.user(sid, "hello")


def _streaming(db: OpencodeDB, sid: str) -> None:
    mid = _turn(db, sid)
    db.part(mid, sid, {"type": "step-start"})
    db.part(mid, sid, {"type": "text", "text": "", "time": {"start": now_ms()}})


def _reasoning(db: OpencodeDB, sid: str) -> None:
    mid = _turn(db, sid)
    db.part(mid, sid, {"type": "reasoning", "text": "", "time": {"start": now_ms()}})


def _tool(name: str) -> Callable[[OpencodeDB, str], None]:
    def build(db: OpencodeDB, sid: str) -> None:
        mid = _turn(db, sid)
        db.tool_part(mid, sid, name, "running", {"command": "sleep 5"})

    return build


def _tool_calls_between_steps(db: OpencodeDB, sid: str) -> None:
    db.user(sid, "do it")
    mid = db.assistant(sid, completed=now_ms(), finish="tool-calls")
    db.tool_part(mid, sid, "bash", "completed")


def _rejected(db: OpencodeDB, sid: str) -> None:
    """What opencode 1.18.33 leaves after a rejected permission: the step ends with
    finish=tool-calls, the tool part errors, and no assistant message follows."""
    db.user(sid, "read /etc/hostname")
    mid = db.assistant(sid, completed=now_ms(), finish="tool-calls")
    part = db.tool_part(mid, sid, "read", "running", {"filePath": "/etc/hostname"})
    err = "The user rejected permission to use this specific tool call."
    db.update_part(
        part,
        {
            "type": "tool",
            "tool": "read",
            "callID": "c",
            "state": {"status": "error", "input": {}, "error": err, "time": {"start": 1, "end": 2}},
        },
    )


def _done(db: OpencodeDB, sid: str) -> None:
    db.finished_turn(sid, "hi", "hello there\nsecond line")


def _errored(err: dict[str, Any]) -> Callable[[OpencodeDB, str], None]:
    def build(db: OpencodeDB, sid: str) -> None:
        db.user(sid, "go")
        mid = db.assistant(sid, completed=now_ms(), error=err)
        db.part(mid, sid, {"type": "step-start"})

    return build


def _old_error_then_new_round(db: OpencodeDB, sid: str) -> None:
    _errored(API)(db, sid)
    time.sleep(0.002)
    db.user(sid, "try again")


def _silent_unfinished(db: OpencodeDB, sid: str) -> None:
    old = now_ms() - int((STUCK_AFTER + 60) * 1000)
    db.user(sid, "go", at=old)
    db.assistant(sid, at=old + 5)


def _subagent_permission(db: OpencodeDB, sid: str) -> None:
    mid = _turn(db, sid)
    child = db.session("/p", "helper (@general subagent)", parent=sid)
    db.tool_part(mid, sid, "task", "running", metadata={"sessionId": child})
    cm = _turn(db, child)
    db.tool_part(cm, child, "read", "running", {"filePath": "/etc/hostname"})


def _subagent_question(db: OpencodeDB, sid: str) -> None:
    mid = _turn(db, sid)
    child = db.session("/p", "helper (@general subagent)", parent=sid)
    db.tool_part(mid, sid, "task", "running", metadata={"sessionId": child})
    cm = _turn(db, child)
    db.tool_part(cm, child, "question", "running")


LIVE = Signals(alive=True, cpu_percent=3.0)
SCREEN_PERMISSION = Signals(alive=True, screen_permission=True)
CASES = [
    Case("no messages yet", _new, LIVE, State.NEW),
    Case("user message, no answer yet", _user_only, LIVE, State.GENERATING),
    Case("text streaming", _streaming, LIVE, State.GENERATING),
    Case("reasoning open", _reasoning, LIVE, State.THINKING),
    Case("bash running", _tool("bash"), LIVE, State.TOOL, "bash"),
    Case("task running", _tool("task"), LIVE, State.SUBAGENT, "task"),
    Case("question asked", _tool("question"), LIVE, State.QUESTION, "question"),
    Case("between tool steps", _tool_calls_between_steps, LIVE, State.GENERATING),
    Case("permission rejected: the loop stopped", _rejected, LIVE, State.INTERRUPTED),
    Case("permission on screen", _tool("read"), SCREEN_PERMISSION, State.PERMISSION, "read"),
    Case(
        "permission in the log, screen not seen",
        _tool("bash"),
        Signals(alive=True, log_ask="per_abc"),
        State.PERMISSION,
        "bash",
    ),
    Case(
        "log ask but the screen shows no dialog",
        _tool("bash"),
        Signals(alive=True, log_ask="per_abc", screen_permission=False),
        State.TOOL,
        "bash",
    ),
    Case("finished", _done, LIVE, State.IDLE),
    Case("interrupted", _errored(ABORT), LIVE, State.INTERRUPTED),
    Case("api error", _errored(API), LIVE, State.ERROR),
    Case("error of an older round", _old_error_then_new_round, LIVE, State.GENERATING),
    Case("unfinished, process gone", _streaming, Signals(alive=False), State.STALE),
    Case("tool running, process gone", _tool("bash"), Signals(alive=False), State.STALE),
    Case("finished, process gone", _done, Signals(alive=False), State.IDLE),
    Case("silent, no CPU", _silent_unfinished, Signals(alive=True, cpu_percent=0.0), State.STALE),
    Case(
        "silent but a tool command runs",
        _silent_unfinished,
        Signals(alive=True, cpu_percent=0.0, children=1),
        State.GENERATING,
    ),
    Case(
        "silent but busy CPU",
        _silent_unfinished,
        Signals(alive=True, cpu_percent=30.0),
        State.GENERATING,
    ),
    Case(
        "subagent asks permission",
        _subagent_permission,
        SCREEN_PERMISSION,
        State.PERMISSION,
        "read",
    ),
    Case("subagent asks a question", _subagent_question, LIVE, State.QUESTION, "question"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_state(case: Case, db: OpencodeDB, store: Store) -> None:
    """Each arrangement of rows and signals yields its documented state and tool."""
    sid = db.session("/p", "A task")
    case.build(db, sid)
    detail = store.detail(sid)
    assert detail is not None
    verdict = infer(detail, case.signals, time.time())
    assert verdict.state == case.state, verdict.evidence.detail
    assert verdict.tool == case.tool
    assert verdict.evidence.detail


def test_no_session_is_new() -> None:
    """A TUI with no session (home screen) is `new`."""
    assert infer(None, LIVE, time.time()).state == State.NEW


def test_error_keeps_message(db: OpencodeDB, store: Store) -> None:
    """An API error's message reaches the evidence, and the agent waits since the error."""
    sid = db.session("/p", "t")
    _errored(API)(db, sid)
    detail = store.detail(sid)
    assert detail is not None
    v = infer(detail, LIVE, time.time())
    assert "model overloaded" in v.evidence.detail
    assert v.waiting_since is not None


def test_question_waits_since_tool_start(db: OpencodeDB, store: Store) -> None:
    """A question's waiting time starts when its tool started."""
    sid = db.session("/p", "t")
    _tool("question")(db, sid)
    detail = store.detail(sid)
    assert detail is not None
    v = infer(detail, LIVE, time.time())
    assert v.waiting_since is not None and abs(v.waiting_since - time.time()) < 5
