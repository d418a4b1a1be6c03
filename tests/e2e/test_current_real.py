"""End to end on opencode 2: the real binary's TUIs, clients of their user's service, offline
against the scripted model in a private tmux past %10. In order on one lab per 2.x version of
otop/core/versions.txt: two TUIs started together in one directory, a turn in one while the
other stays on its home screen, a permission, a question, an API error, and a TUI resumed with
`-s` on the older session; every binding otop calls certain or likely is checked against the
session each pane was given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.lab import CURRENT_VERSIONS, Lab, wait_until
from otop.core.model import Agent, Confidence, State
from otop.scan.scanner import Options, Scanner
from tests.e2e import opencode_binary

pytestmark = pytest.mark.e2e
SURE = (Confidence.CERTAIN, Confidence.LIKELY)
QUESTION = {
    "questions": [
        {
            "question": "Which colour?",
            "header": "Colour",
            "options": [
                {"label": "Red", "description": "warm"},
                {"label": "Blue", "description": "cool"},
            ],
        }
    ]
}


class World:
    """The lab, otop's scanner of it, and the session each pane was given (the truth)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.scanner = Scanner(Options(socket_name=lab.socket), env=lab.env)
        self.truth: dict[str, str | None] = {}  # pane -> the title of the session it shows

    def agents(self) -> dict[str, Agent]:
        """The opencode 2 agents by pane; every sure binding checked against the truth."""
        found = {a.pane.id: a for a in self.scanner.scan().agents if a.pane and a.proc}
        for pane, a in found.items():
            if a.session is not None and a.evidence_session.confidence in SURE:
                assert a.session.brief.title == self.truth.get(pane), (pane, a.evidence_session)
        return found

    def wait(self, pane: str, check: Callable[[Agent], bool], timeout: float = 60) -> Agent:
        def seen() -> Agent | None:
            a = self.agents().get(pane)
            return a if a is not None and check(a) else None

        return wait_until(seen, timeout, 0.3)


@pytest.fixture(scope="module", params=CURRENT_VERSIONS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    version = str(request.param)
    lab = Lab(tmp_path_factory.mktemp(f"lab-{version}"), opencode_binary(version), version)
    lab.fillers()
    w = World(lab)
    yield w
    w.scanner.close()
    lab.close()


@pytest.fixture(scope="module")
def panes(world: World) -> dict[str, str]:
    lab = world.lab
    alpha = lab.project("alpha")
    (alpha / ".env").write_text("SECRET=1\n")  # opencode 2 asks before it reads a .env file
    p = {"one": lab.window("one", alpha), "two": lab.window("two", alpha)}
    lab.start_together([p["one"], p["two"]])
    return p


def test_tuis_started_together_are_new(world: World, panes: dict[str, str]) -> None:
    """Two 2.x TUIs started together in one directory: each in its own pane (certain), on its
    home screen, no session given to either; the service is no agent."""
    for name in ("one", "two"):
        a = world.wait(panes[name], lambda a: a.state == State.NEW)
        assert a.proc is not None and a.proc.version == world.lab.version
        assert a.session_id is None and a.evidence_pane.confidence == Confidence.CERTAIN
        assert int(panes[name][1:]) >= 10
    assert all(a.proc is None or a.proc.kind.value == "tui" for a in world.agents().values())


def test_a_turn_in_one_leaves_the_other_new(world: World, panes: dict[str, str]) -> None:
    """A streaming turn in one pane is `generating` in that pane's session, then `idle`; the
    other TUI of the same directory is never given it."""
    world.truth[panes["one"]] = "Alpha one"
    world.lab.type(panes["one"], "[[title:Alpha one]] [[stream:20:0.3]] hello one")
    a = world.wait(panes["one"], lambda a: a.state == State.GENERATING and a.session is not None)
    assert a.evidence_session.confidence in SURE
    world.wait(panes["one"], lambda a: a.state == State.IDLE)
    two = world.agents()[panes["two"]]
    assert (two.state, two.session_id) == (State.NEW, None)


def test_permission_question_and_error(world: World, panes: dict[str, str]) -> None:
    """In the second TUI: a permission (its request id kept), answered in the TUI; then a
    question; then an API error: each state from the service, in that pane's own session."""
    lab, two = world.lab, panes["two"]
    world.truth[two] = "Beta two"
    env = Path(lab.root / "projects" / "alpha" / ".env")
    lab.type(two, f"[[title:Beta two]] [[call:read:{json.dumps({'path': str(env)})}]] read it")
    a = world.wait(two, lambda a: a.state == State.PERMISSION)
    assert a.tool == "read" and a.request_id and a.request_id.startswith("per_")
    assert a.evidence_state.source == "service"
    lab.keys(two, "Enter")  # Allow once
    world.wait(two, lambda a: a.state == State.IDLE)
    lab.type(two, f"[[call:question:{json.dumps(QUESTION)}]] ask me")
    q = world.wait(two, lambda a: a.state == State.QUESTION)
    assert q.request_id and q.request_id.startswith("frm_")
    lab.keys(two, "Enter")
    world.wait(two, lambda a: a.state == State.IDLE)
    lab.type(two, "[[fail:400]] this fails")
    world.wait(two, lambda a: a.state == State.ERROR)
    assert world.agents()[panes["one"]].state == State.IDLE


def test_thinking_tool_subagent_and_interrupted(world: World, panes: dict[str, str]) -> None:
    """In the first TUI's session, each working state as the service runs it: reasoning, a
    shell command (its tool named), a subagent, and a turn interrupted with Esc."""
    lab, one = world.lab, panes["one"]
    lab.type(one, "[[think:30:0.3]] [[stream:2:0.1]] think first")
    world.wait(one, lambda a: a.state == State.THINKING)
    world.wait(one, lambda a: a.state == State.IDLE)
    lab.type(one, f"[[call:shell:{json.dumps({'command': 'sleep 8'})}]] run it")
    a = world.wait(one, lambda a: a.state == State.TOOL)
    assert a.tool == "shell"
    world.wait(one, lambda a: a.state == State.IDLE, 60)
    helper = {"agent": "general", "description": "helper", "prompt": "<<stream:40:0.3>> dig"}
    lab.type(one, f"[[call:subagent:{json.dumps(helper)}]] get help")
    world.wait(one, lambda a: a.state == State.SUBAGENT)
    world.wait(one, lambda a: a.state == State.IDLE, 90)
    lab.type(one, "[[stream:100:0.3]] a long answer")
    world.wait(one, lambda a: a.state == State.GENERATING)
    lab.keys(one, "Escape")
    time.sleep(0.3)
    lab.keys(one, "Escape")
    world.wait(one, lambda a: a.state == State.INTERRUPTED)
    assert world.agents()[panes["two"]].session_id != world.agents()[one].session_id
    lab.type(one, "[[stream:2:0.1]] and a short one")  # idle again, for what follows
    world.wait(one, lambda a: a.state == State.IDLE)


def otop(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """The otop command a person types, against the lab's tmux server."""
    argv = [sys.executable, "-m", "otop", "-L", world.lab.socket, *args]
    env = {**world.lab.env, "PATH": os.environ["PATH"]}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    print(f"otop {' '.join(args)}: {done.returncode} {done.stdout!r} {done.stderr!r}")
    return done


def told(world: World, sid: str) -> list[dict[str, Any]]:
    """A session's newest messages, newest first, as its service tells them."""
    from otop.sources.opencode.service import Service, locate

    service = Service(locate(str(Path(world.lab.env["XDG_STATE_HOME"]) / "opencode")))
    return list(service.client.get(f"/api/session/{sid}/message?limit=20")["data"])


def test_answered_and_replied_through_the_service(world: World, panes: dict[str, str]) -> None:
    """From otop, never the pane: a permission allowed (`otop answer`), a question answered by
    its number (`otop reply`), the next prompt sent, and one queued behind a running turn; each
    taken as the TUI's own screen shows, in that pane's session alone."""
    lab, two = world.lab, panes["two"]
    sid = world.agents()[two].session_id
    assert sid is not None
    secret = Path(lab.root / "projects" / "alpha" / ".env")
    lab.type(two, f"[[call:read:{json.dumps({'path': str(secret)})}]] read it again")
    world.wait(two, lambda a: a.state == State.PERMISSION)
    done = otop(world, "answer", sid, "once")
    assert (done.returncode, done.stdout.strip()) == (
        0,
        "otop: answered 'Allow once' through its opencode service",
    )
    world.wait(two, lambda a: a.state == State.IDLE)
    ran = [t for m in told(world, sid) for t in m.get("content") or () if t.get("name") == "read"]
    assert "SECRET=1" in json.dumps(ran[0]["state"]["content"])  # the tool ran: the file was read
    lab.type(two, f"[[call:question:{json.dumps(QUESTION)}]] ask me again")
    world.wait(two, lambda a: a.state == State.QUESTION)
    said = otop(world, "reply", sid, "2")
    assert (said.returncode, said.stdout.strip()) == (
        0,
        "otop: answered 'Blue' through its opencode service",
    )
    world.wait(two, lambda a: a.state == State.IDLE)
    words = [c.get("text", "") for m in told(world, sid)[:3] for c in m.get("content") or ()]
    assert '"Which colour?"="Blue"' in " ".join(words)
    sent = otop(world, "reply", sid, "[[stream:30:0.2]] a prompt from otop")
    assert sent.returncode == 0 and "through its opencode service" in sent.stdout
    world.wait(two, lambda a: a.state == State.GENERATING)
    wait_until(lambda: "a prompt from otop" in lab.screen(two) or None, 30, 0.3)
    queued = otop(world, "reply", sid, "[[stream:2:0.1]] then this one")
    assert queued.returncode == 0 and "queued behind the running turn" in queued.stdout
    wait_until(lambda: "then this one" in lab.screen(two) or None, 60, 0.3)
    world.wait(two, lambda a: a.state == State.IDLE, 90)
    one = world.agents()[panes["one"]]
    assert one.state == State.IDLE and one.session_id != sid
    history = world.scanner.history(sid)  # the detail view's messages, from the service
    assert any(e.role == "user" and e.parts[0].text.endswith("from otop") for e in history)
    assert ("read", "completed") in [(p.tool, p.status) for e in history for p in e.parts]
    refused = otop(world, "answer", sid, "once")  # nothing pending: said, nothing sent
    assert refused.returncode == 1 and "not waiting on a permission" in refused.stderr


def test_a_resumed_tui_shows_the_older_session(world: World, panes: dict[str, str]) -> None:
    """A third TUI started with `-s` on Alpha, while Beta is the directory's newest: certain,
    Alpha's."""
    lab = world.lab
    alpha = world.agents()[panes["one"]].session_id
    assert alpha is not None
    three = lab.window("three", lab.root / "projects" / "alpha")
    world.truth[three] = "Alpha one"
    lab.start(three, "-s", alpha)
    a = world.wait(three, lambda a: a.session_id == alpha)
    assert a.evidence_session.confidence == Confidence.CERTAIN and a.state == State.IDLE


def test_a_switched_tui_shows_its_new_session(world: World, panes: dict[str, str]) -> None:
    """The resumed TUI switched to Beta with `/sessions` (a search, then Enter): otop follows
    it to Beta, never keeping Alpha, while the pane that shows Beta too keeps it."""
    lab = world.lab
    three = next(p for p, title in world.truth.items() if p not in panes.values())
    lab.type(three, "/sessions")
    wait_until(lambda: "Search" in lab.screen(three) or None, 10, 0.2)
    lab.tmux("send-keys", "-t", three, "-l", "Beta")
    time.sleep(0.5)
    lab.keys(three, "Enter")
    # Until the TUI has switched (its title says so), either session is the truth.
    title = "#{pane_title}"
    wait_until(
        lambda: lab.tmux("display", "-p", "-t", three, title).strip() == "OC | Beta two" or None,
        10,
        0.1,
    )
    world.truth[three] = "Beta two"
    a = world.wait(three, lambda a: a.session is not None and a.session.brief.title == "Beta two")
    assert a.evidence_session.confidence in SURE
    assert world.agents()[panes["two"]].session_id == a.session_id


def test_a_standalone_tui_is_not_called_idle(world: World, panes: dict[str, str]) -> None:
    """A `--standalone` TUI runs its turns in a private server its user's service does not
    run: while it streams, otop says it cannot tell, never `idle`."""
    lab = world.lab
    four = lab.window("four", lab.root / "projects" / "alpha")
    lab.start(four, "--standalone")
    lab.type(four, "[[title:Standalone five]] [[stream:20:0.3]] on my own")
    wait_until(lambda: "part 2 of 20" in lab.screen(four) or None, 60, 0.3)
    a = world.agents()[four]
    assert a.proc is not None and a.proc.kind.value == "tui"
    assert a.state == State.UNKNOWN and "does not read" in a.evidence_session.detail


def test_a_1x_tui_beside_the_2x_ones(world: World, panes: dict[str, str]) -> None:
    """An opencode 1.x TUI (its own data directory) in the same tmux server: read from its
    database, its session and state its own, while the 2.x ones stay as they were."""
    from devtools.lab import OPENCODE_VERSION

    lab = world.lab
    binary = opencode_binary(OPENCODE_VERSION)
    five = lab.window("five", lab.project("legacy"))
    data = lab.root / "xdg" / "data-1x"
    lab.tmux("send-keys", "-t", five, "-l", f"XDG_DATA_HOME={data} {binary}")
    lab.tmux("send-keys", "-t", five, "Enter")
    wait_until(lambda: lab.ready(five) or None, 90, 0.3)
    world.truth[five] = "Legacy one"
    lab.type(five, "[[title:Legacy one]] [[stream:2:0.1]] hello legacy")
    a = world.wait(five, lambda a: a.state == State.IDLE and a.session is not None, 90)
    assert a.proc is not None and a.proc.version == OPENCODE_VERSION
    assert a.database is not None and a.database.startswith(str(data))
    assert world.agents()[panes["one"]].state == State.IDLE


def test_serve_lists_and_streams_opencode_2_agents(world: World, panes: dict[str, str]) -> None:
    """`otop serve` beside the 2.x TUIs: /agents lists them with their sessions, /agents/ID
    gives a session's last messages from its service, and /events tells a turn as it starts."""
    import http.client
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = [sys.executable, "-m", "otop", "-L", world.lab.socket, "serve", "--port", str(port)]
    env = {**world.lab.env, "PATH": os.environ["PATH"]}
    server = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert server.stdout is not None and b"otop serve: http" in server.stdout.readline()

        def get(path: str) -> Any:
            con = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            con.request("GET", path)
            return json.loads(con.getresponse().read())

        one = world.agents()[panes["one"]].session_id
        doc = wait_until(lambda: (d := get("/agents"))["agents"] and d, 30, 0.3)
        assert one in [a["session_id"] for a in doc["agents"]]
        messages = get(f"/agents/{one}")["last_messages"]
        assert {"user", "assistant"} <= {m["role"] for m in messages}
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        con.request("GET", "/events")
        stream = con.getresponse()
        assert stream.readline() == b": otop event stream\n"
        world.lab.type(panes["one"], "[[stream:10:0.3]] told as it starts")
        t0 = time.monotonic()
        while True:
            line = stream.readline()
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                agent = event.get("agent") or {}
                if agent.get("session_id") == one and agent.get("state") == "generating":
                    break
        print(f"serve told the turn {time.monotonic() - t0:.2f} s after the prompt was typed")
        assert time.monotonic() - t0 < 5
        world.wait(panes["one"], lambda a: a.state == State.IDLE)
        con.close()
    finally:
        server.terminate()
        server.wait(10)


def test_a_restarted_service_is_read_again(world: World, panes: dict[str, str]) -> None:
    """The service killed under running TUIs, mid-turn in one: while it is down that agent is
    `unknown` (never idle), the TUIs start another service, which goes on with the turn (its
    own "restarted" message), and otop reads the new one; never a wrong session meanwhile."""
    lab, two = world.lab, panes["two"]
    path = Path(lab.env["XDG_STATE_HOME"]) / "opencode" / "service.json"
    old = json.loads(path.read_text())["pid"]
    import signal

    lab.type(two, "[[stream:200:0.3]] cut short")
    world.wait(two, lambda a: a.state == State.GENERATING)
    os.kill(old, signal.SIGKILL)

    def restarted() -> bool:
        try:
            return bool(json.loads(path.read_text())["pid"] != old)
        except (OSError, ValueError, KeyError):
            return False

    states: list[State] = []

    def done() -> bool:
        states.append(world.agents()[two].state)
        return states[-1] == State.IDLE

    wait_until(done, 90, 0.3)
    assert restarted() and State.UNKNOWN in states
    assert set(states[:-1]) <= {State.GENERATING, State.UNKNOWN}, states
    sid = world.agents()[two].session_id
    assert sid is not None
    notices = [m.get("metadata", {}).get("notice") for m in told(world, sid)[:4]]
    assert "restart" in notices  # the new service went on with the turn
    wait_until(lambda: restarted() or None, 60, 0.3)
    a = world.wait(panes["one"], lambda a: a.state == State.IDLE and a.session is not None, 60)
    assert a.evidence_session.confidence in SURE
