"""A hostile or broken opencode server, as a real misbehaving HTTP server on loopback: every
bad answer becomes a problem of that server, nothing crashes, and no password goes to another
host."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otop.core.model import Agent
from otop.decide.agents import server_agents
from otop.scan.scanner import Options, Scanner
from otop.sources.opencode.remote import Client, Remotes, View, fetch
from otop.sources.opencode.served import sessions
from otop.sources.opencode.servers import ServerConfig

GOOD_LIST = b'[{"id":"ses_abc","title":"ok","time":{"updated":1}}]'


def ok(body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


ANSWERS: dict[str, bytes] = {
    "invalid json": ok(b"{oops"),
    "nan": ok(b'[{"id":"ses_abc","cost":NaN}]'),
    "infinity": ok(b"Infinity"),
    "deep": ok(b"[" * 200000),
    "huge": b"HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n" + b" " * 9_000_000,
    "not http": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "truncated": b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n" + GOOD_LIST,
    "escapes": ok(
        b'[{"id":"ses_\\u001b]2;pwn\\u0007","title":"x"},{"id":"ses_ok","title":"\\u001b[31mred","time":{"updated":9999999999999}}]'
    ),
    "slow drip": b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
}


class Hostile(socketserver.ThreadingTCPServer):
    """Answers every request with the bytes of its current mode; records what it was sent."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__((host, 0), _Handler)
        self.mode = "invalid json"
        self.requests: list[bytes] = []
        self.redirect_to = ""
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(socketserver.BaseRequestHandler):
    server: Hostile

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        self.server.requests.append(data)
        mode = self.server.mode
        if mode == "redirect":
            where = self.server.redirect_to.encode() + b"/session"
            self.request.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % where
            )
        elif mode == "slow drip":
            self.request.sendall(ANSWERS[mode])
            for _ in range(100):  # a byte a second: each read is quick, the whole is not
                time.sleep(0.05)
                try:
                    self.request.sendall(b" ")
                except OSError:
                    return
        else:
            self.request.sendall(ANSWERS[mode])
        self.request.shutdown(socket.SHUT_WR)


def agents(view: View, now: float) -> list[Agent]:
    """The server's agents as a scan makes them: its JSON read, then decided."""
    return server_agents(view.config.name, view.config.url, sessions(view), now)


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    h = Hostile()
    yield h
    h.shutdown()
    h.server_close()


@pytest.mark.parametrize("mode", [m for m in ANSWERS if m != "escapes"])
def test_bad_answers_become_problems(hostile: Hostile, mode: str) -> None:
    """Invalid JSON, NaN, Infinity, nesting past the recursion limit, a huge body, a status
    line that is not HTTP, a truncated body, a slow drip past the deadline: each is an error
    of that server's view in plain words, never an exception."""
    hostile.mode = mode
    client = Client(ServerConfig("h", hostile.url), timeout=1.0)
    t0 = time.monotonic()
    view = fetch(client)
    assert view.error, mode
    assert "\n" not in view.error and "\x1b" not in view.error
    assert agents(view, time.time()) == []
    assert time.monotonic() - t0 < 3.0  # one deadline for the whole request


def test_escapes_in_ids_and_titles(hostile: Hostile) -> None:
    """An id carrying escape bytes is not a session; a title's escapes are removed."""
    hostile.mode = "escapes"
    view = fetch(Client(ServerConfig("h", hostile.url), timeout=1.0))
    assert view.error is None
    got = agents(view, time.time())
    assert [a.session_id for a in got] == ["ses_ok"]
    assert got[0].session is not None and got[0].session.brief.title == "red"


def test_redirect_is_not_followed_and_keeps_the_password(hostile: Hostile) -> None:
    """A redirect to another host is not followed, so the basic-auth password never reaches
    it; the redirect is reported."""
    other = Hostile("127.0.0.2")
    try:
        other.mode = "invalid json"
        hostile.mode = "redirect"
        hostile.redirect_to = other.url
        view = fetch(Client(ServerConfig("h", hostile.url, password="sekrit"), timeout=1.0))
        assert view.error and "redirected" in view.error
        assert b"Authorization: Basic" in hostile.requests[0]
        assert other.requests == []
    finally:
        other.shutdown()
        other.server_close()


def test_plain_http_password_to_another_host_is_warned() -> None:
    """A password over plain http to a host that is not loopback is warned about; https or
    loopback are not."""
    assert Client(ServerConfig("a", "http://10.1.2.3:4096", "pw")).warning
    assert Client(ServerConfig("b", "https://box:4096", "pw")).warning is None
    assert Client(ServerConfig("c", "http://127.0.0.1:4096", "pw")).warning is None
    assert Client(ServerConfig("d", "http://10.1.2.3:4096")).warning is None


def test_a_scan_goes_on_beside_a_hostile_server(
    hostile: Hostile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a server answering garbage, scans keep working and name the server's problem."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    hostile.mode = "deep"
    cfg = ServerConfig("bad", hostile.url)
    scanner = Scanner(Options(use_tmux=False, servers=(cfg,)))
    scanner.remotes = Remotes([cfg], interval=0.2, timeout=1.0)
    try:
        scanner.wait_for_servers()
        for mode in ("nan", "not http", "escapes", "huge"):
            hostile.mode = mode
            asked = time.time()
            deadline = time.monotonic() + 5
            while not all(v.at > asked for v in scanner.remotes.latest()):  # asked again
                assert time.monotonic() < deadline, "the poller never asked again"
                time.sleep(0.02)
            scan = scanner.scan()
            assert any(p.source == "server" for p in scan.problems) or mode == "escapes"
        assert all(t.is_alive() for t in threading.enumerate() if "otop-server-bad" in t.name)
    finally:
        scanner.close()
