"""Every opencode process on the machine, via psutil, as plain records with CPU deltas."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import psutil

from otop.model import Proc, ProcKind

NAMES = frozenset({"opencode", "opencode.exe"})
_OTHER = frozenset(
    {
        "auth",
        "agent",
        "upgrade",
        "uninstall",
        "models",
        "stats",
        "export",
        "import",
        "github",
        "pr",
        "debug",
        "mcp",
        "session",
        "completion",
        "generate",
        "plugin",
        "db",
    }
)
_KINDS = {
    "run": ProcKind.RUN,
    "serve": ProcKind.SERVE,
    "web": ProcKind.SERVE,
    "acp": ProcKind.SERVE,
    "attach": ProcKind.ATTACH,
}
# Options of the TUI (and `run`) that take a value, so their value is not a positional.
_VALUED = {
    "-s",
    "--session",
    "-m",
    "--model",
    "--prompt",
    "-p",
    "--agent",
    "--port",
    "--hostname",
    "--log-level",
    "--format",
    "-f",
    "--file",
    "--title",
    "--attach",
    "--dir",
    "--variant",
    "--mdns-domain",
    "--cors",
}


def is_opencode(name: str, argv: Sequence[str]) -> bool:
    """Whether a process is opencode itself (not a wrapper script or a tool it runs)."""
    if name in NAMES:
        return True
    return bool(argv) and os.path.basename(argv[0]) in NAMES


def parse_argv(argv: Sequence[str]) -> tuple[ProcKind | None, str | None, bool, str | None]:
    """(kind, session id, continue flag, project dir) of an argv; kind None: not an agent."""
    session = None
    cont = False
    positional: list[str] = []
    args = list(argv[1:])
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-s", "--session") and i + 1 < len(args):
            session = args[i + 1]
            i += 2
            continue
        if a.startswith("--session="):
            session = a.split("=", 1)[1]
        elif a.startswith("-s") and len(a) > 2 and not a.startswith("--"):
            session = a[2:]
        elif a in ("-c", "--continue"):
            cont = True
        elif a in _VALUED and i + 1 < len(args):
            i += 2
            continue
        elif a == "--":
            positional.extend(args[i + 1 :])
            break
        elif not a.startswith("-"):
            positional.append(a)
        i += 1
    if positional:
        first = positional[0]
        if first in _KINDS:
            return _KINDS[first], session, cont, None
        if first in _OTHER:
            return None, session, cont, None
        return ProcKind.TUI, session, cont, first
    return ProcKind.TUI, session, cont, None


class ProcScanner:
    """Finds opencode processes and measures their CPU use between two looks."""

    def __init__(self) -> None:
        # (pid, start time) -> (monotonic time, cpu seconds) of the previous look
        self._prev: dict[tuple[int, float], tuple[float, float]] = {}
        self._not_ours: set[tuple[int, str]] = set()
        self._static: dict[tuple[int, int, str], _Static] = {}

    def scan(self, want_open_logs: bool = False) -> tuple[list[Proc], dict[int, list[str]]]:
        """Every opencode process now, and (if asked) the per-process log files each holds open
        (opencode 1.14 holds two, and processes started close together share them)."""
        procs: list[Proc] = []
        logs: dict[int, list[str]] = {}
        seen: dict[tuple[int, float], tuple[float, float]] = {}
        now = time.monotonic()
        parents: dict[int, int] = {}
        candidates: list[int] = []
        not_ours: set[tuple[int, str]] = set()
        table = proc_table()
        for pid, st in table.items():
            parents[pid] = st.ppid
            key = (pid, st.comm)
            if st.comm in NAMES:
                candidates.append(pid)
            elif key in self._not_ours:
                not_ours.add(key)
            elif os.path.basename(_argv0(pid)) in NAMES:
                # argv[0] decides for wrappers that exec under another name (and tests).
                candidates.append(pid)
            else:
                not_ours.add(key)
        self._not_ours = not_ours
        children: dict[int, int] = {}
        for ppid in parents.values():
            children[ppid] = children.get(ppid, 0) + 1
        static: dict[tuple[int, int, str], _Static] = {}
        for pid in candidates:
            st = table[pid]
            key3 = (pid, st.start_ticks, st.comm)
            info = self._static.get(key3) or _static_info(pid, st)
            if info is None:
                continue
            static[key3] = info
            if info.kind is None:
                continue
            rec = self._record(pid, st, info, now, seen, parents, children)
            procs.append(rec)
            if want_open_logs:
                held = _open_logs(pid)
                if held:
                    logs[rec.pid] = held
        self._static = static
        self._prev = seen
        return procs, logs

    def measure(self, procs: Iterable[Proc]) -> dict[int, float | None]:
        """CPU % of processes since this scanner last looked at them (a second sample now)."""
        out: dict[int, float | None] = {}
        now = time.monotonic()
        for proc in procs:
            key = (proc.pid, proc.started_at)
            prev = self._prev.get(key)
            try:
                times = psutil.Process(proc.pid).cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                out[proc.pid] = None
                continue
            cpu_s = times.user + times.system
            if prev is not None and now - prev[0] > 0.01:
                out[proc.pid] = max(0.0, 100.0 * (cpu_s - prev[1]) / (now - prev[0]))
                self._prev[key] = (now, cpu_s)
        return out

    def _record(
        self,
        pid: int,
        st: Stat,
        info: _Static,
        now: float,
        seen: dict[tuple[int, float], tuple[float, float]],
        parents: dict[int, int],
        children: dict[int, int],
    ) -> Proc:
        assert info.kind is not None
        cpu_s = st.cpu_ticks / _TICKS
        key = (pid, info.started_at)
        seen[key] = (now, cpu_s)
        prev = self._prev.get(key)
        cpu = None
        if prev is not None and now - prev[0] > 0.05:
            cpu = max(0.0, 100.0 * (cpu_s - prev[1]) / (now - prev[0]))
        return Proc(
            pid=pid,
            kind=info.kind,
            argv=info.argv,
            cwd=info.cwd,
            tty=info.tty,
            started_at=info.started_at,
            rss_bytes=st.rss_pages * _PAGE,
            cpu_percent=cpu,
            ancestors=tuple(_ancestors(pid, parents)),
            session_arg=info.session,
            continue_arg=info.cont,
            dir_arg=_resolve(info.dir_arg, info.cwd),
            children=children.get(pid, 0),
        )


class _Static(NamedTuple):
    """What does not change in a process's life (cached by pid, start time and name)."""

    argv: tuple[str, ...]
    kind: ProcKind | None
    session: str | None
    cont: bool
    dir_arg: str | None
    cwd: str | None
    tty: str | None
    started_at: float


_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _static_info(pid: int, st: Stat) -> _Static | None:
    """A new opencode process's argv, cwd, tty and start time (psutil, once per process)."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            if p.uids().real != os.getuid():
                # Another user's opencode is not an agent of this user's: its argv could
                # name any session id.
                return _Static((), None, None, False, None, None, None, 0.0)
            argv = tuple(p.cmdline())
            started = p.create_time()
            try:
                cwd: str | None = p.cwd()
            except (psutil.AccessDenied, psutil.ZombieProcess, FileNotFoundError):
                cwd = None
            tty = _tty(p, st.tty_nr)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    kind, session, cont, dir_arg = parse_argv(argv or ("opencode",))
    return _Static(argv, kind, session, cont, dir_arg, cwd, tty, started)


class Stat(NamedTuple):
    """The fields of /proc/PID/stat otop uses."""

    comm: str
    ppid: int
    cpu_ticks: int  # utime + stime
    start_ticks: int  # since boot: with the pid, names a process for its whole life
    rss_pages: int
    tty_nr: int


def parse_stat(stat: bytes) -> Stat | None:
    close = stat.rfind(b")")
    fields = stat[close + 2 :].split(b" ")
    try:
        return Stat(
            comm=stat[stat.find(b"(") + 1 : close].decode("utf-8", "replace"),
            ppid=int(fields[1]),
            cpu_ticks=int(fields[11]) + int(fields[12]),
            start_ticks=int(fields[19]),
            rss_pages=int(fields[21]),
            tty_nr=int(fields[4]),
        )
    except (ValueError, IndexError):
        return None


def proc_table(proc: str = "/proc") -> dict[int, Stat]:
    """Every process's stat line, read straight from /proc: several times cheaper than
    psutil's iterator, and this runs on every scan."""
    out: dict[int, Stat] = {}
    try:
        names = os.listdir(proc)
    except OSError:
        return out
    for n in names:
        if not n.isdigit():
            continue
        try:
            with open(f"{proc}/{n}/stat", "rb") as f:
                st = parse_stat(f.read())
        except OSError:
            continue  # gone meanwhile
        if st is not None:
            out[int(n)] = st
    return out


def _argv0(pid: int, proc: str = "/proc") -> str:
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            return f.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
    except OSError:
        return ""


def _tty(p: psutil.Process, tty_nr: int) -> str | None:
    """The controlling terminal. psutil caches its device map, so new ptys would go unseen:
    decode stat's tty_nr for pseudo-terminals, ask psutil for anything else."""
    if tty_nr == 0:
        return None
    major = (tty_nr >> 8) & 0xFFF
    minor = (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)
    if 136 <= major <= 143:
        return f"/dev/pts/{(major - 136) * 256 + minor}"
    return p.terminal()


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


def _open_logs(pid: int) -> list[str]:
    from otop.opencode.logs import is_per_process_log

    try:
        return sorted(
            {f.path for f in psutil.Process(pid).open_files() if is_per_process_log(f.path)}
        )
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


class PidProbe:
    """The set of opencode pids, cheaply: one /proc listing, and a look at new pids only."""

    def __init__(self, proc: str = "/proc") -> None:
        self.proc = proc
        self._known: dict[int, bool] = {}

    def pids(self) -> frozenset[int]:
        try:
            now = {int(n) for n in os.listdir(self.proc) if n.isdigit()}
        except OSError:
            return frozenset()
        known = {pid: ours for pid, ours in self._known.items() if pid in now}
        for pid in now - known.keys():
            known[pid] = self._ours(pid)
        self._known = known
        return frozenset(pid for pid, ours in known.items() if ours)

    def _ours(self, pid: int) -> bool:
        try:
            if os.stat(f"{self.proc}/{pid}").st_uid != os.getuid():
                return False
            with open(f"{self.proc}/{pid}/comm", encoding="utf-8", errors="replace") as f:
                if f.read().strip() in NAMES:
                    return True
            with open(f"{self.proc}/{pid}/cmdline", "rb") as fb:
                argv0 = fb.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
        except OSError:
            return False
        return os.path.basename(argv0) in NAMES
