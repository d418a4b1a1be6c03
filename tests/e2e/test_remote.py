"""Remote agents from a real `opencode serve`, offline against the scripted model: listed with
the server's exact states, a real permission answered through its API, and an unreachable
server that never slows the local scan."""

from __future__ import annotations

import json
import socket
import statistics
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.lab import Lab, wait_until
from otop.actions.answer import on_server
from otop.core.model import Agent, State
from otop.scan.scanner import Options, Scanner
from otop.sources.opencode.servers import ServerConfig
from tests.e2e import opencode_binary

pytestmark = pytest.mark.e2e


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


class Served:
    def __init__(self, lab: Lab, port: int, project: Path) -> None:
        self.lab, self.url, self.project = lab, f"http://127.0.0.1:{port}", project

    def call(self, method: str, path: str, body: object = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    binary = opencode_binary()
    lab = Lab(tmp_path_factory.mktemp("remote"), binary)
    try:
        port = free_port()
        project = lab.project("served")
        pane = lab.window("serve", project)
        lab.tmux(
            "send-keys", "-t", pane, f"opencode serve --port {port} --hostname 127.0.0.1", "Enter"
        )
        s = Served(lab, port, project)

        def up() -> bool | None:
            try:
                s.call("GET", "/session")
                return True
            except OSError:
                return None

        wait_until(up, 60, 0.3)
        yield s
    finally:
        lab.close()


def remote(scanner: Scanner, sid: str, state: State | None = None) -> Agent | None:
    for a in scanner.scan().agents:
        if a.session_id == sid and a.server == "lab" and (state is None or a.state == state):
            return a
    return None


def test_remote_permission_answered_through_the_api(served: Served) -> None:
    """A server's session waiting on a permission is listed as such (exact, from the server),
    once, and answering it through the API lets the tool run."""
    servers = (ServerConfig("lab", served.url),)
    scanner = Scanner(Options(socket_name=served.lab.socket, servers=servers), env=served.lab.env)
    d = served.project
    sid = served.call("POST", f"/session?directory={d}", {})["id"]
    prompt = '[[call:read:{"filePath":"/etc/hostname"}]] read it'
    served.call(
        "POST",
        f"/session/{sid}/prompt_async?directory={d}",
        {"parts": [{"type": "text", "text": prompt}]},
    )
    t0 = time.monotonic()
    agent = wait_until(lambda: remote(scanner, sid, State.PERMISSION), 40, 0.05)
    print(f"remote permission listed {time.monotonic() - t0:.2f} s after the prompt was sent")
    assert scanner.remotes.events["lab"] > 0  # the server's event stream woke the poller
    assert agent.request_id and agent.request_id.startswith("per_")
    assert agent.evidence_state.source == "server" and agent.evidence_state.confidence.value == (
        "certain"
    )
    assert [a.session_id for a in scanner.scan().agents].count(sid) == 1  # no local duplicate
    said = on_server(scanner.remotes, agent, 0)
    assert said == "answered 'Allow once' on server lab"
    wait_until(lambda: remote(scanner, sid, State.IDLE), 40, 0.3)
    messages = served.call("GET", f"/session/{sid}/message")
    tools = [p for m in messages for p in m.get("parts", []) if p.get("type") == "tool"]
    assert tools and tools[0]["state"]["status"] == "completed"


def test_unreachable_server_never_slows_the_local_scan(served: Served) -> None:
    """A server that accepts and never answers is reported once its timeout passes, while
    local scans keep their pace."""
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(8)  # accepts connections, never answers
    port = hole.getsockname()[1]
    try:
        base = Scanner(Options(socket_name=served.lab.socket), env=served.lab.env)
        slow = Scanner(
            Options(
                socket_name=served.lab.socket,
                servers=(ServerConfig("hole", f"http://127.0.0.1:{port}"),),
            ),
            env=served.lab.env,
        )

        def times(scanner: Scanner) -> list[float]:
            out = []
            for _ in range(10):
                t0 = time.monotonic()
                scanner.scan()
                out.append(time.monotonic() - t0)
            return out

        t_base, t_slow = statistics.median(times(base)), statistics.median(times(slow))
        print(
            f"local scan median: {t_base * 1000:.1f} ms; with an unreachable server: "
            f"{t_slow * 1000:.1f} ms"
        )
        assert t_slow < t_base + 0.02
        problems = wait_until(
            lambda: [p.message for p in slow.scan().problems if p.source == "server"] or None,
            10,
            0.3,
        )
        assert "server hole" in problems[0] and "timed out" in problems[0]
    finally:
        hole.close()


def test_remote_busy_session_says_what_it_does(served: Served) -> None:
    """A busy server session shows the tool it runs (from its newest parts), then idle with the
    model's last words."""
    servers = (ServerConfig("lab", served.url),)
    scanner = Scanner(Options(socket_name=served.lab.socket, servers=servers), env=served.lab.env)
    d = served.project
    sid = served.call("POST", f"/session?directory={d}", {})["id"]
    served.call(
        "POST",
        f"/session/{sid}/prompt_async?directory={d}",
        {"parts": [{"type": "text", "text": "[[sh:sleep 6]] run it"}]},
    )
    agent = wait_until(lambda: remote(scanner, sid, State.TOOL), 30, 0.2)
    assert agent.tool == "bash" and "bash" in agent.evidence_state.detail
    idle = wait_until(lambda: remote(scanner, sid, State.IDLE), 40, 0.3)
    assert idle.session is not None and idle.session.brief.title
