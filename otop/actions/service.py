"""Acting on an opencode 2 agent through its user's service, whose API runs its sessions: a
permission's decision, a question's answer, the next prompt. Each goes to the session its pane
was joined to only when that join is certain or likely, and is checked as taken: a decided
request leaves the service's pending list."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from otop.actions.answer import ANSWERABLE, AnswerError, alive
from otop.core.model import Agent, Confidence, Group, State
from otop.sources.opencode.current import SOURCE
from otop.sources.opencode.dialog import CHOICES, REPLIES

if TYPE_CHECKING:  # the HTTP client loads only when an opencode 2 agent is acted on
    from otop.sources.opencode.service import Service

SURE = (Confidence.CERTAIN, Confidence.LIKELY)
T = TypeVar("T")


def of_service(agent: Agent) -> bool:
    """Whether the agent's state was read from its user's opencode 2 service."""
    return agent.evidence_state.source == SOURCE


def served_by(agent: Agent) -> str | None:
    """The state directory of the service the agent's session is read from, if any."""
    home = agent.proc.home if agent.proc is not None else None
    return home.state_dir or None if of_service(agent) and home is not None else None


def answer(agent: Agent, choice: int) -> str:
    """Decide the agent's pending permission: 1 once, 2 always, 3 reject."""
    if agent.state == State.QUESTION:
        raise AnswerError("a question is answered with i (reply): a number picks its choice")
    if agent.state not in ANSWERABLE:
        raise AnswerError(f"this agent is {agent.state.value}, not waiting on a permission")
    service, sid = _reach(agent)
    asked = [str(r.get("id")) for r in _pending(service, sid, "permission")]
    rid = agent.request_id if agent.request_id in asked else next(iter(asked), None)
    if rid is None or not rid.startswith("per_"):
        raise AnswerError("no permission is pending in its session now")
    _settle(service, sid, "permission", rid, lambda: service.decide(sid, rid, REPLIES[choice]))
    return f"answered {CHOICES[choice]!r} through its opencode service"


def reply(agent: Agent, text: str) -> str:
    """A question's answer (a number picks its choice), else the session's next prompt."""
    if agent.state == State.PERMISSION:
        raise AnswerError("a permission is open: 1, 2 or 3 answer it")
    service, sid = _reach(agent)
    rid = agent.request_id
    if agent.state == State.QUESTION and rid and rid.startswith("frm_"):
        form = next((f for f in _pending(service, sid, "form") if f.get("id") == rid), None)
        if form is None:
            raise AnswerError("the question is no longer pending: nothing sent")
        key, value = form_answer(form, text)
        _settle(service, sid, "form", rid, lambda: service.answer(sid, rid, {key: value}))
        return f"answered {value!r} through its opencode service"
    queued = agent.group == Group.WORKING
    mid = _call(lambda: service.prompt(sid, text, queued))
    behind = " (queued behind the running turn)" if queued else ""
    return f"sent through its opencode service as {mid}{behind}"


def form_answer(form: Mapping[str, Any], text: str) -> tuple[str, object]:
    """The answer to a form of one question: a number picks an option, other text is the
    answer where the question takes one typed."""
    fields = [f for f in form.get("fields") or () if isinstance(f, Mapping)]
    if len(fields) != 1:
        raise AnswerError("a form of several questions: answer it in the pane")
    field = fields[0]
    key, kind = field.get("key"), field.get("type")
    if not isinstance(key, str) or kind != "string":
        raise AnswerError(f"a question of type {kind!r}: answer it in the pane")
    options = [o.get("value") for o in field.get("options") or () if isinstance(o, Mapping)]
    if text.isdigit() and 1 <= int(text) <= len(options):
        value = options[int(text) - 1]
        if isinstance(value, str):
            return key, value
    if options and not field.get("custom"):
        raise AnswerError(f"this question takes no typed answer: a number from 1 to {len(options)}")
    return key, text


def _reach(agent: Agent) -> tuple[Service, str]:
    """The agent's service and session, when the session is surely the pane's own and the
    TUI still runs."""
    from otop.sources.opencode.service import Service, ServiceError, locate

    sid = agent.session_id
    if agent.proc is None or agent.proc.home is None or sid is None:
        raise AnswerError("this TUI shows no session its service names yet: type in its pane")
    if agent.evidence_session.confidence not in SURE:
        raise AnswerError("which session this pane shows is a guess: act in the pane itself")
    if not alive(agent.proc.pid, agent.proc.started_at):
        raise AnswerError(f"opencode (pid {agent.proc.pid}) has exited")
    try:
        return Service(locate(agent.proc.home.state_dir)), sid
    except ServiceError as exc:
        raise AnswerError(str(exc)) from None


def _pending(service: Service, sid: str, kind: str) -> list[Mapping[str, Any]]:
    return _call(lambda: service.pending(sid, kind))


def _settle(
    service: Service, sid: str, kind: str, rid: str, send: Callable[[], None], wait: float = 2.0
) -> None:
    """Send a request's answer, then wait for it to leave the pending list."""
    if not any(r.get("id") == rid for r in _pending(service, sid, kind)):
        raise AnswerError(f"{rid} is no longer pending (answered elsewhere?): nothing sent")
    _call(send)
    end = time.monotonic() + wait
    while any(r.get("id") == rid for r in _pending(service, sid, kind)):
        if time.monotonic() > end:
            raise AnswerError(f"sent, but the service still lists {rid} after {wait:g} s")
        time.sleep(0.1)


def _call(do: Callable[[], T]) -> T:
    from otop.sources.opencode.service import ServiceError

    try:
        return do()
    except ServiceError as exc:
        raise AnswerError(str(exc)) from None
