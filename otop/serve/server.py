"""`otop serve`: the scans over HTTP as JSON, and state changes as Server-Sent Events.

One asyncio event loop holds every connection (thousands of idle ones cost a few kilobytes
each, not a thread), and h11 speaks HTTP/1.1 for it: framing, keep-alive and malformed
requests are a protocol library's work, not hand-written parsing. The hub scans in its own
thread; requests only read its latest result, and event streams are woken by it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import re
import resource
import socket
import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import h11

from otop import __version__
from otop.core.net import host_name, is_ip
from otop.serve.hub import Hub, Subscriber

SESSION_ID = re.compile(r"^ses_[0-9A-Za-z]{1,64}$")
KEEPALIVE = 15.0
# A connection that sends nothing of its next request, or takes none of what it was sent, for
# this long is let go.
SOCKET_TIMEOUT = 10.0
MAX_CONNECTIONS = 4096
MAX_BODY = 64 * 1024
MAX_HEAD = 16 * 1024  # a request line and its headers
# An event stream whose unsent output grows past this is a reader that stopped reading.
MAX_UNSENT = 256 * 1024
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
ROUTES = ("/health", "/agents", "/events")
_BUSY_BODY = b'{"error": "too many connections", "status": 503}'
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_BUSY_BODY), _BUSY_BODY)
)


class Answer:
    """A JSON answer: status, body and extra headers."""

    def __init__(self, status: int, body: object, extra: dict[str, str] | None = None) -> None:
        self.status, self.body, self.extra = status, body, extra or {}


def error(status: HTTPStatus, text: str, extra: dict[str, str] | None = None) -> Answer:
    return Answer(status.value, {"error": text, "status": status.value}, extra)


class OtopServer:
    """The listening socket (bound at once, so a taken port is said before anything runs),
    its hub and token, a cap on connections and the Host names it answers."""

    def __init__(
        self,
        address: tuple[str, int],
        hub: Hub,
        token: str | None,
        verbose: bool = False,
        allow_hosts: tuple[str, ...] = (),
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.socket = socket.create_server(address, family=family, backlog=1024)
        self.server_address: tuple[Any, ...] = self.socket.getsockname()
        self.hub = hub
        self.token = token
        self.verbose = verbose
        bound = str(address[0]).lower()
        self.wildcard = bound in ("0.0.0.0", "::", "")
        self.allowed_hosts = frozenset({*LOOPBACK_NAMES, bound, *(h.lower() for h in allow_hosts)})
        self.max_connections = max_connections
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._done = threading.Event()

    def shutdown(self) -> None:
        """Stop serving (from any thread) and wait until it stopped."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)
            self._done.wait(5)

    async def main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self.socket)
        try:
            await self._stop.wait()
        finally:
            server.close()
            self._done.set()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.max_connections:
            await _busy(reader, writer)
            return
        self.connections += 1
        try:
            await Exchange(self, reader, writer).run()
        except (OSError, asyncio.TimeoutError, h11.ProtocolError):
            pass
        finally:
            self.connections -= 1
            writer.close()

    # -- the routes ---------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str]) -> Answer | None:
        """The answer to a request, or None for /events (a stream, not an answer)."""
        path = target.split("?", 1)[0]
        guard = self._guard(headers)
        if guard is not None:
            return guard
        if method != "GET":
            if path in ROUTES or path.startswith("/agents/"):
                return error(
                    HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed here", {"Allow": "GET"}
                )
            return error(HTTPStatus.NOT_FOUND, f"no such path: {path}")
        hub = self.hub
        with hub.lock:
            doc = hub.doc
        if path == "/health":
            health = {
                "ok": True,
                "version": __version__,
                "generated_at": doc.get("generated_at"),
                "agents": len(doc["agents"]),
                "problems": doc["problems"],
            }
            return Answer(200, health)
        if path == "/agents":
            return Answer(200, doc)
        if path.startswith("/agents/"):
            return self._one(path[len("/agents/") :])
        if path == "/events":
            return None
        return error(HTTPStatus.NOT_FOUND, f"no such path: {path}")

    def _one(self, sid: str) -> Answer:
        if not SESSION_ID.match(sid):
            return error(HTTPStatus.BAD_REQUEST, "not a session id (ses_...)")
        agent = self.hub.agent(sid)
        if agent is None:
            return error(HTTPStatus.NOT_FOUND, f"no running agent shows session {sid}")
        return Answer(200, agent)

    def _guard(self, headers: dict[str, str]) -> Answer | None:
        """Host (DNS rebinding: a web page's requests carry its own name; only this machine's
        loopback names, the bound address and --allow-host names are answered), then token."""
        name = host_name(headers.get("host"))
        if name is None or not (name in self.allowed_hosts or (self.wildcard and is_ip(name))):
            return error(
                HTTPStatus.MISDIRECTED_REQUEST, "this Host is not served here (see --allow-host)"
            )
        if not self._authorized(headers.get("authorization", "")):
            bearer = {"WWW-Authenticate": "Bearer"}
            return error(HTTPStatus.UNAUTHORIZED, "a bearer token is required", bearer)
        return None

    def _authorized(self, got: str) -> bool:
        if not self.token:
            return True
        if not got.startswith("Bearer "):
            return False
        # Bytes on both sides: a non-ASCII token is a wrong token, not a TypeError.
        given = got[7:].strip().encode("utf-8", "surrogateescape")
        return hmac.compare_digest(given, self.token.encode("utf-8", "surrogateescape"))


class Exchange:
    """One connection's requests, one after another (keep-alive), each answered in turn."""

    def __init__(
        self, server: OtopServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server, self.reader, self.writer = server, reader, writer
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)

    async def run(self) -> None:
        while True:
            request = await self._request()
            if request is None:
                return
            method, target = request.method.decode("latin-1"), request.target.decode("latin-1")
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers}
            answer = self.server.answer(method, target, headers)
            if self.server.verbose:
                print(f"otop serve: {method} {target}", file=sys.stderr, flush=True)
            if answer is None:
                await self._events()
                return
            if not await self._body_fits(headers):
                answer.extra["Connection"] = "close"
            await self._send_json(answer)
            if self.http.our_state is not h11.DONE or self.http.their_state is not h11.DONE:
                return  # a body left unread, or a connection either side closes
            self.http.start_next_cycle()

    async def _event(self) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        event = self.http.next_event()
        if event is h11.NEED_DATA:
            data = await asyncio.wait_for(self.reader.read(65536), SOCKET_TIMEOUT)
            self.http.receive_data(data)
        return event

    async def _request(self) -> h11.Request | None:
        """The next request's head; None when the client closed or sent something else."""
        while True:
            try:
                event = await self._event()
            except h11.RemoteProtocolError as exc:
                await self._refuse(exc)
                return None
            if isinstance(event, h11.Request):
                return event
            if event is not h11.NEED_DATA:
                return None  # ConnectionClosed, or PAUSED after a closing exchange

    async def _body_fits(self, headers: dict[str, str]) -> bool:
        """Read a request's body, so it is never taken for the next request; one that is too
        large or sent in chunks is left unread, and the connection closes after the answer."""
        length = headers.get("content-length", "0").strip()
        if "transfer-encoding" in headers or not length.isdigit() or int(length) > MAX_BODY:
            return False
        while not isinstance(event := await self._event(), h11.EndOfMessage):
            if isinstance(event, h11.ConnectionClosed):
                return False
        return True

    async def _refuse(self, exc: h11.RemoteProtocolError) -> None:
        """A request h11 cannot parse (no Host on HTTP/1.1, a header too large, ...): 400,
        then the connection closes."""
        if self.http.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        status = HTTPStatus(exc.error_status_hint)
        body = {"error": f"bad request: {exc}", "status": status.value}
        await self._send_json(Answer(status.value, body, {"Connection": "close"}))

    async def _send_json(self, answer: Answer) -> None:
        data = json.dumps(answer.body, ensure_ascii=False).encode()
        head = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(data))),
            *answer.extra.items(),
        ]
        reason = HTTPStatus(answer.status).phrase.encode()
        self._write(h11.Response(status_code=answer.status, headers=head, reason=reason))
        self._write(h11.Data(data=data))
        self._write(h11.EndOfMessage())
        await asyncio.wait_for(self.writer.drain(), SOCKET_TIMEOUT)

    def _write(self, event: h11.Event) -> None:
        out = self.http.send(event)
        if out:
            self.writer.write(out)

    async def _events(self) -> None:
        """The event stream: `state` and `gone` events as the hub makes them, a comment line
        every KEEPALIVE seconds; a reader that stops reading is dropped, never waited for."""
        hub, woken = self.server.hub, asyncio.Event()
        loop = asyncio.get_running_loop()
        sub = hub.subscribe(_waker(loop, woken))
        try:
            head = [
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
                ("Connection", "close"),
            ]
            self._write(h11.Response(status_code=200, headers=head, reason=b"OK"))
            self._write(h11.Data(data=b": otop event stream\n\n"))
            while not hub.stopped.is_set() and not sub.dropped.is_set():
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woken.wait(), KEEPALIVE)
                woken.clear()
                frames = [_frame(e) for e in _taken(sub)] or [b": keepalive\n\n"]
                self._write(h11.Data(data=b"".join(frames)))
                if self.writer.transport.get_write_buffer_size() > MAX_UNSENT:
                    return
                await asyncio.wait_for(self.writer.drain(), SOCKET_TIMEOUT)
        finally:
            hub.unsubscribe(sub)


async def _busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A 503 at once; what the client sends is read until it closes (a second at most), so
    closing never resets the connection before the client read the answer."""

    async def read_all() -> None:
        while await reader.read(MAX_HEAD):
            pass

    with contextlib.suppress(OSError, asyncio.TimeoutError):
        writer.write(BUSY)
        writer.write_eof()
        await asyncio.wait_for(read_all(), 1.0)
    writer.close()


def _waker(loop: asyncio.AbstractEventLoop, woken: asyncio.Event) -> Callable[[], None]:
    """What the hub's thread calls once it queued events for a stream."""

    def wake() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(woken.set)

    return wake


def _taken(sub: Subscriber) -> list[dict[str, Any]]:
    out = []
    while not sub.queue.empty():
        out.append(sub.queue.get_nowait())
    return out


def _frame(event: dict[str, Any]) -> bytes:
    data = json.dumps(event, ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


def allow_open_files(wanted: int) -> None:
    """Raise this process's open-file limit toward `wanted` (macOS starts at 256), as far as
    its hard limit lets it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < top:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (top, hard))


def serve(server: OtopServer) -> None:
    """Run the hub and the server until interrupted or shut down."""
    allow_open_files(server.max_connections + 256)
    t = threading.Thread(target=server.hub.run, daemon=True)
    t.start()
    server.hub.ready.wait(10)
    try:
        asyncio.run(server.main())
    finally:
        server.hub.stopped.set()
        server.socket.close()
