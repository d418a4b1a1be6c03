"""One row model, every view: the JSON, the plain table, the app's cells, the popup's first
frame and the desktop bars show the same state label, short id and title of each agent."""

from __future__ import annotations

import json
import re

from rich.text import Text

from otop.core.model import Agent, ProcKind, Scan, State, Subagent
from otop.outputs import bar, preframe
from otop.outputs.render import document, table
from otop.outputs.row import RowView, child_view, row_view, short_id, state_label
from otop.ui.rows import Row, cells, layout
from otop.watcher.restore import scan_from
from tests.ui_world import CHILD, NOW, agent, detail

# The tools the decide layer gives these states (a subagent's task, a question's own tool).
TOOLS = {
    State.TOOL: "bash",
    State.PERMISSION: "edit",
    State.SUBAGENT: "task",
    State.QUESTION: "question",
}


def world() -> list[Agent]:
    """An agent in every state (with the tool the decide layer gives it), a guessed and an
    unseen one, agents without a session, one of a server, and subagents at work."""
    out = []
    for n, state in enumerate(State, start=1):
        session = None if state in (State.NEW, State.UNKNOWN) else detail(n, f"{state.value} one")
        out.append(agent(n, state, session)._replace(tool=TOOLS.get(state)))
    out[0] = out[0]._replace(subagents=(Subagent(CHILD, State.TOOL, "grep"),))
    out[1] = out[1]._replace(
        subagents=(Subagent(CHILD._replace(messages=2), State.QUESTION, None),)
    )
    out += [
        agent(20, State.IDLE, detail(20, "Maybe this one"), guessed=True),
        agent(21, State.IDLE, detail(21, "Done while away"), unseen=NOW - 40),
        agent(22, State.IDLE, None, kind=ProcKind.SERVE),
        agent(23, State.GENERATING, detail(23, "Far away"))._replace(server="box", pane=None),
    ]
    return out


def top(cell: Text) -> str:
    """A cell's first line, as the app shows it."""
    return cell.plain.split("\n")[0]


def test_every_view_shows_the_same_label_id_and_title() -> None:
    """Each agent's label, short id and title read the same in the JSON (read back as `otop
    bar --from` and the popup do), the table, the app's cells, the first frame and the bars;
    a subagent's the same in the JSON's children and the app's rows."""
    agents = world()
    views = [row_view(a, NOW) for a in agents]
    labels = {v.label for v in views}
    assert {"tool:bash", "permission:edit", "subagent", "question", "new", "unknown"} <= labels
    assert {"(unknown session)", "opencode serve", "● Done while away", "Maybe this one ?"} <= {
        v.title for v in views
    }
    doc = json.loads(json.dumps(document(Scan(NOW, (), None), agents)))
    back = scan_from(doc, None)
    assert back is not None
    assert [row_view(a, NOW) for a in back.agents] == views
    lines = table(agents, NOW, width=400).splitlines()[1:]
    widths = layout(240)
    frame = re.sub(r"\x1b\[[0-9;]*[mHJ]", "", preframe.draw(views, NOW, 240, 999))
    framed = frame.split("\r\n")[2::2]
    plain = bar.plain(views, [])
    for a, v, line, framed_line in zip(agents, views, lines, framed, strict=True):
        said = (v.label, v.short_id, v.title)
        assert line.startswith(f"{v.label}  ") and all(f"  {s}  " in line + "  " for s in said[1:])
        assert [top(c) for c in cells(Row(a), NOW, widths)][:3] == [v.title, v.label, v.short_id]
        assert framed_line.startswith(f" {v.title}") and f"  {v.label}  " in framed_line
        assert f"  {v.short_id}  " in framed_line
        assert f"  {v.label}  {v.title}" in plain
    children = [(a, c, j) for a, j in zip(agents, doc["agents"], strict=True) for c in a.subagents]
    assert children
    for a, c, j in children:
        v = child_view(a, c)
        (said,) = [x for x in j["children"] if x["session_id"] == c.session.brief.id]
        assert v.label == state_label(State(said["state"]), said["tool"])
        assert v.short_id == short_id(said["session_id"])
        assert [top(x) for x in cells(Row(a, c), NOW, widths)][:3] == [v.title, v.label, v.short_id]
    assert {child_view(a, c).label for a, c, _ in children} == {"tool:grep", "question"}


def test_a_row_is_plain_strings() -> None:
    """A row holds only strings, its group and its unseen flag: nothing left to decide."""
    for v in (row_view(a, NOW) for a in world()):
        assert isinstance(v, RowView)
        assert all(
            isinstance(x, str) for k, x in v._asdict().items() if k not in ("group", "unseen")
        )
