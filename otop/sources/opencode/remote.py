"""opencode servers (`opencode serve`, here or on other hosts) through their HTTP API.

Their state is the server's own word (`/session/status`, `/permission`, `/question`), so it is
exact. Each server is polled in one background thread: a scan only reads the latest answer,
so a slow or unreachable server never slows the local scan.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from otop.core.net import loopback
from otop.core.text import clean
from otop.sources.opencode.servers import ServerConfig


class ServerError(Exception):
    """A server's answer that cannot be used, in plain words."""


# An answer larger than this is not read (a session list of thousands is well under it).
MAX_ANSWER = 8 << 20


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """A server's JSON, refusing NaN and Infinity and nesting too deep to parse."""
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ServerError("unreadable answer: JSON nested too deep") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServerError(f"unreadable answer: {exc}") from None


class Client:
    """One server's HTTP API: redirects are never followed (a password never goes to another
    host), answers are capped in size, and one deadline covers the whole request."""

    def __init__(
        self, config: ServerConfig, timeout: float = 3.0, token: str | None = None
    ) -> None:
        self.config = config
        self.timeout = timeout
        self.token = token  # a bearer token (`otop serve`), instead of opencode's password
        u = urlsplit(config.url)
        self.https = u.scheme == "https"
        self.host = u.hostname or ""
        self.port = u.port
        self.base = u.path.rstrip("/")
        self.warning: str | None = None
        if config.password and not self.https and not loopback(self.host):
            self.warning = (
                f"server {config.name}: the password goes over plain http to {self.host}"
                " (use https:// or a tunnel)"
            )

    def connect(self, timeout: float) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=timeout)

    def headers(self, accept: str) -> dict[str, str]:
        """Accept, and the basic-auth password when this server has one."""
        out = {"Accept": accept}
        if self.token:
            out["Authorization"] = f"Bearer {self.token}"
        elif self.config.password:
            token = base64.b64encode(f"opencode:{self.config.password}".encode()).decode()
            out["Authorization"] = f"Basic {token}"
        return out

    def open(
        self, method: str, path: str, accept: str, data: bytes | None, timeout: float
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send one request; a redirect or an error status raises ServerError."""
        conn = self.connect(timeout)
        headers = self.headers(accept)
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, self.base + path, body=data, headers=headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ServerError(_words(exc)) from None
        if 300 <= resp.status < 400:
            conn.close()
            where = clean(resp.getheader("Location") or "?")
            raise ServerError(f"redirected (HTTP {resp.status}) to {where}: not followed")
        if resp.status >= 400:
            conn.close()
            if resp.status == 401:
                hint = "check the token" if self.token else "set OTOP_SERVER_PASSWORD_<NAME>"
                raise ServerError(f"401 unauthorized ({hint})")
            raise ServerError(f"HTTP {resp.status} {clean(resp.reason)}")
        return conn, resp

    def _request(self, method: str, path: str, body: object = None) -> Any:
        deadline = time.monotonic() + self.timeout
        data = json.dumps(body).encode() if body is not None else None
        conn, resp = self.open(method, path, "application/json", data, self.timeout)
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ServerError(f"unreachable: no whole answer in {self.timeout:g} s")
                if conn.sock is not None:
                    conn.sock.settimeout(left)
                chunk = resp.read1(65536)
                if not chunk:
                    if resp.length:  # the connection closed before the announced length
                        raise ServerError("unreadable answer: cut short")
                    break
                size += len(chunk)
                if size > MAX_ANSWER:
                    raise ServerError(f"answer larger than {MAX_ANSWER >> 20} MB: not read")
                chunks.append(chunk)
        except (OSError, http.client.HTTPException) as exc:
            raise ServerError(_words(exc)) from None
        finally:
            conn.close()
        raw = b"".join(chunks)
        return parse_json(raw) if raw else None

    def get(self, path: str) -> Any:
        return self._request("GET", path)

    def post(self, path: str, body: object) -> Any:
        return self._request("POST", path, body)

    def reply(self, permission_id: str, reply: str) -> None:
        """Answer a pending permission: once, always or reject."""
        if not re.match(r"^per_[0-9A-Za-z]+$", permission_id):
            raise ValueError(f"not a permission id: {permission_id!r}")
        self._request("POST", f"/permission/{permission_id}/reply", {"reply": reply})


def _words(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "unreachable: timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "unreadable answer: cut short"
    if isinstance(exc, http.client.HTTPException):
        return f"not an HTTP answer ({type(exc).__name__})"
    if isinstance(exc, OSError):
        return f"unreachable: {clean(exc.strerror or str(exc))}"
    return f"unreadable answer: {clean(str(exc))}"


def describe(exc: BaseException) -> str:
    """A request failure in plain words."""
    if isinstance(exc, ServerError):
        return str(exc)
    return _words(exc)


@dataclass(frozen=True)
class View:
    """What one server said last, or why it said nothing."""

    config: ServerConfig
    at: float
    error: str | None = None
    sessions: tuple[Mapping[str, Any], ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)
    permissions: tuple[Mapping[str, Any], ...] = ()
    questions: tuple[Mapping[str, Any], ...] = ()
    # newest messages ({info, parts}) of the sessions the server says are busy
    recent: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)


def fetch(client: Client) -> View:
    """Ask one server everything a scan needs (four GETs)."""
    now = time.time()
    try:
        sessions = client.get("/session")
        status = client.get("/session/status")
        permissions = client.get("/permission")
        questions = client.get("/question")
    except (ServerError, OSError, ValueError) as exc:
        return View(client.config, now, describe(exc))

    def rows(x: object) -> tuple[Mapping[str, Any], ...]:
        return tuple(r for r in x if isinstance(r, Mapping)) if isinstance(x, list) else ()

    # What a busy session is doing (tool, reasoning, text) is in its newest message's parts.
    recent: dict[str, tuple[Mapping[str, Any], ...]] = {}
    listed = status.items() if isinstance(status, Mapping) else ()  # busy or retrying
    busy = [sid for sid, v in listed if isinstance(v, Mapping)]
    for sid in busy[:20]:
        if re.match(r"^ses_[0-9A-Za-z]+$", str(sid)):
            try:
                recent[str(sid)] = rows(client.get(f"/session/{sid}/message?limit=2"))
            except (ServerError, OSError, ValueError):
                continue
    return View(
        client.config,
        now,
        sessions=rows(sessions),
        status=status if isinstance(status, Mapping) else {},
        permissions=rows(permissions),
        questions=rows(questions),
        recent=recent,
    )


class Remotes:
    """Every configured server, polled on a beat in one background thread."""

    def __init__(
        self, configs: list[ServerConfig], interval: float = 2.0, timeout: float = 3.0
    ) -> None:
        self.clients = {c.name: Client(c, timeout) for c in configs}
        self.interval = interval
        self.timeout = timeout
        self.views: dict[str, View] = {}
        self.lock = threading.Lock()
        self.started = False
        self._stop = threading.Event()
        # Set by a server's event stream: its poller looks again at once instead of waiting.
        self._wake = {name: threading.Event() for name in self.clients}
        self.events = dict.fromkeys(self.clients, 0)

    def start(self) -> None:
        """One thread per server, so a slow one delays nobody."""
        if self.started:
            return
        self.started = True
        for name, client in self.clients.items():
            for target, kind in ((self._run, "poll"), (self._listen, "events")):
                t = threading.Thread(
                    target=target,
                    args=(name, client),
                    daemon=True,
                    name=f"otop-server-{name}-{kind}",
                )
                t.start()

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float) -> None:
        """Give every server up to `timeout` for a first answer (one-shot commands only)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                if len(self.views) == len(self.clients):
                    return
            time.sleep(0.02)

    def _run(self, name: str, client: Client) -> None:
        wake = self._wake[name]
        while not self._stop.is_set():
            wake.clear()
            try:
                view = fetch(client)
            except Exception as exc:  # a poller that dies silently would look like an answer
                view = View(client.config, time.time(), f"cannot read its answer: {exc!r}")
            with self.lock:
                self.views[name] = view
            wake.wait(self.interval)
            time.sleep(0.05)  # let a burst of events settle into one look

    def _listen(self, name: str, client: Client) -> None:
        """Follow the server's event stream (`/global/event`); each event wakes the poller.
        Polling goes on regardless, so a server without the stream only answers slower."""
        while not self._stop.is_set():
            try:
                conn, resp = client.open("GET", "/global/event", "text/event-stream", None, 60)
                try:
                    while not self._stop.is_set():
                        line = resp.readline(65536)
                        if not line:
                            break
                        if line.startswith(b"data:"):
                            self.events[name] += 1
                            self._wake[name].set()
                finally:
                    conn.close()
            except Exception:  # any failure: polling still answers
                pass
            self._stop.wait(5.0)

    def latest(self) -> list[View]:
        """Each server's newest view; one whose poller has not looked for too long says so."""
        now = time.time()
        late = self.interval * 3 + self.timeout * 5
        with self.lock:
            views = list(self.views.values())
        return [
            v if now - v.at < late else replace(v, error=f"no answer for {now - v.at:.0f} s")
            for v in views
        ]

    def warnings(self) -> list[str]:
        return [c.warning for c in self.clients.values() if c.warning]
