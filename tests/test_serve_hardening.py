"""`otop serve` against hostile clients, over real sockets: DNS rebinding, a client that stops
reading its event stream, too many connections, a body smuggling a second request, a
non-ASCII token."""

from __future__ import annotations

import http.client
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otop.cli.parser import main
from otop.core.model import Scan, State
from otop.serve.hub import Hub
from otop.serve.server import OtopServer, serve
from tests.conftest import wait_for
from tests.ui_world import AGENTS, NOW

STATES = itertools.cycle([State.GENERATING, State.TOOL, State.THINKING])


def churning() -> Scan:
    """A scan in which every agent changes state each time: a steady stream of events."""
    state = next(STATES)
    return Scan(NOW, tuple(a._replace(state=state) for a in AGENTS), None)


class Server:
    """An otop server on an ephemeral loopback port over a synthetic, churning world."""

    def __init__(self, token: str | None = None, **kw: object) -> None:
        self.hub = Hub(churning, lambda sid: [], 0.02)
        self.server = OtopServer(("127.0.0.1", 0), self.hub, token, **kw)  # type: ignore[arg-type]
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=serve, args=(self.server,), daemon=True)
        self.thread.start()
        self.hub.ready.wait(5)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, object]:
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        con.request("GET", path, headers=headers or {})
        resp = con.getresponse()
        body = json.loads(resp.read() or b"null")
        con.close()
        return resp.status, body

    def raw(self, data: bytes, wait: float = 1.0) -> bytes:
        """Send raw bytes on one connection; everything the server says within `wait`."""
        s = socket.create_connection(("127.0.0.1", self.port))
        s.sendall(data)
        s.settimeout(wait)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except TimeoutError:
            pass
        s.close()
        return out

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def test_foreign_host_is_refused(server: Server) -> None:
    """A request naming another host (a web page rebound to 127.0.0.1) gets 421 as JSON, while
    loopback names and the bound address are served."""
    status, body = server.get("/agents", {"Host": f"attacker.example:{server.port}"})
    assert status == 421 and isinstance(body, dict) and "Host" in str(body["error"])
    for host in ("localhost", "127.0.0.1", "[::1]"):
        status, body = server.get("/agents", {"Host": f"{host}:{server.port}"})
        assert status == 200 and isinstance(body, dict) and body["agents"], host
    no_host = server.raw(b"GET /agents HTTP/1.0\r\n\r\n")
    assert no_host.startswith(b"HTTP/1.1 421")
    # HTTP/1.1 makes Host mandatory: a request without one is malformed (RFC 9112, 3.2).
    malformed = server.raw(b"GET /agents HTTP/1.1\r\nConnection: close\r\n\r\n")
    assert malformed.startswith(b"HTTP/1.1 400 Bad Request") and b"Host" in malformed


def test_allow_host_adds_a_name() -> None:
    """--allow-host NAME is answered too."""
    s = Server(allow_hosts=("otop.lan",))
    try:
        assert s.get("/health", {"Host": "otop.lan:80"})[0] == 200
        assert s.get("/health", {"Host": "other.lan"})[0] == 421
    finally:
        s.stop()


@pytest.mark.slow
def test_a_client_that_stops_reading_is_dropped(server: Server) -> None:
    """An /events client that never reads neither stalls /agents nor the other clients; it is
    dropped once it falls behind."""
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", server.port))
    slow.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    wait_for(lambda: len(server.hub.subscribers) == 1, what="the slow subscriber")
    fast = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    fast.request("GET", "/events")
    stream = fast.getresponse()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(server.hub.subscribers) > 1:
            t0 = time.monotonic()
            assert server.get("/agents")[0] == 200
            assert time.monotonic() - t0 < 1.0
            stream.fp.readline()  # the other client keeps getting its events
        assert len(server.hub.subscribers) == 1, "the slow client was never dropped"
        got = b"".join(stream.fp.readline() for _ in range(20))
        assert b"event: state" in got
    finally:
        fast.close()
        slow.close()


def test_connections_beyond_the_cap_get_503() -> None:
    """Connections past the cap are answered 503 at once, and served again once one closes."""
    s = Server(max_connections=2)
    idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(2)]
    try:
        time.sleep(0.2)
        assert s.raw(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").startswith(b"HTTP/1.1 503")
        idle.pop().close()
        wait_for(lambda: s.get("/health")[0] == 200, what="a free slot")
    finally:
        for c in idle:
            c.close()
        s.stop()


def test_a_body_is_never_a_second_request(server: Server) -> None:
    """A POST's body holding a request of its own is read as a body: one answer only."""
    smuggled = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    out = server.raw(
        b"POST /agents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n%s"
        % (len(smuggled), smuggled)
    )
    assert out.startswith(b"HTTP/1.1 405")
    assert out.count(b"HTTP/1.1 ") == 1


def test_non_ascii_token_is_401() -> None:
    """A non-ASCII bearer token is a wrong token (401), not a traceback."""
    s = Server(token="sekrit")
    try:
        out = s.raw(
            "GET /agents HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
            "s\u00e9krit\r\nConnection: close\r\n\r\n".encode("latin-1")
        )
        assert out.startswith(b"HTTP/1.1 401")
        assert s.get("/agents", {"Authorization": "Bearer sekrit"})[0] == 200
    finally:
        s.stop()


def test_token_file_errors_and_help(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--token-file must exist and hold a token; --help warns that --token shows in `ps`."""
    assert main(["serve", "--token-file", str(tmp_path / "missing")]) == 2
    assert "cannot read --token-file" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.write_text("\n")
    assert main(["serve", "--token-file", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "ps" in capsys.readouterr().out
