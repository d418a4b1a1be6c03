"""`otop serve` with a real HTTP client over a real world, and `otop bar` line by line."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from otop.cli import exits
from otop.cli.parser import main
from otop.core.model import Scan, State
from otop.outputs import bar
from otop.outputs.render import document
from otop.outputs.row import RowView, row_view
from otop.scan.changes import Changes
from otop.scan.scanner import Options, Scanner
from otop.serve.hub import Hub
from otop.serve.server import OtopServer, serve
from otop.watcher.restore import scan_from
from tests.conftest import PERMISSION_SCREEN, World, agent_cmd, pid_in, wait_for
from tests.ui_world import NOW, agent, detail


class Running:
    """An otop server on an ephemeral loopback port, stopped at the end of the test."""

    def __init__(self, world: World, token: str | None = None, db: str | None = None) -> None:
        scanner = Scanner(Options(socket_name=world.server.socket, db=db))
        self.hub = Hub(scanner.scan, lambda sid: scanner.store.history(sid, 20), 0.3)
        self.server = OtopServer(("127.0.0.1", 0), self.hub, token)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=serve, args=(self.server,), daemon=True)
        self.thread.start()
        self.hub.ready.wait(10)

    def get(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], Any]:
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        con.request(method, path, headers=headers or {})
        resp = con.getresponse()
        body = json.loads(resp.read() or b"null")
        con.close()
        return resp.status, dict(resp.getheaders()), body

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def agents(world: World) -> dict[str, str]:
    """A TUI running a tool and one waiting on a permission, with todos on the first."""
    out = {}
    for name, screen in (("tool", ""), ("perm", PERMISSION_SCREEN)):
        d = world.tmp / name
        d.mkdir()
        sid = world.db.session(str(d), f"Work {name}")
        world.db.user(sid, "go")
        mid = world.db.assistant(sid)
        world.db.tool_part(mid, sid, "bash" if name == "tool" else "read")
        pid_in(world.server, world.server.new_window(d, agent_cmd("-s", sid, screen=screen)))
        out[name], out[f"{name}_msg"] = sid, mid
    world.db.todo(out["tool"], [("write tests", "in_progress")])
    return out


@pytest.fixture
def running(world: World, agents: dict[str, str]) -> Iterator[Running]:
    r = Running(world)
    wait_for(lambda: len(r.get("/agents")[2]["agents"]) == 2, what="both agents")
    yield r
    r.stop()


def test_routes(running: Running, agents: dict[str, str]) -> None:
    """Health, the agents document, one agent with todos and messages; JSON errors."""
    status, _, health = running.get("/health")
    assert status == 200 and health["ok"] is True and health["agents"] == 2
    status, headers, doc = running.get("/agents")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert doc["version"] == 1 and doc["problems"] == []
    assert [a["state"] for a in doc["agents"]] == ["permission", "tool"]
    status, _, one = running.get(f"/agents/{agents['tool']}")
    assert status == 200 and one["session_id"] == agents["tool"]
    assert one["todos"] == [
        {"content": "write tests", "status": "in_progress", "priority": "medium"}
    ]
    assert [m["role"] for m in one["last_messages"]] == ["user", "assistant"]
    assert one["last_messages"][1]["parts"][0]["tool"] == "bash"
    assert running.get("/agents/../etc")[0] == 400
    status, _, err = running.get("/agents/not-an-id")
    assert status == 400 and "not a session id" in err["error"]
    status, _, err = running.get("/agents/ses_0000000000000nothere")
    assert status == 404 and "no running agent" in err["error"]
    assert running.get("/nothing")[0] == 404
    status, headers, err = running.get("/agents", method="POST")
    assert status == 405 and headers["Allow"] == "GET" and err["status"] == 405
    assert running.get("/nothing", method="DELETE")[0] == 404


def test_events_stream_state_changes(
    running: Running, world: World, agents: dict[str, str]
) -> None:
    """/events sends one `state` event when an agent's state changes."""
    con = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
    con.request("GET", "/events")
    resp = con.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"
    assert resp.readline() == b": otop event stream\n"
    time.sleep(0.5)
    world.db.complete(agents["tool_msg"], finish="stop")
    lines: list[bytes] = []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline and not any(b.startswith(b"data:") for b in lines):
        lines.append(resp.readline())
    con.close()
    assert b"event: state\n" in lines
    event = json.loads(next(b for b in lines if b.startswith(b"data:"))[5:])
    assert event["previous"] == "tool" and event["agent"]["state"] == "idle"
    assert event["agent"]["session_id"] == agents["tool"]


@pytest.mark.slow
def test_events_follow_the_probes_not_the_interval(world: World) -> None:
    """With the watcher's cheap probes, a state change reaches /events within 1 s although
    the scan interval is 30 s: an idle agent starts a turn and finishes it, five times."""
    d = world.tmp / "idle"
    d.mkdir()
    sid = world.db.session(str(d), "Quiet")
    world.db.finished_turn(sid, "hi", "done")
    pid_in(world.server, world.server.new_window(d, agent_cmd("-s", sid)))
    scanner = Scanner(Options(socket_name=world.server.socket))
    hub = Hub(scanner.scan, lambda s: [], 30.0, Changes(scanner).signature)
    server = OtopServer(("127.0.0.1", 0), hub, None)
    thread = threading.Thread(target=serve, args=(server,), daemon=True)
    thread.start()
    try:
        hub.ready.wait(10)
        con = http.client.HTTPConnection("127.0.0.1", int(server.server_address[1]), timeout=10)
        con.request("GET", "/events")
        resp = con.getresponse()
        resp.readline()
        lags = []
        for i in range(5):
            world.db.user(sid, f"again {i}")
            t0 = time.monotonic()
            mid = world.db.assistant(sid)
            state = _next_state(resp)
            lags.append(time.monotonic() - t0)
            assert state == "generating"
            t0 = time.monotonic()
            world.db.complete(mid, finish="stop")
            assert _next_state(resp) == "idle"
            lags.append(time.monotonic() - t0)
        con.close()
        print(f"event lags: {', '.join(f'{x:.2f}' for x in lags)} s; scans: {hub.scans}")
        assert max(lags) < 1.0
    finally:
        server.shutdown()
        thread.join(5)


def _next_state(resp: http.client.HTTPResponse) -> str:
    while True:
        line = resp.readline()
        if line.startswith(b"data:"):
            return str(json.loads(line[5:])["agent"]["state"])


def test_token_is_enforced(world: World) -> None:
    """With a token, requests without the right bearer header get 401."""
    r = Running(world, token="s3cret")
    try:
        assert r.get("/agents")[0] == 401
        assert r.get("/agents", headers={"Authorization": "Bearer wrong"})[0] == 401
        status, _, doc = r.get("/agents", headers={"Authorization": "Bearer s3cret"})
        assert status == 200 and doc["agents"] == []
    finally:
        r.stop()


def test_no_token_beyond_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    """Binding to a public address without a token is refused with a reason."""
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "give --token" in capsys.readouterr().err


def test_keeps_serving_without_a_database(world: World) -> None:
    """A missing database is said in the document; the server still answers, `[]` agents."""
    r = Running(world, db=str(world.tmp / "missing.db"))
    try:
        status, _, doc = r.get("/agents")
        assert status == 200 and doc["agents"] == []
        assert any("no opencode database" in p for p in doc["problems"])
        assert r.get("/health")[2]["ok"] is True
    finally:
        r.stop()


def bar_rows(title: str, alone: bool = False) -> list[RowView]:
    """Agents as `otop bar --from` reads them (the document through JSON and back): one waiting
    on a permission for bash in pane work:2.0 with this title, then, unless `alone`, one
    generating without a pane and one idle in work:1.1."""
    needs = agent(2, State.PERMISSION, detail(2, title))._replace(tool="bash")
    busy = agent(3, State.GENERATING, detail(3, "Busy"))._replace(pane=None)
    quiet = agent(1, State.IDLE, detail(1, "Quiet"))
    assert quiet.pane is not None
    quiet = quiet._replace(pane=quiet.pane._replace(pane_index=1))
    doc = document(Scan(NOW, (), None), [needs] if alone else [needs, busy, quiet])
    scan = scan_from(json.loads(json.dumps(doc)), None)
    assert scan is not None
    return [row_view(a, NOW) for a in scan.agents]


def test_bar_formats() -> None:
    """SwiftBar, waybar and plain outputs, line by line; a `|` in a title cannot add params."""
    rows = bar_rows("Needs | you\x1b[31m")
    assert bar.swiftbar(rows).splitlines() == [
        "W1 G1 I1 | color=#ff8700",
        "---",
        "Waiting (1) | color=#ff8700",
        "--permission:bash  Needs ¦ you  [work:2.0] | color=#ff8700",
        "Working (1) | color=#5faf00",
        "--generating  Busy | color=#5faf00",
        "Idle (1) | color=#a8a8a8",
        "--idle  Quiet  [work:1.1] | color=#a8a8a8",
        "---",
        "Refresh | refresh=true",
    ]
    w = json.loads(bar.waybar(rows))
    assert w == {
        "text": "⏳1 ⚙1 ·1",
        "class": "waiting",
        "alt": "waiting",
        "tooltip": "permission:bash  Needs ¦ you  [work:2.0]\ngenerating  Busy\n"
        "idle  Quiet  [work:1.1]",
    }
    assert bar.plain(rows).splitlines() == [
        "W1 G1 I1",
        "waiting:",
        "  permission:bash  Needs ¦ you  [work:2.0]",
        "working:",
        "  generating  Busy",
        "idle:",
        "  idle  Quiet  [work:1.1]",
    ]
    assert json.loads(bar.waybar([]))["class"] == "none"
    tip = json.loads(bar.waybar(bar_rows("<b>bold</b> & co", alone=True)))["tooltip"]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in tip and "<" not in tip
    assert bar.plain([]) == "no agents"


def test_bar_from_a_server(running: Running, capsys: pytest.CaptureFixture[str]) -> None:
    """`otop bar --from URL` reads a running `otop serve`; an unreachable one is said plainly."""
    assert main(["bar", "--format", "plain", "--from", f"http://127.0.0.1:{running.port}"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "W1 G1" and "  permission:read  Work perm" in out[2]
    assert main(["bar", "--from", "http://127.0.0.1:9"]) == exits.NO_SERVER
    assert "cannot read http://127.0.0.1:9/agents" in capsys.readouterr().err


def test_bar_local(
    world: World, agents: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`otop bar` scans locally by default."""
    assert main(["-L", world.server.socket, "bar", "--format", "waybar"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == "⏳1 ⚙1"


def test_a_prompt_sent_ends_the_wait_between_beats() -> None:
    """Between two beats the hub glances at the `turns` probe: when it moves (a prompt was
    written), the hub scans at once instead of at the next beat; while it stays, no scan."""
    scans: list[float] = []
    newest = [1]

    def scan() -> Scan:
        scans.append(time.monotonic())
        return Scan(time.time(), (), "/data/opencode.db")

    hub = Hub(scan, lambda s: [], 30.0, lambda: "unchanged", beat=5.0, turns=lambda: newest[0])
    thread = threading.Thread(target=hub.run, daemon=True)
    thread.start()
    try:
        assert hub.ready.wait(5)
        time.sleep(0.5)
        assert len(scans) == 1, "scanned again although nothing moved"
        t0 = time.monotonic()
        newest[0] = 2
        deadline = t0 + 2.0
        while len(scans) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(scans) == 2 and scans[1] - t0 < 0.5, scans
    finally:
        hub.stopped.set()
        thread.join(6)
