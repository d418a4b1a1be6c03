"""The one background watcher per tmux server: scans when something changed, sets tmux options.

It feeds `@otop_status` (global) and `@otop_badge` (per window) so that the status line never
spawns a process to redraw: tmux redraws attached clients itself when an option changes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

from otop.core.model import Scan
from otop.decide import attention
from otop.outputs.preframe import draw, popup_size
from otop.outputs.render import document, ordered, status_text, visible, window_badges
from otop.outputs.row import row_view
from otop.scan.changes import Changes
from otop.scan.scanner import Scanner
from otop.sources.tmux import Tmux, TmuxError
from otop.sources.tmux_args import literal
from otop.watcher import snapshot
from otop.watcher.notify import Notifier
from otop.watcher.runtime import RuntimeDirError, server_alive

if TYPE_CHECKING:
    from otop.plugin.options import Config

STATUS_OPTION = "@otop_status"
BADGE_OPTION = "@otop_badge"
PID_OPTION = "@otop_watcher_pid"
# What clients show is asked every beat only while a mark waits to be cleared or a change to
# settle; otherwise this often (a scan asks it anyway, in the same tmux command).
CLIENTS_EVERY = 10.0


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
        settings: Callable[[], Config],
        socket_path: str,
        counted: Callable[[int, int, int], None] = lambda beats, scans, pushes: None,
    ) -> None:
        self.scanner = scanner
        self.counted = counted  # told (beats, scans, pushes) after every beat
        self.tmux = tmux
        self.read_settings = settings
        self.socket_path = socket_path
        self.cfg = settings()
        # Unseen marks survive a restart; notifications do not replay (otop/decide/attention.py).
        kept: object = None
        with contextlib.suppress(OSError, RuntimeDirError):
            kept = snapshot.read_marks(socket_path, watching=False)
        self.attention = attention.Attention.from_json(kept, self.cfg.settle)
        self.notifier = Notifier(tmux)
        self.last_clients = 0.0
        self._marks: dict[str, Any] | None = None
        self._marked: tuple[int, object, Scan] | None = None
        self.changes = Changes(scanner)
        self.out = Outputs()
        self.scan: Scan | None = None
        self.beats = 0
        self.scans = 0
        self.pushes = 0
        self._reload = False
        self._stop = False
        self._published = b""
        self._published_scan: Scan | None = None
        self._frame = ""

    # -- one beat -------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> bool:
        """Look (scan only if due), then push what changed; False once tmux is gone."""
        if self._reload:
            self._reload = False
            try:
                self.cfg = self.read_settings()
            except TmuxError:  # the server went away meanwhile (or will be found alive again)
                return server_alive(self.socket_path)
            self.attention.settle = self.cfg.settle
            self.out = Outputs()  # repaint everything in the new style
        if not server_alive(self.socket_path):
            return False
        mono = time.monotonic()
        now = time.time() if now is None else now
        scanned = self.changes.due(self.scan, mono)
        if scanned or self.scan is None:
            self.scan = self.scanner.scan()
            self.scans += 1
        marked = self.attend(self.scan, now, mono, scanned)
        self.publish(marked)
        return self.push(marked, now)

    def attend(self, scan: Scan, now: float, mono: float, scanned: bool) -> Scan:
        """Settle changes, tell the events nobody looks at, keep the marks; the scan marked."""
        if scanned:
            self.last_clients = mono  # the scan's tmux command listed the clients too
        elif self.attention.wants_clients() or mono - self.last_clients >= CLIENTS_EVERY:
            self.tmux.clients()
            self.last_clients = mono
        clients = self.tmux.looking
        agents = [a for a in scan.agents if visible(a, False)]
        for event in self.attention.update(agents, {pane for _, pane in clients}, now):
            self.notifier.tell(event, clients, self.cfg.notify)
        self.notifier.reap()
        marks = self.attention.to_json()
        if marks != self._marks:
            with contextlib.suppress(OSError, RuntimeDirError):
                snapshot.publish_marks(self.socket_path, marks)
            self._marks = marks
        view = self.attention.view()
        if self._marked is None or self._marked[0] != id(scan) or self._marked[1] != view:
            self._marked = (id(scan), view, attention.apply(scan, view))
        return self._marked[2]

    def publish(self, scan: Scan) -> None:
        """Leave the scan where one-shot commands find it (otop/watcher/snapshot.py)."""
        if scan is self._published_scan:  # no new scan this beat: only say it is still fresh
            with contextlib.suppress(OSError, RuntimeDirError):
                os.utime(snapshot.snapshot_path(self.socket_path))
            return
        self._published_scan = scan
        agents = ordered(scan.agents)
        doc = document(scan, agents)
        listed = [visible(a, False) for a in agents]  # the default listing, the popup's view
        data = snapshot.pack(scan.db_path, doc, listed, [p.message for p in scan.problems])
        with contextlib.suppress(OSError, RuntimeDirError):  # then commands scan themselves
            self._published = snapshot.publish(self.socket_path, data, self._published)
        now = scan.generated_at
        shown = [row_view(a, now) for a, ok in zip(agents, listed, strict=True) if ok]
        width, height = popup_size(self.cfg.popup_width, self.cfg.popup_height, self.tmux.sizes)
        frame = draw(shown, now, width, height)
        if frame != self._frame:
            with contextlib.suppress(OSError, RuntimeDirError):
                snapshot.publish_frame(self.socket_path, frame)
                self._frame = frame

    def push(self, scan: Scan, now: float) -> bool:
        agents = [a for a in scan.agents if visible(a, False)]
        status = status_text(agents, self.cfg.style)
        badges = window_badges(agents, now, self.cfg.style) if self.cfg.badges else {}
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
            started, cpu = time.monotonic(), time.process_time()
            if not self.tick():
                break
            self.beats += 1
            with contextlib.suppress(OSError):
                self.counted(self.beats, self.scans, self.pushes)
            # At most ~5 % of a core, counted in CPU time: on a loaded machine a look takes
            # longer by the clock, and spacing beats by that would leave views stale.
            spent = time.process_time() - cpu
            end = started + max(self.cfg.watch_interval, spent * 20)
            asked = time.monotonic()
            while not self._stop and not self._reload and time.monotonic() < end:
                time.sleep(min(0.25, max(0.0, end - time.monotonic())))
                if time.monotonic() - asked >= 0.75:  # leave within a second of the server
                    asked = time.monotonic()
                    if not server_alive(self.socket_path):
                        self._stop = True
        self.scanner.close()
        # No first frame without a watcher; with its server gone, nothing of it is left behind
        # (a restart, asked by a signal, keeps the marks for the next watcher).
        gone = not server_alive(self.socket_path)
        for path in (
            snapshot.frame_path,
            *((snapshot.snapshot_path, snapshot.marks_path) if gone else ()),
        ):
            with contextlib.suppress(OSError, RuntimeDirError):
                os.unlink(path(self.socket_path))
        return 0

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self._reload = True

    def _on_term(self, signum: int, frame: FrameType | None) -> None:
        self._stop = True
