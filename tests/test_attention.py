"""Pure: notifications once per settled change, unseen marks, and where prefix+N goes."""

from __future__ import annotations

import json

import pytest

from otop.core.model import Agent, Scan, State
from otop.decide.attention import FINISHED, WAITING, Attention, apply, next_for_you, read_view
from otop.outputs.render import agent_json
from tests.ui_world import AGENTS, NOW

A = AGENTS[0]  # an agent in pane %1


def at(state: State, agent: Agent = A) -> list[Agent]:
    return [agent._replace(state=state, unseen_since=None)]


def beats(
    att: Attention,
    states: list[State],
    looked: set[str] | None = None,
    start: float = NOW,
    step: float = 1.0,
) -> list[tuple[float, str]]:
    """Feed one state per beat; the events told, with their times."""
    out = []
    for i, s in enumerate(states):
        told = att.update(at(s), looked or set(), start + i * step)
        out += [(e.at - start, e.kind) for e in told]
    return out


W, D, T, P = State.GENERATING, State.IDLE, State.TOOL, State.PERMISSION


def test_a_blip_shorter_than_the_settle_time_tells_nothing() -> None:
    """Working, idle for a second between tool calls, working again: no event; a turn that
    really ends is told once, when idle has held for the settle time."""
    att = Attention(settle=2.0)
    events = beats(att, [W, W, D, T, T, D, W, W, D, D, D, D, D, D])
    assert events == [(10.0, FINISHED)]


def test_without_settling_every_blip_is_a_finish() -> None:
    """With settle 0 the same turn says `finished` three times (what settling prevents)."""
    att = Attention(settle=0.0)
    events = beats(att, [W, W, D, T, T, D, W, W, D, D, D, D, D, D])
    assert [k for _, k in events] == [FINISHED] * 3


def test_a_turn_shorter_than_the_settle_time_is_still_told() -> None:
    """Idle, one beat of work (a quick turn the watcher saw once), idle again: one `finished`
    once idle has held, not none because working never settled."""
    att = Attention(settle=2.0)
    assert beats(att, [D, D, W, D, D, D, D, D], step=1.5) == [(7.5, FINISHED)]


def test_waiting_is_told_once_however_long_it_waits() -> None:
    """A permission prompt held for a minute is one event; a question after it is another."""
    att = Attention(settle=2.0)
    events = beats(att, [T] + [P] * 60 + [State.QUESTION] * 5)
    assert [k for _, k in events] == [WAITING, WAITING]
    assert events[0][0] == 3.0  # seen at beat 1, held 2 s


def test_the_pane_looked_at_gets_no_event_and_no_mark() -> None:
    """A change in the pane a client shows is seen already: nothing told, nothing marked."""
    att = Attention(settle=0.0)
    assert beats(att, [W, D], looked={"%1"}) == []
    assert att.view()[A.key][0] is None


def test_unseen_mark_set_then_cleared_by_looking() -> None:
    """A finish nobody saw marks the agent; a client showing its pane clears it and records
    when it was seen."""
    att = Attention(settle=0.0)
    beats(att, [W, D])
    since, seen = att.view()[A.key]
    assert since == NOW + 1 and seen is None
    att.update(at(D), {"%1"}, NOW + 5)
    assert att.view()[A.key] == (None, NOW + 5)
    att.update(at(D), set(), NOW + 9)  # the client went elsewhere: seen up to then
    assert att.view()[A.key] == (None, NOW + 9)


def test_answered_elsewhere_clears_the_waiting_mark() -> None:
    """A prompt answered from the popup (working again, never looked at) leaves no mark."""
    att = Attention(settle=0.0)
    beats(att, [T, P])
    assert att.view()[A.key][0] is not None
    att.update(at(T), set(), NOW + 5)
    assert A.key not in att.view()


def test_a_restarted_watcher_replays_nothing_and_keeps_marks() -> None:
    """Marks survive a restart through their file; a change made while no watcher ran (or
    before it looked) is a baseline, never an event."""
    att = Attention(settle=0.0)
    beats(att, [W, D])
    data = json.loads(json.dumps(att.to_json()))
    again = Attention.from_json(data, settle=0.0)
    assert again.update(at(P), set(), NOW + 100) == []  # waiting already when it came back
    assert again.view()[A.key][0] == NOW + 1
    assert [e.kind for e in again.update(at(T), set(), NOW + 101)] == []
    assert [e.kind for e in again.update(at(D), set(), NOW + 102)] == [FINISHED]


@pytest.mark.parametrize(
    "data",
    [
        None,
        [],
        "x",
        {"pid:1": "x"},
        {"pid:1": {"unseen_since": "soon", "unseen_reason": WAITING}},
        {"pid:1": {"unseen_since": True, "unseen_reason": "evil"}},
        {3: {}},
    ],
)
def test_a_malformed_marks_file_marks_nothing(data: object) -> None:
    """Whatever a marks file holds, only well-formed marks count."""
    assert all(v == (None, None) for v in read_view(data).values())


def test_prefix_n_prefers_waiting_then_the_longest_unseen() -> None:
    """prefix+N goes to the longest waiting agent; with none waiting, to the oldest unseen."""
    assert next_for_you(AGENTS, NOW) == AGENTS[1]
    calm = [a for a in AGENTS if a.state != State.PERMISSION]
    older = AGENTS[5]._replace(unseen_since=NOW - 100)
    assert next_for_you([*calm, older], NOW) == older
    assert next_for_you([a._replace(unseen_since=None) for a in calm], NOW) is None


def test_marks_reach_the_json_document() -> None:
    """`unseen` and `seen_at` (ms) in the list --json shape, from the watcher's view."""
    scan = apply(Scan(NOW, AGENTS, None), {AGENTS[2].key: (NOW - 3, NOW - 60)})
    doc = agent_json(scan.agents[2], NOW)
    assert doc["unseen"] is True and doc["seen_at"] == int((NOW - 60) * 1000)
    plain = agent_json(AGENTS[3]._replace(unseen_since=None), NOW)
    assert plain["unseen"] is False and plain["seen_at"] is None
