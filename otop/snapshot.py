"""The watcher's latest scan, published as a file for one-shot commands to answer from at once.

The watcher scans every second anyway; `otop list --json` would otherwise start from nothing
and look again. The file lives in the private runtime directory (the user's own, 0700), is
replaced atomically, and carries the database it was read from; it counts only while its
watcher holds its lock and has touched it within FRESH seconds.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from otop.runtime import (
    RuntimeDirError,
    holder,
    lock_path,
    open_private,
    runtime_dir,
    server_alive,
)

if TYPE_CHECKING:
    from otop.model import Scan

FRESH = 2.5
# The popup's first frame is painted over by its own scan a moment later, so an older document
# will do there: a loaded machine stretches the watcher's beat (it keeps under ~5 % of a core).
FIRST_FRAME_FRESH = 15.0


def snapshot_path(socket_path: str) -> Path:
    return runtime_dir() / ("snapshot" + socket_path.replace("/", "%") + ".json")


def _replace(path: Path, data: bytes) -> None:
    """Write a file of the runtime directory whole: readers see the old one or the new one."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def publish(socket_path: str, db_path: str | None, doc: dict[str, Any], last: bytes = b"") -> bytes:
    """Write the document, or, when it is what was written `last`, only mark it as fresh
    (one utime a beat). Returns what the file now holds."""
    path = snapshot_path(socket_path)
    body = json.dumps({"db": db_path, "doc": doc}, ensure_ascii=False).encode()
    if body == last and path.is_file():
        os.utime(path)
        return body
    _replace(path, body)
    return body


def read(socket_path: str, db_path: str, now: float | None = None,
         fresh: float = FRESH) -> dict[str, Any] | None:  # fmt: skip
    """The published document, if its watcher lives, it is fresh and of the same database;
    with a `snapshot` entry saying how old it is and whose it is."""
    try:
        path = snapshot_path(socket_path)
        pid = holder(lock_path(socket_path))
        if pid is None or not server_alive(socket_path):
            return None
        fd = open_private(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            age = (time.time() if now is None else now) - os.fstat(f.fileno()).st_mtime
            raw = f.read()
    except OSError:
        return None
    if not 0 <= age <= fresh:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("db") != db_path:
        return None
    doc = data.get("doc")
    if not isinstance(doc, dict):
        return None
    doc["snapshot"] = {"watcher_pid": pid, "age_ms": int(age * 1000)}
    return doc


def socket_of(socket_name: str | None, socket_path: str | None, env: dict[str, str]) -> str:
    """The socket file a tmux target names, worked out without asking tmux."""
    if socket_path:
        return socket_path
    if not socket_name and env.get("TMUX"):
        return env["TMUX"].split(",")[0]
    base = env.get("TMUX_TMPDIR") or "/tmp"
    return os.path.join(base, f"tmux-{os.getuid()}", socket_name or "default")


def frame_path(socket_path: str) -> Path:
    """The popup's first frame, drawn by the watcher (otop/preframe.py) for `cat` to show at
    once when prefix+O opens the popup, before Python has even started."""
    return runtime_dir() / ("frame" + socket_path.replace("/", "%") + ".ans")


def publish_frame(socket_path: str, text: str) -> None:
    path = frame_path(socket_path)
    _replace(path, text.encode())


def marks_path(socket_path: str) -> Path:
    return runtime_dir() / ("attention" + socket_path.replace("/", "%") + ".json")


def publish_marks(socket_path: str, marks: dict[str, Any]) -> None:
    """The watcher's attention marks (otop/attention.py), replaced atomically."""
    path = marks_path(socket_path)
    _replace(path, json.dumps(marks).encode())


def read_marks(socket_path: str, watching: bool = True) -> object:
    """The marks a watcher left; with `watching`, only while that watcher still runs (a dead
    watcher's marks would never clear). None when there are none."""
    try:
        if watching and holder(lock_path(socket_path)) is None:
            return None
        fd = open_private(marks_path(socket_path), os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            raw = f.read(4_000_000)
        return json.loads(raw)
    except (OSError, ValueError, RuntimeDirError):
        return None


def marked(scan: Scan, socket_path: str) -> Scan:
    """A scan with the running watcher's unseen marks and seen times (none without one)."""
    from otop.attention import apply, read_view

    return apply(scan, read_view(read_marks(socket_path)))


def marks_stamp(socket_path: str) -> float:
    """When the marks last changed (a cheap probe for `otop serve`); 0 without any."""
    try:
        return marks_path(socket_path).stat().st_mtime
    except (OSError, RuntimeDirError):
        return 0.0
