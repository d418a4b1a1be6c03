"""Acting on opencode 2 agents through their service (a stand-in on 127.0.0.1 with the real
2.1.2's shapes and answers; the real binary is tests/e2e/test_current_real.py's): what is sent,
that it is checked as taken, and what is refused before anything is sent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from otop.actions import act
from otop.actions import service as acting
from otop.actions.answer import AnswerError
from otop.core.model import Agent, Confidence, Evidence, Home, State
from otop.sources.tmux import Target, Tmux
from tests.fake_service import FakeService
from tests.ui_world import agent, detail

SID = "ses_alpha0000001aaaaaaaaaaaa"
PER = "per_2523a519d001vpSdLGdpqUO829"
FRM = "frm_2531b95fc001GYHizTg4UplJhq"
COLOUR = {
    "key": "q0",
    "title": "Colour",
    "description": "Which colour?",
    "type": "string",
    "options": [
        {"value": "Red", "label": "Red", "description": "warm"},
        {"value": "Blue", "label": "Blue", "description": "cool"},
    ],
    "custom": True,
}
# Acting through a service never touches tmux: a server nobody runs proves it.
NO_TMUX = Tmux(Target(socket_name="otop-test-no-such-server"))
FORM = {"id": FRM, "sessionID": SID, "title": "Questions", "fields": [COLOUR]}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[FakeService]:
    """A service with a permission and a form pending in SID, each gone once answered."""
    s = FakeService()
    s.describe(tmp_path)
    base = f"/api/session/{SID}"
    s.routes = {f"{base}/permission": {"data": [{"id": PER}]}, f"{base}/form": {"data": [FORM]}}

    def settled(kind: str) -> Any:
        def act(body: Any) -> tuple[int, Any]:
            s.routes[f"{base}/{kind}"] = {"data": []}
            return 204, None

        return act

    s.on_post = {
        f"{base}/permission/{PER}/reply": settled("permission"),
        f"{base}/form/{FRM}/reply": settled("form"),
        f"{base}/prompt": lambda body: (200, {"data": {"id": "msg_2531bbadf001dL1zXoisbR60sj"}}),
    }
    yield s
    s.stop()


def of_service(tmp_path: Path, state: State, request: str | None, **kw: Any) -> Agent:
    """This test's own process as a 2.x TUI whose state its service (in tmp_path) gave."""
    me = psutil.Process()
    base = agent(1, state, detail(1, "Alpha one", brief=detail(1, "x").brief._replace(id=SID)))
    assert base.proc is not None
    home = Home("", "", "", "open", str(tmp_path / "opencode"))
    proc = base.proc._replace(pid=os.getpid(), started_at=me.create_time(), home=home)
    said = Evidence("service", Confidence.CERTAIN, "GET /api/session/active lists it")
    return base._replace(proc=proc, evidence_state=said, request_id=request)._replace(**kw)


def test_a_permission_decided_and_seen_gone(tmp_path: Path, service: FakeService) -> None:
    a = of_service(tmp_path, State.PERMISSION, PER)
    assert act.answer(NO_TMUX, a, 1) == "answered 'Allow always' through its opencode service"
    reply = f"/api/session/{SID}/permission/{PER}/reply"
    assert service.posted == [(reply, {"decision": "always"})]


def test_a_permission_still_listed_is_said(tmp_path: Path, service: FakeService) -> None:
    service.on_post = {}  # taken (204), but never leaves the list
    a = of_service(tmp_path, State.PERMISSION, PER)
    with pytest.raises(AnswerError, match="still lists per_"):
        acting.answer(a, 0)


def test_nothing_sent_for_a_request_no_longer_pending(tmp_path: Path, service: FakeService) -> None:
    service.routes[f"/api/session/{SID}/permission"] = {"data": []}
    with pytest.raises(AnswerError, match="no permission is pending"):
        acting.answer(of_service(tmp_path, State.PERMISSION, PER), 2)
    assert service.posted == []


def test_a_permission_newer_than_the_view_is_answered(tmp_path: Path, service: FakeService) -> None:
    """A view that still shows the tool running (the popup's first rows are the watcher's last
    scan): the service's pending list, read now, names the permission to answer."""
    acting.answer(of_service(tmp_path, State.TOOL, None), 0)
    assert service.posted == [(f"/api/session/{SID}/permission/{PER}/reply", {"decision": "once"})]
    with pytest.raises(AnswerError, match="no permission is pending"):
        acting.answer(of_service(tmp_path, State.TOOL, None), 0)
    with pytest.raises(AnswerError, match="is generating"):
        acting.answer(of_service(tmp_path, State.GENERATING, None), 0)


def test_a_question_answered_by_its_number_or_words(tmp_path: Path, service: FakeService) -> None:
    a = of_service(tmp_path, State.QUESTION, FRM)
    assert acting.reply(a, "2") == "answered 'Blue' through its opencode service"
    assert service.posted[-1][1] == {"answer": {"q0": "Blue"}}
    service.routes[f"/api/session/{SID}/form"] = {"data": [FORM]}
    acting.reply(a, "teal, please")
    assert service.posted[-1][1] == {"answer": {"q0": "teal, please"}}
    with pytest.raises(AnswerError, match="a number picks"):
        acting.answer(a, 0)  # 1 2 3 are a permission's choices


def test_the_next_prompt_queued_behind_a_running_turn(tmp_path: Path, service: FakeService) -> None:
    idle = of_service(tmp_path, State.IDLE, None)
    assert act.reply(NO_TMUX, idle, "go on") == (
        "sent through its opencode service as msg_2531bbadf001dL1zXoisbR60sj"
    )
    assert service.posted[-1] == (f"/api/session/{SID}/prompt", {"text": "go on"})
    busy = of_service(tmp_path, State.GENERATING, None)
    assert acting.reply(busy, "and then this").endswith("(queued behind the running turn)")
    assert service.posted[-1][1] == {"text": "and then this", "delivery": "queue"}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"evidence_session": Evidence("db activity", Confidence.GUESS, "")}, "is a guess"),
        ({"session": None}, "shows no session"),
    ],
)
def test_refused_before_anything_is_sent(
    tmp_path: Path, service: FakeService, change: dict[str, Any], why: str
) -> None:
    """A session that is only a guess could be another pane's: nothing goes to it."""
    with pytest.raises(AnswerError, match=why):
        acting.answer(of_service(tmp_path, State.PERMISSION, PER, **change), 0)
    with pytest.raises(act.ActionError, match="control characters"):
        act.reply(NO_TMUX, of_service(tmp_path, State.IDLE, None), "a\x1b[31m")
    assert service.posted == []


def test_an_exited_tui_and_a_stopped_service(tmp_path: Path, service: FakeService) -> None:
    a = of_service(tmp_path, State.PERMISSION, PER)
    assert a.proc is not None
    gone = a._replace(proc=a.proc._replace(started_at=a.proc.started_at - 100))  # pid reused
    with pytest.raises(AnswerError, match="has exited"):
        acting.answer(gone, 0)
    (tmp_path / "opencode" / "service.json").unlink()
    with pytest.raises(AnswerError, match="no opencode service is running"):
        acting.answer(a, 0)
    assert service.posted == []


@pytest.mark.parametrize(
    ("fields", "text", "why"),
    [
        ([COLOUR, {**COLOUR, "key": "q1"}], "1", "several questions"),
        ([{**COLOUR, "type": "boolean"}], "1", "type 'boolean'"),
        ([{**COLOUR, "custom": False}], "teal", "a number from 1 to 2"),
    ],
)
def test_forms_otop_does_not_answer(fields: list[dict[str, Any]], text: str, why: str) -> None:
    with pytest.raises(AnswerError, match=why):
        acting.form_answer({**FORM, "fields": fields}, text)
