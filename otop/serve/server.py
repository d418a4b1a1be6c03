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
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from otop import __version__
from otop.core.net import host_name, is_ip
from otop.serve.hub import Hub

SESSION_ID = re.compile(r"^ses_[0-9A-Za-z]{1,64}$")
KEEPALIVE = 15.0
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
