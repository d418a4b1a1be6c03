"""Processes through psutil alone: macOS and the BSDs, which have no /proc (and Linux, when
asked with OTOP_PROCESS_SOURCE=psutil, so that this path is run here on every test)."""

from __future__ import annotations

import os

import psutil

from otop.sources.rows import Facts, Row

_GONE = (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess)


class Portable:
    """The psutil source: cheap facts of every process in one iteration, the rest only for
    the processes a scan keeps."""

    name = "psutil"

    def __init__(self) -> None:
        self._refreshed: set[tuple[int, float]] = set()

    def table(self) -> dict[int, Row]:
        out: dict[int, Row] = {}
        for p in psutil.process_iter(["name", "ppid", "create_time"]):
            info = p.info
            if info.get("create_time") is None or info.get("ppid") is None:
                continue  # gone meanwhile, or not ours to read
            start = float(info["create_time"])
            out[p.pid] = Row(info.get("name") or "", info["ppid"], None, start, None, None)
        self._refreshed = {k for k in self._refreshed if k[0] in out}
        return out

    def complete(self, pid: int, row: Row) -> Row:
        """CPU time, memory and the controlling terminal of one process."""
        try:
            p = psutil.Process(pid)
            with p.oneshot():
                times = p.cpu_times()
                rss = p.memory_info().rss
                tty = p.terminal()
        except _GONE:
            return row
        if tty is None and (pid, row.start) not in self._refreshed:
            tty = self._fresh_terminal(p, (pid, row.start))
        return row._replace(cpu_seconds=times.user + times.system, rss_bytes=rss, tty=tty)

    def _fresh_terminal(self, p: psutil.Process, key: tuple[int, float]) -> str | None:
        """psutil maps terminal devices to names once per process and keeps the map: a pane
        opened since has a terminal it cannot name. The map is made again, once for each
        process that seems to have none."""
        self._refreshed.add(key)
        from psutil import _psposix

        clear = getattr(_psposix.get_terminal_map, "cache_clear", None)
        if clear is None:
            return None
        clear()
        try:
            return p.terminal()
        except _GONE:
            return None

    def argv0(self, pid: int) -> str:
        try:
            argv = psutil.Process(pid).cmdline()
        except _GONE:
            return ""
        return argv[0] if argv else ""

    def pids(self) -> set[int]:
        return set(psutil.pids())

    def owner(self, pid: int) -> int | None:
        try:
            return int(psutil.Process(pid).uids().real)
        except _GONE:
            return None

    def command(self, pid: int) -> str:
        try:
            return psutil.Process(pid).name()
        except _GONE:
            return ""

    def facts(self, pid: int) -> Facts | None:
        try:
            p = psutil.Process(pid)
            with p.oneshot():
                uid = p.uids().real
                if uid != os.getuid():  # another user's argv and directory are not ours to read
                    return Facts(uid, (), None, p.create_time())
                argv = tuple(p.cmdline())
                started = p.create_time()
                try:
                    cwd: str | None = p.cwd()
                except (psutil.AccessDenied, psutil.ZombieProcess, FileNotFoundError):
                    cwd = None
                try:
                    exe: str | None = p.exe() or None
                except (psutil.AccessDenied, psutil.ZombieProcess, FileNotFoundError):
                    exe = None
        except _GONE:
            return None
        return Facts(uid, argv, cwd, started, exe)

    def open_files(self, pid: int) -> list[str]:
        try:
            return [f.path for f in psutil.Process(pid).open_files()]
        except _GONE:
            return []

    def environ(self, pid: int) -> dict[str, str] | None:
        try:
            return dict(psutil.Process(pid).environ())
        except _GONE:
            return None

    def cpu_seconds(self, pid: int) -> float | None:
        try:
            times = psutil.Process(pid).cpu_times()
        except _GONE:
            return None
        return float(times.user + times.system)
