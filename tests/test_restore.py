"""The watcher's published document read back as a Scan: the popup's first frame from it
shows the same rows as a scan would."""

from __future__ import annotations

import json
import re

from otop.core.model import Scan
from otop.core.text import cell_width
from otop.outputs.preframe import draw
from otop.outputs.render import document
from otop.outputs.row import row_view
from otop.ui.rows import Row, cells, layout
from otop.watcher.restore import scan_from
from tests.ui_world import AGENTS, NOW


def plain(scan: Scan) -> list[list[str]]:
    widths = layout(120)
    return [[t.plain for t in cells(Row(a), scan.generated_at, widths)] for a in scan.agents]


def test_the_first_frame_from_the_snapshot_matches_the_scan() -> None:
    """Every row's cells (titles with their marks, states, ids, uptime, CPU, tokens, model,
    pane) are the same from the round-tripped document as from the scan itself."""
    scan = Scan(float(int(NOW)), AGENTS, "/data/opencode.db")
    doc = json.loads(json.dumps(document(scan, scan.agents)))
    back = scan_from(doc, "/data/opencode.db")
    assert back is not None
    assert [a.key for a in back.agents] == [a.key for a in AGENTS]
    assert plain(back) == plain(scan)


def test_a_document_otop_did_not_write_is_refused() -> None:
    """A malformed document gives no first frame (the popup scans), never an exception."""
    for doc in (
        {},
        {"agents": [{"pid": "x"}]},
        {"generated_at": 1, "agents": [{}]},
        {"generated_at": 1, "agents": [{"key": "k", "state": "dancing"}]},
    ):
        assert scan_from(doc, None) is None


def test_the_popup_first_frame_is_clean_text() -> None:
    """The frame drawn before the app loads lists every agent with its counts line; titles and
    last words carrying escapes, markup or wide characters reach the terminal as plain text."""
    evil = AGENTS[6].session
    assert evil is not None
    brief = evil.brief._replace(title="evil \x1b]2;owned\x07 \x1b[31mred")
    agents = list(AGENTS)
    agents[6] = agents[6]._replace(session=evil._replace(brief=brief, last_output="\x1b[2J wipe"))
    rows = [row_view(a, NOW) for a in agents]
    frame = draw(rows, NOW, 100, 30)
    ours = re.sub(r"\x1b\[[0-9;]*[mHJ]", "", frame)
    assert "\x1b" not in ours and "\x07" not in ours
    assert "1 waiting  3 working  2 idle  1 stale" in ours and "sort: urgency" in ours
    assert "[bold]Needs you[/bold]" in ours and "● Idle one" in ours and "tool:bash" in ours
    assert len(frame.split("\r\n")) == 2 + 2 * len(AGENTS)
    # No line as wide as the popup (it would wrap and scroll the counts line away), and never
    # more lines than it has, however many agents there are.
    for width, height in ((100, 30), (60, 10), (200, 45)):
        shown = re.sub(r"\x1b\[[0-9;]*[mHJ]", "", draw(rows * 5, NOW, width, height)).split("\r\n")
        assert len(shown) <= height and max(cell_width(line) for line in shown) < width
