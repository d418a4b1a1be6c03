"""The one background watcher per tmux server: scans when something changed, sets tmux options.

It feeds `@otop_status` (global) and `@otop_badge` (per window) so that the status line never
spawns a process to redraw: tmux redraws attached clients itself when an option changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO

from otop.model import Group, Scan
from otop.render import StatusStyle, document, ordered, status_text, visible, window_badges
from otop.scan import Changes, Scanner
from otop.tmux import Tmux, TmuxError, literal

STATUS_OPTION = "@otop_status"
BADGE_OPTION = "@otop_badge"
PID_OPTION = "@otop_watcher_pid"
# Even when nothing seems to change, look properly this often (stale turns, moved panes).
FULL_SCAN_EVERY = 10.0


class RuntimeDirError(Exception):
    """The runtime directory is not a private one of this user: said in one line."""


def runtime_dir() -> Path:
    """A private directory for lock and log files: $XDG_RUNTIME_DIR/otop, else /tmp/otop-UID,
    which must be this user's own directory, mode 0700 and not a symlink (in /tmp anybody can
    make it first)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    d = Path(base) / "otop" if base else Path(f"/tmp/otop-{os.getuid()}")
    try:
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise RuntimeDirError(f"cannot make the runtime directory {d}: {exc.strerror}") from None
    st = os.lstat(d)
    why = None
    if stat.S_ISLNK(st.st_mode):
        why = "is a symlink"
    elif not stat.S_ISDIR(st.st_mode):
        why = "is not a directory"
    elif st.st_uid != os.getuid():
        why = f"belongs to uid {st.st_uid}, not to you (uid {os.getuid()})"
    elif st.st_mode & 0o077:
        why = f"is open to others (mode {stat.S_IMODE(st.st_mode):o}, not 700)"
    if why:
        raise RuntimeDirError(f"refusing the runtime directory {d}: it {why}")
    return d


def open_private(path: Path, flags: int) -> int:
    """Open a file of the runtime directory without following a symlink planted there."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)


def is_watcher(pid: int) -> bool:
    """Whether a pid (read from a lock file) is this user's own `otop watch` process."""
    import psutil

    try:
        p = psutil.Process(pid)
        argv = p.cmdline()
        mine = p.uids().real == os.getuid()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return mine and "watch" in argv and any("otop" in os.path.basename(a) or a == "otop"
                                            for a in argv)  # fmt: skip


def server_alive(socket_path: str) -> bool:
    """Whether a tmux server answers on its socket (tmux 3.3a leaves the file after
    kill-server, so the file existing says nothing)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    try:
        s.connect(socket_path)
    except OSError:
        return False
    finally:
        s.close()
    return True


def lock_path(socket_path: str) -> Path:
    """The lock file that makes a watcher the only one for its tmux server."""
    return runtime_dir() / ("watch" + socket_path.replace("/", "%") + ".lock")


class AlreadyRunning(Exception):
    """Another watcher holds the lock for this tmux server."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(f"a watcher already runs for this tmux server (pid {pid or '?'})")
        self.pid = pid


def take_lock(path: Path) -> IO[str]:
    """Hold the watcher lock for as long as the returned file stays open."""
    fd = open_private(path, os.O_RDWR | os.O_CREAT)
    f = os.fdopen(fd, "r+", encoding="utf-8")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        text = f.read().strip()
        f.close()
        raise AlreadyRunning(int(text) if text.isdigit() else None) from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def holder(path: Path) -> int | None:
    """The pid of the watcher holding a lock, or None when nobody holds it."""
    try:
        f = os.fdopen(open_private(path, os.O_RDONLY), encoding="utf-8")
    except OSError:
        return None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = f.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(f, fcntl.LOCK_UN)
        return None


@dataclass
class Outputs:
    """What the watcher last told tmux."""

    status: str | None = None
    badges: dict[str, str] | None = None


def plan(old: Outputs, status: str, badges: dict[str, str]) -> list[list[str]]:
    """The tmux commands that turn the old outputs into the new ones (none when equal).

    A window closed meanwhile fails its command; `push` then goes on one command at a time.
    """
    cmds: list[list[str]] = []
    if status != old.status:
        cmds.append(["set-option", "-gq", STATUS_OPTION, status])
    before = old.badges or {}
    for wid, badge in sorted(badges.items()):
        if before.get(wid) != badge:
            cmds.append(["set-option", "-wq", "-t", wid, BADGE_OPTION, badge])
    for wid in sorted(before.keys() - badges.keys()):
        cmds.append(["set-option", "-wqu", "-t", wid, BADGE_OPTION])
    return cmds


class Watcher:
    """Scan on change (or on a slow beat), render, and push only differences to tmux."""

    def __init__(
        self,
        scanner: Scanner,
        tmux: Tmux,
        style: Callable[[], tuple[StatusStyle, bool, float]],
        socket_path: str,
    ) -> None:
        self.scanner = scanner
        self.tmux = tmux
        self.read_style = style
        self.socket_path = socket_path
        self.style, self.badges_on, self.interval = style()
        self.changes = Changes(scanner)
        self.out = Outputs()
        self.scan: Scan | None = None
        self.signature: tuple[object, ...] | None = None
        self.last_full = 0.0
        self.scans = 0
        self.pushes = 0
        self._reload = False
        self._stop = False

    # -- change detection ---------------------------------------------------------------

    def probe(self) -> tuple[object, ...]:
        """Cheap facts whose change means a scan could tell something new."""
        return self.changes.signature()

    def busy(self) -> bool:
        """Working agents change without notice (screens, CPU): keep scanning them."""
        return self.scan is not None and any(a.group == Group.WORKING for a in self.scan.agents)

    # -- one beat -------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> bool:
        """Look (scan only if due), then push what changed; False once tmux is gone."""
        if self._reload:
            self._reload = False
            self.style, self.badges_on, self.interval = self.read_style()
            self.out = Outputs()  # repaint everything in the new style
        if not server_alive(self.socket_path):
            return False
        mono = time.monotonic()
        sig = self.probe()
        if (
            self.scan is None
            or sig != self.signature
            or self.busy()
            or mono - self.last_full >= FULL_SCAN_EVERY
        ):
            self.scan = self.scanner.scan()
            self.scans += 1
            self.signature = sig
            self.last_full = mono
        self.publish(self.scan)
        return self.push(self.scan, time.time() if now is None else now)

    def publish(self, scan: Scan) -> None:
        """Leave the scan where one-shot commands find it (otop/snapshot.py)."""
        from otop import snapshot

        doc = document(scan, ordered(scan.agents))
        doc["problems"] = [p.message for p in scan.problems]
        with contextlib.suppress(OSError, RuntimeDirError):  # then commands scan themselves
            snapshot.publish(self.socket_path, scan.db_path, doc)

    def push(self, scan: Scan, now: float) -> bool:
        agents = [a for a in scan.agents if visible(a, False)]
        status = status_text(agents, self.style)
        badges = window_badges(agents, now, self.style) if self.badges_on else {}
        cmds = plan(self.out, status, badges)
        if not cmds:
            return True
        try:
            self.tmux.chain(cmds)
        except TmuxError as exc:
            if not server_alive(self.socket_path) or "no server" in str(exc):
                return False
            # A window closed between the scan and now: push one by one, skipping failures.
            for c in cmds:
                try:
                    self.tmux.cmd(*map(literal, c))
                except TmuxError:
                    continue
        self.pushes += 1
        self.out = Outputs(status, badges)
        return True

    # -- life -----------------------------------------------------------------------------

    def run(self) -> int:
        """Beat until tmux goes away or a signal asks to stop."""
        signal.signal(signal.SIGHUP, self._on_hup)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_term)
        while not self._stop:
            started = time.monotonic()
            if not self.tick():
                break
            spent = time.monotonic() - started
            end = started + max(self.interval, spent * 20)  # never more than ~5% of a core
            asked = time.monotonic()
            while not self._stop and not self._reload and time.monotonic() < end:
                time.sleep(min(0.25, max(0.0, end - time.monotonic())))
                if time.monotonic() - asked >= 0.75:  # leave within a second of the server
                    asked = time.monotonic()
                    if not server_alive(self.socket_path):
                        self._stop = True
        self.scanner.close()
        return 0

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True
