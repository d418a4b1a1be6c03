"""opencode's log: which run (process) touched which session, and what it is asking for."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import Any

from otop.core.model import LogRun

_PAIR = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)')
# 1.14 and older: one file per process, named after its UTC start time.
_PER_PROCESS_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{6})\.log$")
_OLD_LINE = re.compile(r"^(?:INFO|WARN|ERROR|DEBUG)\s+(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")

# Lines that mean a run is working on a session again, so an earlier question was answered.
_WORK = {"loop", "process", "stream", "exiting loop", "evaluated", "touching file", "created"}

# How far before the oldest live process to start reading a large log.
_BACKTRACK = 300.0
_CHUNK = 1 << 16
# How many bytes before where a reader stopped are kept with it, to know the file again.
_TAIL = 64


def parse_time(stamp: str) -> float | None:
    """An ISO timestamp (with or without Z or fractions) as epoch seconds (UTC)."""
    s = stamp.strip().strip('"')
    if s.endswith("Z"):
        s = s[:-1]
    whole, _, fraction = s.partition(".")
    if len(whole) == 19 and fraction.isdigit() and len(fraction) <= 6:
        # A log's lines share their seconds: each whole second is parsed once.
        base = _SECONDS.get(whole)
        if base is None:
            seconds = _parse(whole)
            if seconds is None:
                return None
            if len(_SECONDS) > 4096:
                _SECONDS.clear()
            base = _SECONDS[whole] = int(seconds)
        # As datetime counts: whole microseconds, divided once.
        return (base * 1_000_000 + int(fraction.ljust(6, "0"))) / 1_000_000
    return _parse(s)


_SECONDS: dict[str, int] = {}


def _parse(s: str) -> float | None:
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        try:
            dt = datetime.strptime(s, "%Y-%m-%dT%H%M%S")
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def parse_pairs(line: str) -> dict[str, str]:
    """The key=value pairs of one logfmt line, quotes removed."""
    out: dict[str, str] = {}
    for key, value in _PAIR.findall(line):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1].replace('\\"', '"')
        out[key] = value
    return out


class _RunBuilder:
    """One run's lines folded so far (frozen into a LogRun at the end)."""

    def __init__(self, run_id: str, started_at: float, source: str = "opencode.log") -> None:
        self.run_id = run_id
        self.started_at = started_at
        self.source = source
        self.directory: str | None = None
        self.sessions: dict[str, float] = {}
        self.created: list[str] = []
        self.last_line_at = 0.0
        self.pending_ask: str | None = None
        self.pending_ask_at: float | None = None

    def kept(self) -> list[object]:
        """Its fields, in the order `of` reads them (sessions in order of last mention)."""
        return [
            self.run_id,
            self.started_at,
            self.source,
            self.directory,
            self.sessions,
            self.created,
            self.last_line_at,
            self.pending_ask,
            self.pending_ask_at,
        ]

    @classmethod
    def of(cls, fields: list[Any]) -> _RunBuilder:
        """A builder again from what `kept` gave (raises ValueError or TypeError if it is not)."""
        run_id, started_at, source, directory, sessions, created, last, ask, ask_at = fields
        run = cls(str(run_id), float(started_at), str(source))
        run.directory = None if directory is None else str(directory)
        run.sessions = {str(sid): float(ts) for sid, ts in dict(sessions).items()}
        run.created = [str(sid) for sid in created]
        run.last_line_at = float(last)
        run.pending_ask = None if ask is None else str(ask)
        run.pending_ask_at = None if ask_at is None else float(ask_at)
        return run

    def see_session(self, sid: str, ts: float) -> None:
        self.sessions.pop(sid, None)
        self.sessions[sid] = ts

    def freeze(self) -> LogRun:
        ordered = tuple(self.sessions)
        return LogRun(
            run_id=self.run_id,
            started_at=self.started_at,
            directory=self.directory,
            sessions=ordered,
            created=tuple(self.created),
            last_line_at=self.last_line_at,
            pending_ask=self.pending_ask,
            pending_ask_at=self.pending_ask_at,
            last_session_at=self.sessions[ordered[-1]] if ordered else None,
            source=self.source,
        )


def feed_line(runs: dict[str, _RunBuilder], line: str, source: str = "opencode.log") -> None:
    """Fold one line of the shared (1.18) log into the runs it describes."""
    if not line.startswith("timestamp="):
        return
    if _only_a_time(runs, line, source):
        return
    pairs = parse_pairs(line)
    run_id = pairs.get("run")
    ts = parse_time(pairs.get("timestamp", ""))
    if not run_id or ts is None:
        return
    run = runs.get(run_id)
    if run is None:
        run = runs[run_id] = _RunBuilder(run_id=run_id, started_at=ts, source=source)
    _apply(run, pairs, ts)


def _only_a_time(runs: dict[str, _RunBuilder], line: str, source: str) -> bool:
    """Most lines name no session, directory or question: of those, only their time counts
    (for their run's first and last line), read off the fixed head opencode writes them
    with (`timestamp=... level=... run=...`) without splitting the rest into pairs. True when
    the line was folded so; False for a line that needs all its pairs read."""
    if "ses_" in line or "directory=" in line or "asking" in line:
        return False
    head = line.split(" ", 3)
    if len(head) < 3 or not head[1].startswith("level=") or not head[2].startswith("run="):
        return False
    run_id, ts = head[2][4:], parse_time(head[0][10:])
    run = runs.get(run_id)
    if not run_id or run_id.startswith('"') or ts is None or (run and run.pending_ask):
        return False  # a line may answer a pending question: its message decides
    if run is None:
        run = runs[run_id] = _RunBuilder(run_id=run_id, started_at=ts, source=source)
    run.last_line_at = max(run.last_line_at, ts)
    run.started_at = min(run.started_at, ts)
    return True


def _apply(run: _RunBuilder, pairs: dict[str, str], ts: float) -> None:
    run.last_line_at = max(run.last_line_at, ts)
    run.started_at = min(run.started_at, ts)
    message = pairs.get("message", "")
    if run.directory is None and pairs.get("directory"):
        run.directory = pairs["directory"]
    sid = pairs.get("session.id") or pairs.get("sessionID")
    if message == "created" and pairs.get("id", "").startswith("ses_"):
        sid = pairs["id"]
        run.created.append(sid)
    if sid and sid.startswith("ses_"):
        run.see_session(sid, ts)
    if message == "asking" and pairs.get("id"):
        run.pending_ask = pairs["id"]
        run.pending_ask_at = ts
    elif (
        run.pending_ask
        and (message in _WORK or sid)
        and (run.pending_ask_at is None or ts >= run.pending_ask_at)
    ):
        run.pending_ask = None
        run.pending_ask_at = None


class SharedLog:
    """Incremental reader of the shared `opencode.log` (1.18 and newer)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._offset = 0
        self._inode: int | None = None
        self._since: float | None = None
        self._rest = b""
        self._runs: dict[str, _RunBuilder] = {}
        self.bytes_read = 0

    @property
    def exists(self) -> bool:
        return os.path.isfile(self.path)

    def update(self, since: float) -> list[LogRun]:
        """Read what was appended; on first use start near `since` (epoch s) in a long file."""
        try:
            st = os.stat(self.path)
        except OSError:
            self._runs.clear()
            self._inode = None
            return []
        if (
            self._inode != st.st_ino
            or st.st_size < self._offset
            or (self._since is not None and since < self._since - 1.0)
        ):
            self._inode = st.st_ino
            self._runs.clear()
            self._rest = b""
            self._offset = self._seek(since - _BACKTRACK, st.st_size)
            self._since = since
        if st.st_size > self._offset:
            self._read(st.st_size)
        # Runs that ended before the oldest live process started cannot be anyone's now.
        for rid in [k for k, r in self._runs.items() if r.last_line_at < since - _BACKTRACK]:
            del self._runs[rid]
        return [r.freeze() for r in self._runs.values()]

    def kept(self) -> dict[str, object] | None:
        """Where this reader is and the runs it folded so far, for the next one-shot to go on
        from (None before it read anything)."""
        if self._inode is None or self._since is None:
            return None
        try:
            tail = self._tail(self._offset)
        except OSError:
            return None
        return {
            "inode": self._inode,
            "offset": self._offset,
            "tail": tail.decode("latin-1"),
            "since": self._since,
            "rest": self._rest.decode("latin-1"),  # bytes, one for one
            "runs": [run.kept() for run in self._runs.values()],
        }

    def take_up(self, state: dict[str, Any]) -> bool:
        """Go on from where a one-shot's reader stopped, when it read this very file (same
        inode, not shorter than where it stopped)."""
        try:
            st = os.stat(self.path)
            inode, offset = int(state["inode"]), int(state["offset"])
            if inode != st.st_ino or not 0 <= offset <= st.st_size:
                return False
            if self._tail(offset) != str(state["tail"]).encode("latin-1"):
                return False  # another file made where the old one was, its inode reused
            runs = [_RunBuilder.of(fields) for fields in state["runs"]]
            since, rest = float(state["since"]), str(state["rest"]).encode("latin-1")
        except (OSError, ValueError, TypeError, KeyError, UnicodeError):
            return False
        self._inode, self._offset, self._since, self._rest = inode, offset, since, rest
        self._runs = {run.run_id: run for run in runs}
        return True

    def _tail(self, offset: int) -> bytes:
        """The bytes just before an offset: what tells this file from another at that inode."""
        start = max(0, offset - _TAIL)
        with open(self.path, "rb") as f:
            f.seek(start)
            return f.read(offset - start)

    def _read(self, size: int) -> None:
        with open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read(size - self._offset)
        self._offset += len(data)
        self.bytes_read += len(data)
        data = self._rest + data
        lines = data.split(b"\n")
        self._rest = lines.pop()  # an unfinished last line waits for its end
        for raw in lines:
            feed_line(self._runs, raw.decode("utf-8", "replace"))

    def _seek(self, since: float, size: int) -> int:
        """Offset of a line start whose time is about `since`, by binary search on timestamps."""
        if size < 4 * _CHUNK:
            return 0
        lo, hi = 0, size
        with open(self.path, "rb") as f:
            while hi - lo > _CHUNK:
                mid = (lo + hi) // 2
                f.seek(mid)
                f.readline()
                ts = None
                for _ in range(8):
                    line = f.readline()
                    if not line:
                        break
                    m = re.match(rb"timestamp=(\S+)", line)
                    if m:
                        ts = parse_time(m.group(1).decode("ascii", "replace"))
                        break
                if ts is None or ts >= since:
                    hi = mid
                else:
                    lo = mid
            f.seek(lo)
            if lo:
                f.readline()
            return f.tell()


def read_process_log(path: str | os.PathLike[str], max_bytes: int = 4 << 20) -> LogRun | None:
    """One per-process log file of opencode 1.14 and older, as a run."""
    path = os.fspath(path)
    name = os.path.basename(path)
    m = _PER_PROCESS_NAME.match(name)
    started = parse_time(m.group(1)) if m else None
    try:
        size = os.stat(path).st_size
        with open(path, "rb") as f:
            if size > max_bytes:
                f.seek(size - max_bytes)
                f.readline()
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    run = _RunBuilder(run_id=os.path.splitext(name)[0], started_at=started or 0.0, source=path)
    for line in text.splitlines():
        om = _OLD_LINE.match(line)
        ts = parse_time(om.group(1)) if om else None
        if ts is None:
            continue
        pairs = parse_pairs(line)
        tail = line.rsplit(" ", 1)[-1] if "=" not in line.rsplit(" ", 1)[-1] else ""
        if tail and "message" not in pairs:
            pairs["message"] = tail
        if "created" in line.split() and pairs.get("id", "").startswith("ses_"):
            pairs["message"] = "created"
        _apply(run, pairs, ts)
    if started is None:
        run.started_at = run.started_at or 0.0
    return run.freeze()


def is_per_process_log(path: str) -> bool:
    """Whether an open file is a per-process opencode log (1.14 and older)."""
    name = os.path.basename(path)
    return os.sep + "log" + os.sep in path and bool(_PER_PROCESS_NAME.match(name))
