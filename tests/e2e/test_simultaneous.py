"""End to end: TUIs started at the same moment in one directory, as a tmux-resurrect restore
starts them, while both cores are busy; prompted in an order unlike their start order.

Their log runs cannot be told apart (they begin 2-5 s later in either order), so each pane
must be bound by its own evidence or said to be unknown: never another pane's session. Some
rounds turn the terminal title off, so only the screen tier can tell the panes apart.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from devtools.lab import OPENCODE_VERSION, OPENCODE_VERSIONS, Lab
from otop.core.model import Confidence
from otop.scan.scanner import Options, Scanner
from tests.e2e import burn, opencode_binary

pytestmark = pytest.mark.e2e
# opencode version -> rounds (titles on, then off, alternating): the pinned one most
ROUNDS = {v: 5 if v == OPENCODE_VERSION else 3 for v in OPENCODE_VERSIONS}
PANES = 3


@dataclass
class Tally:
    """What the rounds saw, for the summary and the assertions."""

    rounds: int = 0
    looks: int = 0
    cannot_tell: int = 0
    wrong: list[str] = field(default_factory=list)
    settled_after: list[float] = field(default_factory=list)
    by_screen: int = 0
    hung_starts: int = 0


@pytest.fixture(scope="module", params=list(ROUNDS))
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    version = str(request.param)
    binary = opencode_binary(version)
    lab = Lab(tmp_path_factory.mktemp(f"together-{version}"), binary, version)
    lab.fillers()
    yield lab
    lab.close()


def truth(lab: Lab, tags: dict[str, str]) -> dict[str, str]:
    """pane -> the session whose first prompt carries that pane's tag (from the database)."""
    db = lab.data / "opencode" / "opencode.db"
    if not db.exists():
        return {}
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        out = {}
        for pane, tag in tags.items():
            row = con.execute(
                "SELECT session_id FROM part WHERE data LIKE ? LIMIT 1", [f"%{tag}%"]
            ).fetchone()
            if row:
                out[pane] = str(row[0])
        return out
    finally:
        con.close()


def look(scanner: Scanner, panes: list[str], lab: Lab, tags: dict[str, str], tally: Tally) -> int:
    """One scan: count panes bound right (certain or likely); record any pane bound to another
    pane's session at all, or to any wrong session at certain or likely (an old session
    offered as a guess, marked so, is allowed). The truth is read after the scan: a prompt
    written between a truth read before it and the scan made a right answer look wrong."""
    tally.looks += 1
    right = 0
    agents = {a.pane.id: a for a in scanner.scan().agents if a.pane and a.proc}
    real = truth(lab, tags)
    for pane in panes:
        a = agents.get(pane)
        if a is None:
            continue
        ev = a.evidence_session
        if "cannot tell" in ev.detail:
            tally.cannot_tell += 1
        if a.session_id is None:
            continue
        promised = ev.confidence in (Confidence.CERTAIN, Confidence.LIKELY)
        others = {s for p, s in real.items() if p != pane}
        if a.session_id != real.get(pane) and (promised or a.session_id in others):
            tally.wrong.append(f"{pane}: {a.session_id} (really {real.get(pane)}): {ev}")
        elif a.session_id == real.get(pane) and promised:
            right += 1
            tally.by_screen += ev.source == "screen"
    return right


def one_round(lab: Lab, panes: list[str], number: int, tally: Tally) -> None:
    titles_off = number % 2 == 1
    env = {"OPENCODE_DISABLE_TERMINAL_TITLE": "1"} if titles_off else None
    scanner = Scanner(Options(socket_name=lab.socket), env=lab.env)
    burners = burn()
    try:
        t0 = start(lab, panes, env, tally)
        tags = {p: f"round {number} pane {p[1:]} asks" for p in panes}
        order = panes[number % PANES :] + panes[: number % PANES]
        order.reverse()  # never the start order
        for p in order:
            lab.type(p, f"{tags[p]} [[title:Round {number} pane {p[1:]}]] [[stream:2:0.1]]")
            look(scanner, panes, lab, tags, tally)
        deadline = time.monotonic() + 90
        while True:
            if look(scanner, panes, lab, tags, tally) == PANES:
                tally.settled_after.append(time.monotonic() - t0)
                break
            assert time.monotonic() < deadline, f"round {number} never settled: {tally}"
            time.sleep(0.3)
        for _ in range(5):  # and it stays right
            look(scanner, panes, lab, tags, tally)
    finally:
        for b in burners:
            b.kill()
            b.wait()
        scanner.close()
    stop(lab, panes)
    tally.rounds += 1


def start(lab: Lab, panes: list[str], env: dict[str, str] | None, tally: Tally) -> float:
    """Start the TUIs together; when one never draws (opencode itself hangs now and then when
    started beside others under load), kill them all and start again. Returns the start time."""
    for _ in range(3):
        t0 = time.monotonic()
        try:
            lab.start_together(panes, env=env, timeout=60)
            return t0
        except TimeoutError:
            tally.hung_starts += 1
            stop(lab, panes, kill=True)
    raise AssertionError(f"opencode never started in all {len(panes)} panes in 3 tries")


def stop(lab: Lab, panes: list[str], kill: bool = False) -> None:
    """End the TUIs of the round (Ctrl-C, or SIGKILL of their own pids for a hung one)."""
    for p in panes:
        pid = lab.opencode_pid(p)
        if kill and pid is not None:
            os.kill(pid, signal.SIGKILL)
        else:
            lab.keys(p, "C-c")
    for p in panes:
        deadline = time.monotonic() + 20
        while lab.opencode_pid(p) is not None and time.monotonic() < deadline:
            time.sleep(0.2)
    if kill:
        for p in panes:
            lab.tmux("send-keys", "-t", p, "C-c", "clear", "Enter")


def test_started_together_never_swapped(lab: Lab) -> None:
    """Rounds of three TUIs started in one tmux command in one directory under CPU load: no
    pane is ever bound to a session that is not its own, and every pane ends bound right."""
    d = lab.project("together")
    panes = [lab.window(f"t{i}", d) for i in range(PANES)]
    assert all(int(p[1:]) >= 10 for p in panes), panes
    tally = Tally()
    for number in range(ROUNDS[lab.version]):
        one_round(lab, panes, number, tally)
    print(
        f"\nopencode {lab.version}: {tally.rounds} rounds of {PANES} TUIs started together,"
        f" {tally.looks} looks, {tally.cannot_tell} 'cannot tell' answers, settled after"
        f" {', '.join(f'{s:.1f}' for s in tally.settled_after)} s,"
        f" {tally.by_screen} right answers from the screen tier,"
        f" {tally.hung_starts} starts where opencode never drew and all were started again"
    )
    assert not tally.wrong, "\n".join(tally.wrong[:10])
    assert tally.rounds == ROUNDS[lab.version]
