"""`otop serve` under load, on 127.0.0.1 only and bounded: 1,000 idle connections and 100
event streams held open while /health is timed 200 times (p99 under 100 ms), then one state
change reaches every event stream within a second."""

from __future__ import annotations

import selectors
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from otop.core.model import Scan, State
from otop.serve.hub import Hub
from otop.serve.server import OtopServer, allow_open_files, serve
from tests.ui_world import AGENTS, NOW

IDLE, STREAMS, PROBES = 1000, 100, 200
pytestmark = pytest.mark.slow


@dataclass
class World:
    state: State = State.GENERATING

    def scan(self) -> Scan:
        return Scan(NOW, (AGENTS[1]._replace(state=self.state),), None)


@pytest.fixture
def running() -> Iterator[tuple[World, OtopServer]]:
    allow_open_files(2 * (IDLE + STREAMS) + 256)  # both ends of every connection live here
    world = World()
    hub = Hub(world.scan, lambda sid: [], 0.05)
    server = OtopServer(("127.0.0.1", 0), hub, None)
    thread = threading.Thread(target=serve, args=(server,), daemon=True)
    thread.start()
    hub.ready.wait(5)
    yield world, server
    server.shutdown()
    thread.join(5)


def health(port: int) -> tuple[float, bytes]:
    """One /health on a fresh connection: seconds taken, the status line."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return time.perf_counter() - t0, out.split(b"\r\n", 1)[0]


def test_health_answers_at_once_beside_idle_and_streaming_clients(
    running: tuple[World, OtopServer],
) -> None:
    world, server = running
    port = int(server.server_address[1])
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(IDLE)]
    streams = [socket.create_connection(("127.0.0.1", port)) for _ in range(STREAMS)]
    try:
        for s in streams:
            s.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        deadline = time.monotonic() + 10
        while len(server.hub.subscribers) < STREAMS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(server.hub.subscribers) == STREAMS
        times = []
        for _ in range(PROBES):
            took, status = health(port)
            assert status == b"HTTP/1.1 200 OK"
            times.append(took)
        p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
        print(
            f"/health beside {IDLE} idle and {STREAMS} streams: p50 {p50 * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
        )
        assert p99 < 0.100
        assert server.connections == IDLE + STREAMS  # every one still held

        for s in streams:  # what the streams were sent so far: read and forgotten
            s.setblocking(False)
            with pytest.raises(BlockingIOError):
                while s.recv(65536):
                    pass
        world.state = State.PERMISSION
        t0 = time.monotonic()
        assert told(streams, b'"state": "permission"', 1.0) == STREAMS
        print(f"a state change reached all {STREAMS} streams in {time.monotonic() - t0:.3f} s")
    finally:
        for s in idle + streams:
            s.close()


def told(streams: list[socket.socket], needle: bytes, within: float) -> int:
    """How many streams were sent `needle` within `within` seconds."""
    sel = selectors.DefaultSelector()
    seen: dict[socket.socket, bytes] = {}
    for s in streams:
        sel.register(s, selectors.EVENT_READ)
    end = time.monotonic() + within
    done: set[socket.socket] = set()
    while len(done) < len(streams) and (left := end - time.monotonic()) > 0:
        for key, _ in sel.select(left):
            stream = key.fileobj
            assert isinstance(stream, socket.socket)
            seen[stream] = seen.get(stream, b"") + stream.recv(65536)
            if needle in seen[stream]:
                done.add(stream)
                sel.unregister(stream)
    sel.close()
    return len(done)
