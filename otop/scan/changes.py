"""Cheap facts whose change means a scan could tell something new, and when a looker (the
watcher, the full-screen app, `otop serve`) should scan again."""

from __future__ import annotations

import os
import time

from otop.core.model import Group, Scan
from otop.scan.scanner import Scanner
from otop.sources.opencode.connection import StoreError
from otop.sources.processes import PidProbe

# Even when nothing seems to change, look properly this often (stale turns, moved panes).
FULL_SCAN_EVERY = 10.0


class Changes:
    """Cheap facts whose change means a scan could tell something new: the set of opencode
    pids, each database's data_version, the log files' sizes. The watcher, the full-screen
    app and `otop serve` look at these often and scan only when they move."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.pids = PidProbe(scanner.procs.source)
        self._scanned: tuple[object, ...] | None = None  # the probes at the last scan
        self._full = 0.0

    def due(self, last: Scan | None, mono: float | None = None) -> bool:
        """Whether to scan now: nothing scanned yet, a probe moved, an agent works (its screen
        and CPU change without notice), or FULL_SCAN_EVERY passed (stale turns, moved panes).
        A yes counts as the scan made."""
        mono = time.monotonic() if mono is None else mono
        sig = self.signature()
        working = last is not None and any(a.group == Group.WORKING for a in last.agents)
        if last is None or sig != self._scanned or working or mono - self._full >= FULL_SCAN_EVERY:
            self._scanned, self._full = sig, mono
            return True
        return False

    def signature(self) -> tuple[object, ...]:
        versions: list[tuple[str, int]] = []
        logs: list[tuple[str, int]] = []
        for db in self.scanner.databases.values():
            try:
                versions.append((db.path, db.store.data_version()))
            except StoreError:
                versions.append((db.path, -1))
            for p in (db.paths.shared_log, *db.process_logs):
                try:
                    logs.append((p, os.stat(p).st_size))
                except OSError:
                    continue
        for path in sorted(self.scanner.services.written):
            try:
                info = os.stat(path)
            except OSError:
                continue
            logs.append((path, info.st_mtime_ns + info.st_size))
        return (self.pids.pids(), tuple(versions), tuple(logs))

    def turns(self) -> tuple[int, ...]:
        """Each database's newest message row: cheap enough to look at many times a second,
        and it moves when a prompt is sent (-1 for a database that cannot be read)."""
        newest = []
        for db in self.scanner.databases.values():
            try:
                newest.append(db.store.newest_message())
            except StoreError:
                newest.append(-1)
        return tuple(newest)
