"""Every opencode process of this user, as plain records with CPU deltas and the opencode data
each uses, from one of two sources behind one interface: /proc read directly (Linux's fast
path, otop/sources/procfs.py) or psutil alone (macOS and the BSDs, otop/sources/portable.py).
The source is chosen once per platform; OTOP_PROCESS_SOURCE=psutil (or =proc) forces one."""

import os
import time
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from otop.core.model import Home, Proc, ProcKind
from otop.sources.argv import NAMES, parse_argv
from otop.sources.homes import home_of, opened
from otop.sources.opencode.binary import version_of
from otop.sources.rows import Row, Source

SOURCE_ENV = "OTOP_PROCESS_SOURCE"
SOURCES = ("proc", "psutil")
# A process whose database was only named by its environment is looked at again this often
# (it opens the database a second or two after it starts).
HOME_RECHECK = 5.0


class SourceError(Exception):
    """OTOP_PROCESS_SOURCE names no source this machine has."""


def make_source(env: Mapping[str, str] | None = None) -> Source:
    """/proc where there is one, else psutil; OTOP_PROCESS_SOURCE decides when set."""
    from otop.sources import procfs

    env = os.environ if env is None else env
    asked = env.get(SOURCE_ENV, "").strip().lower()
    if asked and asked not in SOURCES:
        raise SourceError(f"{SOURCE_ENV}={asked!r}: use one of {', '.join(SOURCES)}")
    if asked == "psutil" or (not asked and not procfs.available()):
        from otop.sources.portable import Portable

        return Portable()
    if not procfs.available():
        raise SourceError(f"{SOURCE_ENV}=proc: this machine has no /proc")
    return procfs.ProcFs()


class _Static(NamedTuple):
    """What does not change in a process's life (cached by pid, start and name)."""

    argv: tuple[str, ...]
    kind: ProcKind | None
    session: str | None
    cont: bool
    dir_arg: str | None
    cwd: str | None
    started_at: float
    version: str | None


class ProcScanner:
    """Finds this user's opencode processes, measures their CPU use between two looks, and
    tells which opencode data each uses."""

    def __init__(self, source: Source | None = None, default: Home | None = None) -> None:
        self.source = source or make_source()
        self.default = default  # otop's own opencode data, for what a process does not say
        # (pid, start) -> (monotonic time, cpu seconds) of the previous look
        self._prev: dict[tuple[int, float], tuple[float, float]] = {}
        self._not_ours: set[tuple[int, str]] = set()
        self._static: dict[tuple[int, float, str], _Static | None] = {}
        self._homes: dict[tuple[int, float], tuple[float, Home | None, str]] = {}

    def scan(self, want_open_logs: bool = False) -> tuple[list[Proc], dict[int, list[str]]]:
        """Every opencode process now, and (if asked) the per-process log files each holds open
        (opencode 1.14 holds two, and processes started close together share them)."""
        from otop.sources.opencode.logs import is_per_process_log

        now = time.monotonic()
        table = self.source.table()
        parents = {pid: row.ppid for pid, row in table.items()}
        children: dict[int, int] = {}
        for ppid in parents.values():
            children[ppid] = children.get(ppid, 0) + 1
        procs: list[Proc] = []
        logs: dict[int, list[str]] = {}
        seen: dict[tuple[int, float], tuple[float, float]] = {}
        static: dict[tuple[int, float, str], _Static | None] = {}
        for pid in self._candidates(table):
            row = table[pid]
            key = (pid, row.start, row.name)
            info = self._static[key] if key in self._static else self._static_info(pid)
            static[key] = info
            if info is None or info.kind is None:
                continue
            row = self.source.complete(pid, row)
            held = self._held(pid, row, now, want_open_logs)
            home, problem = self._home(pid, row, held, now)
            procs.append(self._record(pid, row, info, now, seen, parents, children, home, problem))
            per_process = [f for f in held or () if is_per_process_log(f)]
            if per_process:
                logs[pid] = per_process
        self._static = static
        self._prev = seen
        live = {(p.pid, row_start) for p in procs for row_start in (table[p.pid].start,)}
        self._homes = {k: v for k, v in self._homes.items() if k in live}
        return procs, logs

    def _candidates(self, table: Mapping[int, Row]) -> list[int]:
        """Pids named opencode, or whose argv[0] is (wrappers exec under another name);
        other processes are remembered by pid and name, and not looked at again."""
        out: list[int] = []
        not_ours: set[tuple[int, str]] = set()
        for pid, row in table.items():
            key = (pid, row.name)
            if row.name in NAMES:
                out.append(pid)
            elif key in self._not_ours:
                not_ours.add(key)
            elif os.path.basename(self.source.argv0(pid)) in NAMES:
                out.append(pid)
            else:
                not_ours.add(key)
        self._not_ours = not_ours
        return out

    def _held(self, pid: int, row: Row, now: float, want_logs: bool) -> list[str] | None:
        """The files a process holds open, when a scan needs them: its per-process logs, or
        its database until that is known for good (None: not looked at)."""
        cached = self._homes.get((pid, row.start))
        settled = cached is not None and (opened(cached[1]) or now - cached[0] < HOME_RECHECK)
        if settled and not want_logs:
            return None
        return self.source.open_files(pid)

    def _home(
        self, pid: int, row: Row, held: list[str] | None, now: float
    ) -> tuple[Home | None, str]:
        key = (pid, row.start)
        cached = self._homes.get(key)
        if held is None and cached is not None:
            return cached[1], cached[2]
        if cached is not None and opened(cached[1]):
            return cached[1], cached[2]
        env = self.source.environ(pid)
        fallback = self.default or Home("", "", "", "")
        home, problem = home_of(held or [], env, fallback)
        self._homes[key] = (now, home, problem)
        return home, problem

    def _static_info(self, pid: int) -> _Static | None:
        """A new opencode process's argv, cwd and start time (once per process); another
        user's process is no agent of this user's (its argv could name any session id)."""
        facts = self.source.facts(pid)
        if facts is None:
            return None
        if facts.uid != os.getuid():
            return _Static((), None, None, False, None, None, 0.0, None)
        kind, session, cont, dir_arg = parse_argv(facts.argv or ("opencode",))
        version = version_of(facts.exe) if kind is not None else None
        return _Static(
            facts.argv, kind, session, cont, dir_arg, facts.cwd, facts.started_at, version
        )

    def measure(self, procs: Iterable[Proc]) -> dict[int, float | None]:
        """CPU % of processes since this scanner last looked at them (a second sample now)."""
        out: dict[int, float | None] = {}
        now = time.monotonic()
        for proc in procs:
            key = (proc.pid, proc.started_at)
            prev = self._prev.get(key)
            cpu_s = self.source.cpu_seconds(proc.pid)
            if cpu_s is None:
                out[proc.pid] = None
                continue
            if prev is not None and now - prev[0] > 0.01:
                out[proc.pid] = max(0.0, 100.0 * (cpu_s - prev[1]) / (now - prev[0]))
                self._prev[key] = (now, cpu_s)
        return out

    def _record(
        self,
        pid: int,
        row: Row,
        info: _Static,
        now: float,
        seen: dict[tuple[int, float], tuple[float, float]],
        parents: dict[int, int],
        children: dict[int, int],
        home: Home | None,
        problem: str,
    ) -> Proc:
        assert info.kind is not None
        key = (pid, info.started_at)
        cpu = None
        if row.cpu_seconds is not None:
            seen[key] = (now, row.cpu_seconds)
            prev = self._prev.get(key)
            if prev is not None and now - prev[0] > 0.05:
                cpu = max(0.0, 100.0 * (row.cpu_seconds - prev[1]) / (now - prev[0]))
        return Proc(
            pid=pid,
            kind=info.kind,
            argv=info.argv,
            cwd=info.cwd,
            tty=row.tty,
            started_at=info.started_at,
            rss_bytes=row.rss_bytes or 0,
            cpu_percent=cpu,
            ancestors=tuple(_ancestors(pid, parents)),
            session_arg=info.session,
            continue_arg=info.cont,
            dir_arg=_resolve(info.dir_arg, info.cwd),
            children=children.get(pid, 0),
            home=home,
            home_problem=problem,
            version=info.version,
        )


def _resolve(dir_arg: str | None, cwd: str | None) -> str | None:
    if not dir_arg:
        return None
    path = dir_arg if os.path.isabs(dir_arg) or not cwd else os.path.join(cwd, dir_arg)
    return os.path.normpath(path)


def _ancestors(pid: int, parents: dict[int, int], limit: int = 16) -> Iterable[int]:
    """Parent pids up the tree, so a process can be matched to the pane that started it."""
    for _ in range(limit):
        pid = parents.get(pid, 0)
        if pid <= 1:
            return
        yield pid


class PidProbe:
    """The set of this user's opencode pids, cheaply: one listing of pids, and a look at new
    pids only (the watcher's probe for a change)."""

    def __init__(self, source: Source | None = None) -> None:
        self.source = source or make_source()
        self._known: dict[int, bool] = {}

    def pids(self) -> frozenset[int]:
        now = self.source.pids()
        known = {pid: ours for pid, ours in self._known.items() if pid in now}
        for pid in now - known.keys():
            known[pid] = self._ours(pid)
        self._known = known
        return frozenset(pid for pid, ours in known.items() if ours)

    def _ours(self, pid: int) -> bool:
        if self.source.owner(pid) != os.getuid():
            return False
        if self.source.command(pid) in NAMES:
            return True
        return os.path.basename(self.source.argv0(pid)) in NAMES
