"""opencode 2's JSON, as its service sends it (shapes recorded from the real 2.1.2), read into
the records every state is decided from: one case per state, hostile fields included."""

from __future__ import annotations

from typing import Any

import pytest

from otop.core.model import State
from otop.decide.status import Signals, infer
from otop.sources.opencode import current

SESSION: dict[str, Any] = {
    "id": "ses_dadc6cc49ffe31SkYJ60LoUK8u",
    "projectID": "8d92279d041f042e495c10793c586c5b7e870091",
    "agent": "build",
    "model": {"id": "fake-model", "providerID": "fake", "variant": "default"},
    "cost": 0.25,
    "tokens": {"input": 240, "output": 20, "reasoning": 0, "cache": {"read": 3, "write": 0}},
    "outcome": "succeeded",
    "time": {"created": 1796675810286, "updated": 1796675811354, "idle": 1796675811366},
    "title": "Alpha one",
    "location": {"directory": "/p/a"},
}
USER = {"id": "msg_u1", "time": {"created": 1796675810614}, "text": "hello", "type": "user"}


def assistant(*content: dict[str, Any], done: bool = True, **more: Any) -> dict[str, Any]:
    times: dict[str, int] = {"created": 1796675810715}
    if done:
        times["completed"] = 1796675811354
    return {"id": "msg_a1", "type": "assistant", "time": times, "content": list(content), **more}


def idle(outcome: str, **more: Any) -> dict[str, Any]:
    return {
        "id": "msg_i1",
        "time": {"created": 1796675811366},
        "type": "idle",
        "outcome": outcome,
        **more,
    }


def tool(name: str, status: str = "running") -> dict[str, Any]:
    return {
        "type": "tool",
        "id": "chatcmpl-7-0",
        "name": name,
        "executed": False,
        "state": {"status": status, "input": {}, "metadata": {}},
        "time": {"created": 1796675883398},
    }


TEXT = {"type": "text", "text": "part 1 of 3.\nAll done here."}
# (case, messages newest first, running, a permission pending, state, tool)
CASES = [
    (
        "idle after a turn",
        [idle("succeeded"), assistant(TEXT, finish="stop"), USER],
        False,
        False,
        State.IDLE,
        None,
    ),
    (
        "streaming",
        [assistant({"type": "text", "text": ""}, done=False), USER],
        True,
        False,
        State.GENERATING,
        None,
    ),
    ("just sent", [USER], True, False, State.GENERATING, None),
    (
        "thinking",
        [assistant({"type": "reasoning", "text": ""}, done=False), USER],
        True,
        False,
        State.THINKING,
        None,
    ),
    (
        "shell running",
        [assistant(TEXT, tool("shell"), done=False), USER],
        True,
        False,
        State.TOOL,
        "shell",
    ),
    (
        "permission",
        [assistant(tool("read"), done=False), USER],
        True,
        True,
        State.PERMISSION,
        "read",
    ),
    (
        "question",
        [assistant(tool("question"), done=False), USER],
        True,
        False,
        State.QUESTION,
        "question",
    ),
    (
        "subagent",
        [assistant(tool("subagent"), done=False), USER],
        True,
        False,
        State.SUBAGENT,
        "subagent",
    ),
    (
        "api error",
        [
            idle(
                "failed",
                error={"type": "provider.invalid-request", "message": "scripted failure 400"},
            ),
            assistant(finish="error", error={"type": "provider.invalid-request"}),
            USER,
        ],
        False,
        False,
        State.ERROR,
        None,
    ),
    (
        "interrupted",
        [idle("interrupted"), assistant(TEXT, finish="error", error={"type": "aborted"}), USER],
        False,
        False,
        State.INTERRUPTED,
        None,
    ),
    ("no messages yet", [], False, False, State.NEW, None),
    (
        "a tool done while idle",
        [idle("succeeded"), assistant(tool("shell", "completed")), USER],
        False,
        False,
        State.IDLE,
        None,
    ),
]


@pytest.mark.parametrize(
    ("messages", "running", "asked", "state", "tool_name"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_each_state_from_what_the_service_says(
    messages: list[dict[str, Any]], running: bool, asked: bool, state: State, tool_name: str | None
) -> None:
    """Each state of an opencode 2 session follows from its newest messages, whether the
    service runs it, and whether a permission of it is pending."""
    detail = current.detail(SESSION, messages, running)
    assert detail is not None
    verdict = infer(detail, Signals(screen_permission=asked if running else None), 1796675900.0)
    assert (verdict.state, verdict.tool) == (state, tool_name)


def test_a_session_reads_as_its_brief_and_detail() -> None:
    """Title, directory, times, model, tokens and cost come across; the last words are the
    newest assistant text's last line."""
    d = current.detail(SESSION, [idle("succeeded"), assistant(TEXT), USER], False)
    assert d is not None
    b = d.brief
    assert (b.id, b.title, b.directory, b.parent_id) == (SESSION["id"], "Alpha one", "/p/a", None)
    assert b.created_at == pytest.approx(1796675810.286)
    assert (d.model, d.agent, d.cost, d.tokens.input, d.tokens.cache_read) == (
        "fake/fake-model",
        "build",
        0.25,
        240,
        3,
    )
    assert d.last_output == "All done here." and d.messages == 2


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"parentID": "ses_dadc6cc49ffe31SkYJ60LoUK8v"}, id="a child"),
        pytest.param({"id": "ses_../../api/x"}, id="an id that is a path"),
        pytest.param({"id": None}, id="no id"),
    ],
)
def test_no_brief_for_what_is_no_root_session(change: dict[str, Any]) -> None:
    """A child session, or an id that is not one (it would go into a request's path), is no
    session a pane shows."""
    assert current.brief({**SESSION, **change}) is None


def test_hostile_fields_are_cleaned_and_typed() -> None:
    """Escapes in a title or tool name are stripped; numbers that are not numbers count 0."""
    hostile = {
        **SESSION,
        "title": "\x1b]2;pwned\x07Alpha\x1b[31m",
        "cost": "lots",
        "tokens": {"input": float("nan"), "cache": []},
        "time": "yesterday",
    }
    d = current.detail(hostile, [assistant({**tool("sh\x1b[2Jell")}, done=False)], True)
    assert d is not None
    assert "\x1b" not in d.brief.title and "Alpha" in d.brief.title
    assert (d.cost, d.tokens.input, d.brief.created_at) == (0.0, 0, 0.0)
    assert [t.tool for t in d.turn.running_tools] == [
        "shell"
    ] or "\x1b" not in d.turn.running_tools[0].tool


@pytest.mark.parametrize(
    ("requests", "expected"),
    [
        ([{"id": "per_2523a519d001vpSdLGdpqUO829"}], "per_2523a519d001vpSdLGdpqUO829"),
        ([{"id": "per_../x"}, {"id": "per_ok1"}], "per_ok1"),
        ([{"id": "frm_1"}], None),
        ([], None),
    ],
)
def test_a_pending_request_is_named_only_when_well_formed(
    requests: list[dict[str, Any]], expected: str | None
) -> None:
    """The id of a pending permission, as it would be sent back to the service."""
    assert current.pending(requests, "per_") == expected


def test_the_history_oldest_first_with_what_the_model_ran() -> None:
    """The detail view's messages: the user's prompt, the model's words, reasoning and tools
    (named, with what they were given), tokens, a failed turn's error, and opencode's own
    notice of a restarted service; hostile text kept as text (the view cleans it)."""
    shell = {
        **tool("shell", "completed"),
        "state": {"status": "completed", "input": {"command": "ls -l"}},
    }
    restart = {"id": "msg_s1", "type": "synthetic", "text": "The server restarted.", "time": {}}
    failed = {"type": "provider", "message": "scripted failure 400"}
    newest_first = [
        idle("failed"),
        assistant(error=failed, model={"id": "m", "providerID": "p"}),
        restart,
        idle("succeeded"),
        assistant({"type": "reasoning", "text": "hmm"}, shell, TEXT, tokens={"output": 16}),
        {**USER, "text": "[red]hello[/red]"},
    ]
    got = current.history(newest_first)
    assert [e.role for e in got] == ["user", "assistant", "opencode", "assistant"]
    assert got[0].parts[0].text == "[red]hello[/red]"
    parts = [(p.kind, p.text, p.tool, p.status) for p in got[1].parts]
    assert parts == [
        ("reasoning", "hmm", "", ""),
        ("tool", "ls -l", "shell", "completed"),
        ("text", TEXT["text"], "", ""),
    ]
    assert got[1].tokens_output == 16 and got[1].created_at == 1796675810.715
    assert got[3].error == "provider: scripted failure 400" and got[3].model == "p/m"
    assert (
        current.history([{"type": "assistant", "content": "nonsense", "tokens": []}])[0].parts == ()
    )
