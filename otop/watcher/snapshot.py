"""The watcher's latest scan, published as a file for one-shot commands to answer from at once.

The watcher scans every second anyway; `otop list --json` would otherwise start from nothing
and look again. The file lives in the private runtime directory (the user's own, 0700), is
replaced atomically, and carries the database it was read from; it counts only while its
watcher holds its lock and has touched it within FRESH seconds.

Its layout lets `list --json` answer without a JSON parser (whose import alone costs more than
the answer): a line of numbers, the database path, one line per problem, then the `list --json
--all` document (plus its problems) as bytes, with where each agent starts and ends and whether
the default listing shows it; `print_listing` prints that answer. This module imports only `os`,
`sys`, `time`, otop.watcher.runtime and (to answer) otop.sources.opencode.paths.
"""

from __future__ import annotations

import os
import sys
import time

from otop.watcher.runtime import (
    RuntimeDirError,
    holder,
    lock_path,
    open_private,
    private_file,
    server_alive,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from otop.core.model import Scan

FRESH = 2.5
# The popup's first frame is painted over by its own scan a moment later, so an older document
# will do there: a loaded machine stretches the watcher's beat (it keeps under ~5 % of a core).
FIRST_FRAME_FRESH = 15.0
MAGIC = b"otop-snapshot 2 "


def snapshot_path(socket_path: str) -> str:
    return private_file("snapshot", socket_path, ".bin")


def _replace(path: str, data: bytes) -> None:
    """Write a file of the runtime directory whole: readers see the old one or the new one."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def pack(
    db_path: str | None, doc: dict[str, Any], listed: list[bool], problems: list[str]
) -> bytes:
    """The file's bytes for a `list --json` document (its agents last), which of its agents
    the default listing shows, and the scan's problems."""
    from otop.core.text import json_text

    head = json_text({k: v for k, v in doc.items() if k != "agents"}).encode()
    body = bytearray(head[:-1] + b', "agents": [')
    numbers = [len(body)]
    for i, agent in enumerate(doc["agents"]):
        piece = json_text(agent).encode()
        if i:
            body += b", "
        numbers += [len(body), len(body) + len(piece), int(listed[i])]
        body += piece
    body += b"]"
    body += b', "problems": ' + json_text(problems).encode() + b"}"
    db = b"" if db_path is None else os.fsencode(os.path.normpath(db_path))
    lines = [
        " ".join(
            str(n) for n in (-1 if db_path is None else len(db), len(problems), *numbers)
        ).encode()
    ]
    return MAGIC + b"\n".join([*lines, db, *(_line(p) for p in problems)]) + b"\n" + bytes(body)


def _line(problem: str) -> bytes:
    """A problem as one line, cleaned for a terminal (it may quote paths and server words)."""
    from otop.core.text import clean_lines

    return " ".join(clean_lines(problem).split()).encode()


def publish(socket_path: str, data: bytes, last: bytes = b"") -> bytes:
    """Write the packed scan, or, when it is what was written `last`, only mark it as fresh
    (one utime a beat). Returns what the file now holds."""
    path = snapshot_path(socket_path)
    if data == last and os.path.isfile(path):
        os.utime(path)
    else:
        _replace(path, data)
    return data


class Packed:
    """A published scan, taken apart without parsing its JSON."""

    def __init__(self, raw: bytes, pid: int, age: float) -> None:
        self.pid, self.age = pid, age
        if not raw.startswith(MAGIC):
            raise ValueError("not a snapshot of this otop")
        end = raw.index(b"\n")
        n = [int(x) for x in raw[len(MAGIC) : end].split()]
        db_len, n_problems, self.agents_open = n[:3]
        self.spans = [(n[i], n[i + 1], n[i + 2] == 1) for i in range(3, len(n), 3)]
        pos = end + 1
        self.db: bytes | None = None
        if db_len >= 0:
            self.db = raw[pos : pos + db_len]
            pos += db_len
        if raw[pos : pos + 1] != b"\n":
            raise ValueError("snapshot cut short")
        lines = raw[pos + 1 :].split(b"\n", n_problems)
        self.problems = [line.decode(errors="replace") for line in lines[:n_problems]]
        self.body = lines[n_problems]
        if len(n) % 3 or any(not 0 < a <= b <= len(self.body) for a, b, _ in self.spans):
            raise ValueError("snapshot spans out of range")

    def of(self, db_path: str) -> bool:
        return self.db == os.fsencode(os.path.normpath(db_path))

    def stamp(self) -> str:
        return f'{{"watcher_pid": {self.pid}, "age_ms": {int(self.age * 1000)}}}'

    def listing(self, show_all: bool) -> bytes:
        """`list --json` (with `--all`, or as the default listing shows them), as bytes."""
        chunks = [self.body[a:b] for a, b, listed in self.spans if show_all or listed]
        return (
            self.body[: self.agents_open]
            + b", ".join(chunks)
            + b'], "snapshot": '
            + self.stamp().encode()
            + b"}"
        )


def _load(socket_path: str, now: float | None, fresh: float) -> Packed | None:
    """The published scan, if its watcher lives and it is fresh."""
    try:
        path = snapshot_path(socket_path)
        pid = holder(lock_path(socket_path))
        if pid is None or not server_alive(socket_path):
            return None
        fd = open_private(path, os.O_RDONLY)
        with os.fdopen(fd, "rb") as f:
            age = (time.time() if now is None else now) - os.fstat(f.fileno()).st_mtime
            raw = f.read()
    except (OSError, RuntimeDirError):
        return None
    if not 0 <= age <= fresh:
        return None
    try:
        return Packed(raw, pid, age)
    except (ValueError, IndexError):
        return None


def listing(
    socket_path: str, db_path: str, show_all: bool, now: float | None = None
) -> tuple[bytes, list[str]] | None:
    """`otop list --json` from the running watcher's scan, and the problems it met; None when
    there is no fresh one for this tmux server and database."""
    packed = _load(socket_path, now, FRESH)
    if packed is None or not packed.of(db_path):
        return None
    return packed.listing(show_all), packed.problems


def read(
    socket_path: str, db_path: str, now: float | None = None, fresh: float = FRESH
) -> dict[str, Any] | None:
    """The published document (every agent, and the scan's problems), if its watcher lives,
    it is fresh and of the same database; with a `snapshot` entry saying how old it is and
    whose it is."""
    import json

    packed = _load(socket_path, now, fresh)
    if packed is None or not packed.of(db_path):
        return None
    try:
        doc = json.loads(packed.body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    doc["snapshot"] = json.loads(packed.stamp())
    return doc


def socket_of(socket_name: str | None, socket_path: str | None, env: dict[str, str]) -> str:
    """The socket file a tmux target names, worked out without asking tmux."""
    if socket_path:
        return socket_path
    if not socket_name and env.get("TMUX"):
        return env["TMUX"].split(",")[0]
    base = env.get("TMUX_TMPDIR") or "/tmp"
    return os.path.join(base, f"tmux-{os.getuid()}", socket_name or "default")


def frame_path(socket_path: str) -> str:
    """The popup's first frame, drawn by the watcher (otop/outputs/preframe.py) for `cat` to show at
    once when prefix+O opens the popup, before Python has even started."""
    return private_file("frame", socket_path, ".ans")


def publish_frame(socket_path: str, text: str) -> None:
    path = frame_path(socket_path)
    _replace(path, text.encode())


def marks_path(socket_path: str) -> str:
    return private_file("attention", socket_path, ".json")


def publish_marks(socket_path: str, marks: dict[str, Any]) -> None:
    """The watcher's attention marks (otop/decide/attention.py), replaced atomically."""
    import json

    _replace(marks_path(socket_path), json.dumps(marks).encode())


def read_marks(socket_path: str, watching: bool = True) -> object:
    """The marks a watcher left; with `watching`, only while that watcher still runs (a dead
    watcher's marks would never clear). None when there are none."""
    import json

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
    marks = read_marks(socket_path)
    if marks is None:  # no watcher: nothing to mark (and otop.decide.attention need not load)
        return scan
    from otop.decide.attention import apply, read_view

    return apply(scan, read_view(marks))


def marks_stamp(socket_path: str) -> float:
    """When the marks last changed (a cheap probe for `otop serve`); 0 without any."""
    try:
        return os.stat(marks_path(socket_path)).st_mtime
    except (OSError, RuntimeDirError):
        return 0.0


def print_listing(
    socket_name: str | None, socket_path: str | None, db: str | None, show_all: bool
) -> bool:
    """Print `list --json` from the watcher's scan; False (nothing printed) without a fresh
    one for this tmux server and database."""
    from otop.sources.opencode.paths import db_file

    sock = socket_of(socket_name, socket_path, dict(os.environ))
    found = listing(sock, db_file(os.environ, db), show_all)
    if found is None:
        return False
    text, problems = found
    for p in problems:
        sys.stderr.write(f"otop: {p}\n")
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(text + b"\n")
        sys.stdout.buffer.flush()
    except BrokenPipeError:  # `| head`: nothing more to say, and no traceback on the way out
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return True
