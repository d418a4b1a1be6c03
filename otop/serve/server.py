"""`otop serve`: the scans over HTTP as JSON, and state changes as Server-Sent Events.

The standard library's threading HTTP server is enough here: four GET routes are a table
lookup, and an SSE stream is a loop writing `data:` frames to one connection, so otop keeps
to its chosen packages. One thread scans; requests only read its latest result.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import queue
import re
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from otop import __version__
from otop.core.model import Group, Scan
from otop.core.net import host_name, is_ip
from otop.core.text import clean
from otop.outputs.render import agent_json, document, ordered, visible
from otop.sources.opencode.rows import HistoryEntry

SESSION_ID = re.compile(r"^ses_[0-9A-Za-z]{1,64}$")
KEEPALIVE = 15.0
# A client that stops reading its event stream is dropped once this many events wait for it.
QUEUE_LIMIT = 100
# Every connection's socket gives up after this long without progress.
SOCKET_TIMEOUT = 10.0
MAX_CONNECTIONS = 32
MAX_BODY = 64 * 1024
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_BUSY_BODY = b'{"error": "too many connections", "status": 503}'
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class Subscriber:
    """One event-stream client: a bounded queue, and a flag once it fell too far behind."""

    def __init__(self) -> None:
        self.queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=QUEUE_LIMIT)
        self.dropped = threading.Event()


class Hub:
    """Scans on a beat in one thread; keeps the latest document; fans out state changes."""

    def __init__(
        self,
        scan: Callable[[], Scan],
        history: Callable[[str], list[HistoryEntry]],
        interval: float = 2.0,
        changes: Callable[[], object] | None = None,
        beat: float = 0.25,
    ) -> None:
        self._scan = scan
        self.history = history
        self.interval = interval
        # With `changes` (the watcher's cheap probes), a change is scanned within one beat
        # instead of waiting for the interval, which stays as the floor for what no probe
        # sees (screens, CPU).
        self.changes = changes
        self.beat = beat
        self.scans = 0
        self.lock = threading.Lock()
        self.scan: Scan | None = None
        self.doc: dict[str, Any] = {
            "version": 1,
            "generated_at": None,
            "agents": [],
            "problems": [],
        }
        self.states: dict[str, tuple[str, str | None]] = {}
        self.subscribers: list[Subscriber] = []
        self.stopped = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        last_sig: object = None
        last_scan = 0.0
        while not self.stopped.is_set():
            sig = self.changes() if self.changes is not None else None
            now = time.monotonic()
            if sig != last_sig or now - last_scan >= self.interval or self._working():
                last_sig, last_scan = sig, now
                self.step()
            self.stopped.wait(self.beat if self.changes is not None else self.interval)

    def _working(self) -> bool:
        """Working agents change without notice to the probes (a tool's output, a screen)."""
        with self.lock:
            scan = self.scan
        return scan is not None and any(a.group == Group.WORKING for a in scan.agents)

    def step(self) -> None:
        self.scans += 1
        try:
            scan = self._scan()
        except Exception as exc:  # a scan must never take the server down
            with self.lock:
                self.doc = {**self.doc, "problems": [f"scan failed: {exc}"]}
            self.ready.set()
            return
        agents = ordered(a for a in scan.agents if visible(a, False))
        doc = document(scan, agents)
        doc["problems"] = [p.message for p in scan.problems]
        events = []
        now_states: dict[str, tuple[str, str | None]] = {}
        for a, js in zip(agents, doc["agents"], strict=True):  # type: ignore[call-overload]
            key = a.session_id or a.key
            now_states[key] = (a.state.value, a.tool)
            before = self.states.get(key)
            if before != now_states[key]:
                events.append(
                    {"type": "state", "previous": before[0] if before else None, "agent": js}
                )
        for key, (state, _) in self.states.items():
            if key not in now_states:
                events.append({"type": "gone", "previous": state, "key": key})
        with self.lock:
            self.scan, self.doc, self.states = scan, doc, now_states
            subscribers = list(self.subscribers)
        for sub in subscribers:
            for e in events:
                try:
                    sub.queue.put_nowait(e)
                except queue.Full:
                    # Never wait for a slow reader: it would stall every other client.
                    sub.dropped.set()
                    self.unsubscribe(sub)
                    break
        self.ready.set()

    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        with self.lock:
            self.subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self.lock:
            if sub in self.subscribers:
                self.subscribers.remove(sub)

    def agent(self, session_id: str) -> dict[str, Any] | None:
        """One agent with its todos and last messages, or None when no agent shows it."""
        with self.lock:
            scan = self.scan
        if scan is None:
            return None
        for a in scan.agents:
            if a.session_id == session_id:
                out = agent_json(a, scan.generated_at)
                out["last_messages"] = [_message(e) for e in self.history(session_id)[-20:]]
                return out
        return None


def _message(e: HistoryEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "role": e.role,
        "created_at": int(e.created_at * 1000),
        "model": clean(e.model) or None,
        "output_tokens": e.tokens_output,
        "error": clean(e.error) or None,
        "parts": [
            {"type": p.kind, "text": p.text, "tool": p.tool or None, "status": p.status or None}
            for p in e.parts
        ],
    }


class Handler(BaseHTTPRequestHandler):
    """The routes; every answer is JSON (or an event stream), errors included."""

    server: OtopServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT  # on the connection's socket: a silent client is let go
    ROUTES = ("/health", "/agents", "/events")

    def log_message(self, format: str, *args: object) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _json(self, status: int, body: object, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: HTTPStatus, text: str, extra: dict[str, str] | None = None) -> None:
        self._json(status.value, {"error": text, "status": status.value}, extra)

    def _known(self, path: str) -> bool:
        return path in self.ROUTES or path.startswith("/agents/")

    def _authorized(self) -> bool:
        token = self.server.token
        if not token:
            return True
        got = self.headers.get("Authorization", "")
        if not got.startswith("Bearer "):
            return False
        # Bytes on both sides: a non-ASCII token is a wrong token, not a TypeError.
        given = got[7:].strip().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, token.encode("utf-8", "surrogateescape"))

    def _host_allowed(self) -> bool:
        """DNS rebinding: a web page's requests carry its own name in Host; only this
        machine's loopback names, the bound address and --allow-host names are answered."""
        name = host_name(self.headers.get("Host"))
        if name is None:
            return False
        allowed = self.server.allowed_hosts
        return name in allowed or (self.server.wildcard and is_ip(name))

    def _guard(self) -> bool:
        """Host, then token; answers and returns False when the request may not go on."""
        if not self._host_allowed():
            self._error(
                HTTPStatus.MISDIRECTED_REQUEST, "this Host is not served here (see --allow-host)"
            )
            return False
        if not self._authorized():
            self._error(
                HTTPStatus.UNAUTHORIZED,
                "a bearer token is required",
                {"WWW-Authenticate": "Bearer"},
            )
            return False
        return True

    def _drain_body(self) -> None:
        """Read a request's body so it is never taken for the next request; one that is too
        large or of unknown length closes the connection instead."""
        length = self.headers.get("Content-Length")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        if chunked or (length is not None and not length.strip().isdigit()):
            self.close_connection = True
            return
        n = int(length or 0)
        if n > MAX_BODY:
            self.close_connection = True
            return
        if n:
            self.rfile.read(n)

    def _not_get(self) -> None:
        self._drain_body()
        if not self._guard():
            return
        path = self.path.split("?", 1)[0]
        if self._known(path):
            self._error(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{self.command} is not allowed here",
                {"Allow": "GET"},
            )
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_get

    def do_GET(self) -> None:
        self._drain_body()
        path = self.path.split("?", 1)[0]
        if not self._guard():
            return
        hub = self.server.hub
        if path == "/health":
            with hub.lock:
                doc = hub.doc
            health = {
                "ok": True,
                "version": __version__,
                "generated_at": doc.get("generated_at"),
                "agents": len(doc["agents"]),
                "problems": doc["problems"],
            }
            self._json(200, health)
        elif path == "/agents":
            with hub.lock:
                doc = hub.doc
            self._json(200, doc)
        elif path.startswith("/agents/"):
            sid = path[len("/agents/") :]
            if not SESSION_ID.match(sid):
                self._error(HTTPStatus.BAD_REQUEST, "not a session id (ses_...)")
                return
            agent = hub.agent(sid)
            if agent is None:
                self._error(HTTPStatus.NOT_FOUND, f"no running agent shows session {sid}")
            else:
                self._json(200, agent)
        elif path == "/events":
            self._events()
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")

    def _events(self) -> None:
        hub = self.server.hub
        sub = hub.subscribe()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b": otop event stream\n\n")
            self.wfile.flush()
            sent = time.monotonic()
            while not hub.stopped.is_set() and not sub.dropped.is_set():
                try:
                    event = sub.queue.get(timeout=min(KEEPALIVE, 1.0))
                except queue.Empty:
                    if time.monotonic() - sent >= KEEPALIVE:
                        self.wfile.write(b": keepalive\n\n")
                        sent = time.monotonic()
                else:
                    data = json.dumps(event, ensure_ascii=False)
                    self.wfile.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
                    sent = time.monotonic()
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
        finally:
            hub.unsubscribe(sub)
            self.close_connection = True


class OtopServer(ThreadingHTTPServer):
    """The HTTP server with its hub and token, a cap on connections and the Host names it
    answers."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        hub: Hub,
        token: str | None,
        verbose: bool = False,
        allow_hosts: tuple[str, ...] = (),
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        super().__init__(address, Handler)
        self.hub = hub
        self.token = token
        self.verbose = verbose
        bound = str(address[0]).lower()
        self.wildcard = bound in ("0.0.0.0", "::", "")
        self.allowed_hosts = frozenset({*LOOPBACK_NAMES, bound, *(h.lower() for h in allow_hosts)})
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Refuse at once, with a 503, a connection beyond the cap."""
        if not self.slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


def serve(server: OtopServer) -> None:
    """Run the hub and the server until interrupted."""
    t = threading.Thread(target=server.hub.run, daemon=True)
    t.start()
    server.hub.ready.wait(10)
    try:
        server.serve_forever(poll_interval=0.25)
    finally:
        server.hub.stopped.set()
        server.server_close()
