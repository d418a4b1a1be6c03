"""End to end: the real opencode binary, offline against the scripted model, in a private tmux.

The scenarios run in order on one lab per opencode version of otop/core/versions.txt (a
real TUI takes ~6 s and ~0.75 GB to start, so each version's TUIs are reused): each asserts what
`otop list --json` says about pane, session and state. Filler windows come first, so the
agents sit at pane ids %10 and above, as on a user's server.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.lab import OPENCODE_VERSIONS, Lab, wait_until
from otop.actions.answer import in_pane
from otop.outputs.render import document
from otop.scan.scanner import Options, Scanner
from otop.sources.tmux import Target, Tmux
from tests.e2e import opencode_binary

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
Agent = dict[str, Any]


SURE = ("certain", "likely")


def mapped(scenario: str, agent: Agent) -> None:
    """Print how an agent's pane, session and state were found; assert that its pane, and its
    session once it has one, were mapped with certainty or a likely signal."""
    ev = agent["evidence"]
    pane, session = ev["pane"]["confidence"], ev["session"]["confidence"]
    print(f"{scenario} | {pane} | {session} ({ev['session']['source']}) | {ev['state']['source']}")
    assert pane in SURE, (scenario, ev["pane"])
    if agent["session_id"] is not None:
        assert session in SURE, (scenario, ev["session"])


@pytest.fixture(scope="module", params=OPENCODE_VERSIONS)
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    version = str(request.param)
    binary = opencode_binary(version)
    lab = Lab(tmp_path_factory.mktemp(f"lab-{version}"), binary, version)
    lab.fillers()
    yield lab
    lab.close()


class View:
    """`otop list --json`, as the CLI computes it, against the lab's tmux and data."""

    def __init__(self, lab: Lab) -> None:
        self.scanner = Scanner(Options(socket_name=lab.socket), env=lab.env)

    def agents(self) -> list[Agent]:
        doc = document(scan := self.scanner.scan(), scan.agents)
        agents = doc["agents"]
        assert isinstance(agents, list)
        return agents

    def wait(self, pred: Callable[[Agent], bool], timeout: float = 30) -> Agent:
        def check() -> Agent | None:
            return next((a for a in self.agents() if pred(a)), None)

        return wait_until(check, timeout, 0.25)

    def in_pane(self, pane: str) -> Agent | None:
        return next((a for a in self.agents() if a["pane"] and a["pane"]["id"] == pane), None)


@pytest.fixture(scope="module")
def view(lab: Lab) -> View:
    return View(lab)


@pytest.fixture(scope="module")
def panes(lab: Lab) -> dict[str, str]:
    alpha, beta = lab.project("alpha"), lab.project("beta")
    p = {"one": lab.window("one", alpha), "two": lab.window("two", beta)}
    lab.start(p["one"])
    lab.start(p["two"])
    return p


def on(pane: str, state: str | None = None) -> Callable[[Agent], bool]:
    def pred(a: Agent) -> bool:
        return (
            bool(a["pane"]) and a["pane"]["id"] == pane and (state is None or a["state"] == state)
        )

    return pred


def test_fresh_tuis_are_new(view: View, panes: dict[str, str]) -> None:
    """A TUI on its home screen is `new`, in its own pane (at %10 or above), with no session."""
    assert all(int(p[1:]) >= 10 for p in panes.values()), panes
    for name in ("one", "two"):
        a = view.wait(on(panes[name]))
        assert a["state"] == "new" and a["session_id"] is None
        assert a["kind"] == "tui"
        mapped(f"fresh TUI {name}", a)
        assert a["evidence"]["pane"]["confidence"] == "certain"


def test_two_idle_tuis_in_different_dirs(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """Two TUIs in different directories each show their own session, idle after a turn."""
    lab.type(panes["one"], "[[stream:2:0.1]] hello one")
    lab.type(panes["two"], "[[stream:2:0.1]] hello two")
    one = view.wait(lambda a: on(panes["one"], "idle")(a) and a["session_id"] is not None)
    two = view.wait(lambda a: on(panes["two"], "idle")(a) and a["session_id"] is not None)
    assert one["session_id"] != two["session_id"]
    assert one["directory"].endswith("/alpha") and two["directory"].endswith("/beta")
    for a in (one, two):
        mapped(f"idle TUI in {a['directory'].rsplit('/', 1)[-1]}", a)
        assert a["last_output"] == "All done here."
        assert a["messages"] >= 2
        assert a["model"] == "fake/fake-model"


def test_generating(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A streaming answer is `generating` while it streams, then `idle`."""
    lab.type(panes["one"], "[[stream:16:0.5]] tell me a long story")
    a = view.wait(on(panes["one"], "generating"))
    assert a["group"] == "working"
    mapped("generating", a)
    view.wait(on(panes["one"], "idle"), 40)


def test_thinking(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A reasoning stream is `thinking`."""
    lab.type(panes["one"], "[[think:14:0.5]] think hard")
    mapped("thinking", view.wait(on(panes["one"], "thinking")))
    view.wait(on(panes["one"], "idle"), 40)


def test_api_error(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A turn the model's API refused (HTTP 400) is `error`, waiting for you, with the reason."""
    lab.type(panes["one"], "[[fail:400]] this fails")
    a = view.wait(on(panes["one"], "error"))
    assert a["group"] == "waiting"
    mapped("API error", a)


def test_interrupted(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A streaming turn stopped with Esc twice is `interrupted`, never `generating` or `idle`."""
    lab.type(panes["one"], "[[stream:100:0.3]] a long answer")
    view.wait(on(panes["one"], "generating"))
    lab.keys(panes["one"], "Escape")
    time.sleep(0.3)
    lab.keys(panes["one"], "Escape")
    mapped("interrupted", view.wait(on(panes["one"], "interrupted")))


def test_bash_tool(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A running bash command is `tool` with the tool's name."""
    lab.type(panes["one"], "[[sh:sleep 8]] run it")
    a = view.wait(on(panes["one"], "tool"))
    assert a["tool"] == "bash"
    mapped("bash tool", a)
    idle = view.wait(on(panes["one"], "idle"), 40)
    # Seen within moments of opencode finishing (cached details follow its event log).
    con = sqlite3.connect(f"file:{lab.data}/opencode/opencode.db?mode=ro", uri=True)
    (raw,) = con.execute(
        "SELECT data FROM message WHERE session_id = ? ORDER BY time_created DESC LIMIT 1",
        [idle["session_id"]],
    ).fetchone()
    con.close()
    lag = time.time() - json.loads(raw)["time"]["completed"] / 1000
    print(f"idle seen {lag:.2f} s after opencode completed the turn")
    assert lag < 2.0


def test_permission(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A real permission prompt is `permission` (waiting), not busy, and the plugin's badge on
    its window turns to waiting within 3 s of the dialog appearing; answering it moves on."""
    lab.tmux("set-option", "-g", "@otop-command", f"{sys.executable} -m otop")
    lab.tmux("run-shell", str(ROOT / "otop.tmux"))
    win = lab.tmux("display", "-p", "-t", panes["one"], "#{window_id}").strip()
    lab.type(panes["one"], '[[call:read:{"filePath":"/etc/hostname"}]] read that file')
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        now = time.monotonic()
        if "screen" not in seen and "Permission required" in lab.screen(panes["one"]):
            seen["screen"] = now
        if "badge" not in seen and "⏳" in lab.tmux("show", "-wqv", "-t", win, "@otop_badge"):
            seen["badge"] = now
        time.sleep(0.05)
    assert set(seen) == {"screen", "badge"}, seen
    delay = seen["badge"] - seen["screen"]
    print(f"badge turned waiting {delay:.2f} s after the dialog appeared")
    assert delay < 3
    a = view.wait(on(panes["one"], "permission"))
    assert a["group"] == "waiting"
    assert a["waiting_since"] is not None
    mapped("permission", a)
    lab.keys(panes["one"], "Enter")
    view.wait(on(panes["one"], "idle"), 40)
    wait_until(lambda: "⏳" not in lab.tmux("show", "-wqv", "-t", win, "@otop_badge") or None, 5)


def test_answer_in_place(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """`3` in the popup (otop.actions.answer) rejects a real permission prompt without going there:
    the dialog's selection is read, moved, read again, then confirmed. The model's text above
    the dialog names the three choices with `Reject` drawn as code (its own background): only
    the dialog itself is read, so the real selection moves and the read is rejected."""
    say = "[[say:Choose Allow once, Allow always or `Reject` below.]]"
    lab.type(panes["one"], f'{say} [[call:read:{{"filePath":"/etc/hostname"}}]] read it again')
    view.wait(on(panes["one"], "permission"))
    agent = next(a for a in view.scanner.scan().agents if a.pane and a.pane.id == panes["one"])
    assert int(panes["one"][1:]) >= 10
    assert agent.evidence_state.source == "screen", agent.evidence_state
    said = in_pane(Tmux(Target(socket_name=lab.socket)), agent, 2)
    assert said.startswith("answered 'Reject'")
    # opencode stops the turn after a rejection: the user is back in charge.
    after = view.wait(on(panes["one"], "interrupted"), 20)
    assert "rejected" in after["evidence"]["state"]["detail"]
    con = sqlite3.connect(f"file:{lab.data}/opencode/opencode.db?mode=ro", uri=True)
    errors = [
        json.loads(d)["state"].get("error", "")
        for (d,) in con.execute('SELECT data FROM part WHERE data LIKE \'%"tool":"read"%\'')
    ]
    con.close()
    assert any("rejected" in e for e in errors), errors


def test_question(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """The question dialog is `question` (waiting) until answered."""
    q = '{"questions":[{"question":"Pick one?","header":"Pick","options":[{"label":"red","description":"r"},{"label":"blue","description":"b"}]}]}'  # noqa: E501
    lab.type(panes["one"], f"[[call:question:{q}]] ask me")
    a = view.wait(on(panes["one"], "question"))
    assert a["group"] == "waiting"
    mapped("question", a)
    # The tool's row can come before the dialog is drawn (seen under CI load on tmux 3.5a): an
    # Enter typed then went to the empty prompt, and the question waited for ever. Even once
    # drawn, opencode 1.14 can take a moment more to give the dialog the keyboard (seen under
    # CI load on tmux 3.5a): a person presses Enter again while the dialog is still there.
    shown = ("Pick one?", "red", "blue")

    def dialog() -> bool:
        return all(w in lab.screen(panes["one"]) for w in shown)

    wait_until(lambda: dialog() or None, 20)
    try:
        for _ in range(4):
            lab.keys(panes["one"], "Enter")
            try:
                wait_until(lambda: not dialog() or None, 5)
                break
            except TimeoutError:
                continue
        view.wait(on(panes["one"], "idle"), 40)
    except TimeoutError:
        print(lab.screen(panes["one"]))
        lab.keys(panes["one"], "Escape")  # the next tests get the pane back, not this failure
        raise


def test_subagent(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A running task tool is `subagent`; the child shows under its parent, never as an agent."""
    lab.type(panes["one"], "[[sub:<<stream:14:0.5>> dig around]] delegate this")
    working = ("generating", "thinking", "tool")

    def delegating(x: Agent) -> bool:
        # A child made a moment ago has no message yet (`new`, rightly): wait for its first.
        kids = x["children"]
        return on(panes["one"], "subagent")(x) and bool(kids) and kids[0]["state"] in working

    a = view.wait(delegating, 40)
    mapped("subagent", a)
    child = a["children"][0]
    assert child["state"] in working
    ids = {x["session_id"] for x in view.agents()}
    assert child["session_id"] not in ids
    view.wait(on(panes["one"], "idle"), 60)


def test_two_tuis_same_dir(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A second TUI in the same directory gets its own session; the first keeps its own."""
    first = view.wait(on(panes["one"], "idle"))
    panes["three"] = lab.window("three", lab.project("alpha"))
    lab.start(panes["three"])
    lab.type(panes["three"], "[[stream:2:0.1]] second in alpha")
    third = view.wait(lambda a: on(panes["three"], "idle")(a) and a["session_id"] is not None)
    again = view.wait(on(panes["one"]))
    assert third["session_id"] != first["session_id"]
    assert again["session_id"] == first["session_id"]
    for a, name in ((again, "first"), (third, "second")):
        mapped(f"two TUIs in one dir: {name}", a)


def test_resume_with_s(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """`opencode -s ID` in a pane is mapped to that session, with certainty, from argv."""
    before = view.wait(on(panes["two"], "idle"))
    sid = before["session_id"]
    lab.keys(panes["two"], "C-c")
    wait_until(lambda: lab.opencode_pid(panes["two"]) is None, 15)
    lab.start(panes["two"], "-s", sid)
    a = view.wait(lambda x: on(panes["two"])(x) and x["pid"] != before["pid"])
    assert a["session_id"] == sid
    assert a["state"] == "idle"
    assert a["evidence"]["session"]["source"] == "argv"
    assert a["evidence"]["session"]["confidence"] == "certain"
    mapped("-s resume", a)


def test_resume_a_run_session(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A TUI resumed with `-s` on a session `opencode run` made is an ordinary interactive TUI:
    `otop list` shows it by default, with its session certain."""
    d = lab.project("beta")
    done = subprocess.run(
        [lab.binary, "run", "[[stream:2:0.1]]", "made", "by", "run"],
        cwd=d,
        env=lab.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    con = sqlite3.connect(f"file:{lab.data}/opencode/opencode.db?mode=ro", uri=True)
    (sid,) = con.execute(
        "SELECT id FROM session WHERE directory = ? AND parent_id IS NULL"
        " AND permission IS NOT NULL ORDER BY time_created DESC LIMIT 1",
        [str(d)],
    ).fetchone()
    con.close()
    lab.keys(panes["two"], "C-c")
    wait_until(lambda: lab.opencode_pid(panes["two"]) is None, 15)
    lab.start(panes["two"], "-s", sid)
    a = view.wait(lambda x: on(panes["two"])(x) and x["session_id"] == sid)
    assert a["interactive"] is True
    assert a["evidence"]["session"]["confidence"] == "certain"
    env = {**os.environ, **lab.env, "PYTHONPATH": str(ROOT)}
    env.pop("TMUX", None)
    out = subprocess.run(
        [sys.executable, "-m", "otop", "-L", lab.socket, "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    listed = json.loads(out.stdout)["agents"]
    assert any(x["session_id"] == sid for x in listed), listed
    mapped("-s resume of a run session", a)


def test_sigkill_mid_turn(lab: Lab, view: View, panes: dict[str, str]) -> None:
    """A TUI killed mid-turn leaves its session `stale`, never `working`."""
    lab.type(panes["three"], "[[stream:40:0.5]] a long one")
    a = view.wait(on(panes["three"], "generating"))
    sid = a["session_id"]
    os.kill(a["pid"], signal.SIGKILL)
    wait_until(lambda: lab.opencode_pid(panes["three"]) is None, 10)
    time.sleep(0.5)
    for _ in range(3):
        mine = [x for x in view.agents() if x["session_id"] == sid]
        assert mine, f"the killed session {sid} should still be listed, as stale"
        assert all(x["group"] != "working" for x in mine)
        assert mine[0]["state"] == "stale" and mine[0]["pid"] is None
        time.sleep(0.5)
    assert mine[0]["pane"] and mine[0]["pane"]["id"] == panes["three"]
    mapped("SIGKILL mid-turn (stale)", mine[0])


def test_scan_time_is_small(view: View) -> None:
    """A scan of the live lab stays well under the 1 s the states must show up in."""
    view.agents()
    times = []
    for _ in range(10):
        t0 = time.monotonic()
        view.agents()
        times.append(time.monotonic() - t0)
    assert sorted(times)[5] < 0.5
    print(f"median scan {sorted(times)[5] * 1000:.1f} ms")


def test_lab_dirs(lab: Lab) -> None:
    """Nothing in the lab wrote outside its own directory (HOME and XDG are isolated)."""
    assert Path(lab.env["HOME"]).is_relative_to(lab.root)
    assert (lab.data / "opencode" / "opencode.db").exists()


def test_confidence_reached(lab: Lab, view: View) -> None:
    """A TUI of its own, on its home screen, running a tool, then idle, has its pane and (once
    it has one) its session mapped with certainty or a likely signal."""
    pane = lab.window("own", lab.project("gamma"))
    lab.start(pane)
    try:
        fresh = view.wait(on(pane, "new"))
        assert fresh["session_id"] is None
        mapped("own TUI, fresh", fresh)
        lab.type(pane, "[[sh:sleep 6]] run it")
        tool = view.wait(on(pane, "tool"))
        assert tool["session_id"] is not None
        mapped("own TUI, tool", tool)
        mapped("own TUI, idle", view.wait(on(pane, "idle"), 40))
    finally:  # the lab's memory is for the scenarios' TUIs (~0.75 GB each)
        lab.keys(pane, "C-c")
        wait_until(lambda: lab.opencode_pid(pane) is None, 15)
