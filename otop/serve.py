"""`otop serve`: the scans over HTTP as JSON, and state changes as Server-Sent Events.

The standard library's threading HTTP server is enough here: four GET routes are a table
lookup, and an SSE stream is a loop writing `data:` frames to one connection, so otop keeps
to its chosen packages. One thread scans; requests only read its latest result.
"""

from __future__ import annotations

import hmac
import ipaddress
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
from otop.model import Scan
from otop.opencode.rows import HistoryEntry
from otop.render import agent_json, document, ordered, visible
from otop.text import clean

SESSION_ID = re.compile(r"^ses_[0-9A-Za-z]{1,64}$")
KEEPALIVE = 15.0


def loopback(host: str) -> bool:
    """Whether a bind address only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Hub:
    """Scans on a beat in one thread; keeps the latest document; fans out state changes."""

    def __init__(
        self,
        scan: Callable[[], Scan],
        history: Callable[[str], list[HistoryEntry]],
        interval: float = 2.0,
    ) -> None:
        self._scan = scan
        self.history = history
        self.interval = interval
        self.lock = threading.Lock()
        self.scan: Scan | None = None
        self.doc: dict[str, Any] = {"version": 1, "generated_at": None, "agents": [],
                                    "problems": []}  # fmt: skip
        self.states: dict[str, tuple[str, str | None]] = {}
        self.subscribers: list[queue.Queue[dict[str, Any]]] = []
        self.stopped = threading.Event()
        self.ready = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.step()
            self.stopped.wait(self.interval)

    def step(self) -> None:
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
                events.append({"type": "state", "previous": before[0] if before else None,
                               "agent": js})  # fmt: skip
        for key, (state, _) in self.states.items():
            if key not in now_states:
                events.append({"type": "gone", "previous": state, "key": key})
        with self.lock:
            self.scan, self.doc, self.states = scan, doc, now_states
            subscribers = list(self.subscribers)
        for q in subscribers:
            for e in events:
                q.put(e)
        self.ready.set()

    def subscribe(self) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=1000)
        with self.lock:
            self.subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[dict[str, Any]]) -> None:
        with self.lock:
            if q in self.subscribers:
                self.subscribers.remove(q)

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
        return got.startswith("Bearer ") and hmac.compare_digest(got[7:].strip(), token)

    def _not_get(self) -> None:
        path = self.path.split("?", 1)[0]
        if self._known(path):
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not allowed here",
                        {"Allow": "GET"})  # fmt: skip
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path: {path}")

    do_POST = do_PUT = do_DELETE = do_PATCH = _not_get

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if not self._authorized():
            self._error(HTTPStatus.UNAUTHORIZED, "a bearer token is required",
                        {"WWW-Authenticate": "Bearer"})  # fmt: skip
            return
        hub = self.server.hub
        if path == "/health":
            with hub.lock:
                doc = hub.doc
            health = {"ok": True, "version": __version__, "generated_at": doc.get("generated_at"),
                      "agents": len(doc["agents"]), "problems": doc["problems"]}  # fmt: skip
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
        q = hub.subscribe()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b": otop event stream\n\n")
            self.wfile.flush()
            while not hub.stopped.is_set():
                try:
                    event = q.get(timeout=KEEPALIVE)
                except queue.Empty:
                    self.wfile.write(b": keepalive\n\n")
                else:
                    data = json.dumps(event, ensure_ascii=False)
                    self.wfile.write(f"event: {event['type']}\ndata: {data}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            hub.unsubscribe(q)
            self.close_connection = True


class OtopServer(ThreadingHTTPServer):
    """The HTTP server with its hub and token."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub: Hub, token: str | None,
                 verbose: bool = False) -> None:  # fmt: skip
        super().__init__(address, Handler)
        self.hub = hub
        self.token = token
        self.verbose = verbose


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
        time.sleep(0)
