"""opencode 2's per-user service, read through its HTTP API: where it listens (service.json in
the state directory, the user's own and private, or refused), then its sessions, which ones
run, and for the sessions panes show, their newest messages and pending requests.

What it sends is hostile input: ids are checked, answers capped (otop/sources/opencode/remote.py),
and the JSON is turned into records by otop/sources/opencode/current.py. The password is sent
to the service's own loopback URL alone, never printed."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from otop.core.net import loopback
from otop.sources.opencode.current import SESSION, pending
from otop.sources.opencode.remote import Client, ServerError
from otop.sources.opencode.servers import ServerConfig

SERVICE_FILE = "service.json"
# How many of the newest root sessions are read to find the ones panes show.
RECENT_SESSIONS = 100
NEWEST_MESSAGES = 12
_MOST_BYTES = 64 * 1024


class ServiceError(Exception):
    """The service cannot be read: the message says why, in plain words."""


@dataclass(frozen=True)
class Where:
    """Where a service listens, and how to be let in (never printed)."""

    url: str
    pid: int
    version: str
    password: str = field(repr=False)


def locate(state_dir: str) -> Where:
    """The service of a state directory, from its service.json: refused unless it is this
    user's, not readable by others, and names a loopback http URL."""
    path = os.path.join(state_dir, SERVICE_FILE)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise ServiceError(f"no opencode service is running ({path} is missing)") from None
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if info.st_uid != os.getuid():
            raise ServiceError(f"{path} is not yours: not read")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise ServiceError(f"{path} can be read by others (mode not 600): not read")
        raw = f.read(_MOST_BYTES)
    try:
        doc = json.loads(raw)
    except ValueError:
        raise ServiceError(f"{path} is not JSON") from None
    if not isinstance(doc, dict):
        raise ServiceError(f"{path} is not a service description")
    url, pid, password = doc.get("url"), doc.get("pid"), doc.get("password")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "http" or not loopback(parts.hostname or ""):
        raise ServiceError(f"{path} names no loopback http URL: not used")
    if not isinstance(pid, int) or not isinstance(password, str):
        raise ServiceError(f"{path} names no service process and password")
    return Where(str(url), pid, str(doc.get("version") or "?"), password)


@dataclass
class Seen:
    """What one look at a service found: its root sessions (JSON), which run, and for the
    sessions asked about, their newest messages and pending permissions and forms."""

    sessions: list[Mapping[str, Any]]
    active: set[str]
    messages: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    permissions: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    forms: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)


class Service:
    """One service's API, with what was read of each session kept until it changes."""

    def __init__(self, where: Where, timeout: float = 2.0) -> None:
        self.where = where
        self.client = Client(ServerConfig("service", where.url, where.password), timeout)
        self._messages: dict[str, tuple[object, list[Mapping[str, Any]]]] = {}

    def look(self) -> Seen:
        """The root sessions it lists (newest first) and the ones it runs now."""
        try:
            listed = self._data(f"/api/session?limit={RECENT_SESSIONS}&order=desc")
            active = self._data("/api/session/active")
        except ServerError as exc:
            raise ServiceError(f"opencode service at {self.where.url}: {exc}") from None
        sessions = [s for s in listed if isinstance(s, Mapping)] if isinstance(listed, list) else []
        running = {str(k) for k in active} if isinstance(active, Mapping) else set()
        return Seen(sessions, running)

    def closer(self, seen: Seen, wanted: Iterable[str]) -> None:
        """For the sessions panes show: their newest messages (read again only when the session
        changed, or runs) and, for those that run, their pending permissions and forms."""
        stamps = {str(s.get("id")): s.get("time") for s in seen.sessions}
        for sid in {w for w in wanted if SESSION.match(w)} & stamps.keys():
            running = sid in seen.active
            try:
                seen.messages[sid] = self._newest(sid, stamps[sid], running)
                if running:
                    seen.permissions[sid] = self._list(f"/api/session/{sid}/permission")
                    seen.forms[sid] = self._list(f"/api/session/{sid}/form")
            except ServerError:
                continue  # a session gone between two requests: the next look says so
        self._messages = {k: v for k, v in self._messages.items() if k in stamps}

    def history(self, sid: str, limit: int) -> list[Mapping[str, Any]]:
        """A session's newest `limit` messages, newest first."""
        try:
            return self._list(f"/api/session/{_checked(sid)}/message?limit={max(1, limit)}")
        except ServerError as exc:
            raise ServiceError(f"opencode service at {self.where.url}: {exc}") from None

    def _newest(self, sid: str, stamp: object, running: bool) -> list[Mapping[str, Any]]:
        kept = self._messages.get(sid)
        if kept is not None and kept[0] == stamp and not running:
            return kept[1]
        fresh = self._list(f"/api/session/{sid}/message?limit={NEWEST_MESSAGES}")
        self._messages[sid] = (stamp, fresh)
        return fresh

    def _list(self, path: str) -> list[Mapping[str, Any]]:
        data = self._data(path)
        return [m for m in data if isinstance(m, Mapping)] if isinstance(data, list) else []

    def _data(self, path: str) -> Any:
        doc = self.client.get(path)
        return doc.get("data") if isinstance(doc, Mapping) else None

    # -- acting (otop/actions/service.py) -------------------------------------------------

    def pending(self, sid: str, kind: str) -> list[Mapping[str, Any]]:
        """A session's pending permissions (`kind` "permission") or forms ("form")."""
        return self._list(f"/api/session/{_checked(sid)}/{kind}")

    def decide(self, sid: str, permission: str, decision: str) -> None:
        """Answer a pending permission: once, always or reject."""
        path = f"/api/session/{_checked(sid)}/permission/{_request(permission, 'per_')}/reply"
        self._send(path, {"decision": decision})

    def answer(self, sid: str, form: str, answer: Mapping[str, object]) -> None:
        """Answer a pending form (a question): its fields' keys to the values chosen."""
        path = f"/api/session/{_checked(sid)}/form/{_request(form, 'frm_')}/reply"
        self._send(path, {"answer": dict(answer)})

    def prompt(self, sid: str, text: str, queued: bool) -> str:
        """Send a session its next prompt (queued behind a running turn, when `queued`); the
        id of the message the service made of it."""
        body: dict[str, object] = {"text": text, **({"delivery": "queue"} if queued else {})}
        doc = self._send(f"/api/session/{_checked(sid)}/prompt", body)
        made = doc.get("data") if isinstance(doc, Mapping) else None
        mid = made.get("id") if isinstance(made, Mapping) else None
        if not isinstance(mid, str) or not mid.startswith("msg_"):
            raise ServiceError("the service answered the prompt with no message: not sent?")
        return mid

    def _send(self, path: str, body: object) -> Any:
        try:
            return self.client.post(path, body)
        except ServerError as exc:
            raise ServiceError(f"opencode service at {self.where.url}: {exc}") from None


def _checked(sid: str) -> str:
    if not SESSION.match(sid):
        raise ServiceError(f"not a session id: {sid!r}")
    return sid


def _request(rid: str, prefix: str) -> str:
    if pending([{"id": rid}], prefix) != rid:
        raise ServiceError(f"not a request id: {rid!r}")
    return rid
