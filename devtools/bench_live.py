"""Background costs: the watcher's CPU and memory, state-change latency, popup time to rows."""

from __future__ import annotations

import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from devtools.bench_world import CACHE, Bench, otop_exe
from devtools.lab import wait_until
from devtools.store import OpencodeDB


class Live:
    """A watcher on a Bench's tmux server."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "otop", "-L", bench.socket, "watch"],
            env=bench.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ps = psutil.Process(self.proc.pid)
        wait_until(lambda: self.option("@otop_status"), 30, 0.02)
        self.windows = bench.tmux("list-windows", "-t", "b", "-F", "#{window_id}").split()

    def option(self, name: str, window: str | None = None) -> str:
        scope = ["-wqv", "-t", window] if window else ["-gqv"]
        return self.bench.tmux("show-options", *scope, name).strip()

    def cpu(self, seconds: float) -> float:
        """% of one core the watcher used over the next `seconds`."""
        t0 = self.ps.cpu_times()
        time.sleep(seconds)
        t1 = self.ps.cpu_times()
        return 100.0 * (t1.user + t1.system - t0.user - t0.system) / seconds

    def rss_mb(self) -> float:
        return float(self.ps.memory_info().rss) / 1e6

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def _turn(db: OpencodeDB, sid: str, busy: bool) -> None:
    """Move a session to a running tool, or finish its turn."""
    if busy:
        db.user(sid, "again")
        mid = db.assistant(sid)
        db.tool_part(mid, sid, "bash", inp={"command": "make"})
    else:
        db.finished_turn(sid, "next", "done")


def latency(live: Live, db: OpencodeDB, rounds: int = 10) -> list[float]:
    """Seconds from a turn written to the database to the window badge showing it."""
    sid, win = live.bench.sessions[1], live.windows[1]
    out = []
    busy = True
    for _ in range(rounds):
        before = live.option("@otop_badge", win)
        t0 = time.monotonic()
        _turn(db, sid, busy)

        def moved(b: str = before) -> bool:
            return live.option("@otop_badge", win) != b

        wait_until(moved, 10, 0.02)
        out.append(time.monotonic() - t0)
        busy = not busy
        time.sleep(random.uniform(0.3, 1.3))  # sample every phase of the watcher's beat
    return out


def churn_cpu(live: Live, seconds: float) -> float:
    """Watcher CPU while every agent changes state every second."""
    stop = threading.Event()

    def writer() -> None:
        db = OpencodeDB(live.bench.db_path)
        busy = True
        while not stop.is_set():
            for sid in live.bench.sessions:
                _turn(db, sid, busy)
            busy = not busy
            stop.wait(1.0)
        db.close()

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        return live.cpu(seconds)
    finally:
        stop.set()
        t.join()


def popup_first_rows(bench: Bench, runs: int = 10) -> tuple[list[float], float]:
    """Seconds from starting `otop popup` in a pane to its first frame showing agents, and the
    largest RSS (MB) of a popup."""
    out = []
    rss = 0.0
    for i in range(runs):
        name = f"popup{i}"
        cmd = f"{sys.executable} -m otop popup"
        t0 = time.monotonic()
        bench.tmux("new-window", "-d", "-t", "b:", "-n", name, cmd)

        def shown(n: str = name) -> bool:
            return "Live agent" in bench.tmux("capture-pane", "-p", "-t", f"b:{n}")

        wait_until(shown, 20, 0.02)
        out.append(time.monotonic() - t0)
        pid = bench.tmux("display", "-p", "-t", f"b:{name}", "#{pane_pid}").strip()
        if pid.isdigit():
            rss = max(rss, psutil.Process(int(pid)).memory_info().rss / 1e6)
        bench.tmux("kill-window", "-t", f"b:{name}")
    return out, rss


def list_times(bench: Bench, runs: int = 10) -> list[float]:
    """Seconds for a whole `otop list --json` process, start to exit, `runs` times."""
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(
            [otop_exe(), "-L", bench.socket, "list", "--json"],
            env=bench.env,
            capture_output=True,
            check=True,
        )
        out.append(time.perf_counter() - t0)
    return sorted(out)


def agent_ps() -> str | None:
    """agent-ps (a Python peer on PyPI), in a virtualenv of the bench's own: never a
    dependency of otop. None when it cannot be installed."""
    venv = CACHE / "agent-ps"
    exe = venv / "bin" / "agent-ps"
    if not exe.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "agent-ps"]
        if made.returncode or subprocess.run(pip, capture_output=True).returncode:
            return None
    return str(exe)


def peer_command(
    root: Path, data: Path, env: dict[str, str], exe: str
) -> tuple[list[str], dict[str, str]] | None:
    """agent-ps's `list --json` over the same agents and database (`data` is XDG_DATA_HOME),
    as (argv, environment); None when it finds no agent. It reads `~/.local/share/opencode`
    whatever XDG_DATA_HOME says (measured: with only XDG set it found no agent at all), so its
    HOME points there, a directory made under `root`."""
    home = root / "peer-home"
    if not home.exists():
        (home / ".local").mkdir(parents=True)
        (home / ".local" / "share").symlink_to(data)
    argv = [exe, "--agent", "opencode", "list", "--json"]
    env = {**env, "HOME": str(home)}
    found = subprocess.run(argv, env=env, capture_output=True, text=True).stdout
    return (argv, env) if '"pid"' in found else None


def peer_times(
    root: Path, data: Path, env: dict[str, str], exe: str, runs: int = 10
) -> list[float]:
    """Seconds for whole `agent-ps list --json` runs (see `peer_command`; NaN when it finds
    no agent)."""
    command = peer_command(root, data, env, exe)
    if command is None:
        return [float("nan")]
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(command[0], env=command[1], capture_output=True, check=False)
        out.append(time.perf_counter() - t0)
    return sorted(out)


def burners(n: int) -> list[subprocess.Popen[bytes]]:
    """Busy loops beside the agents, as streaming TUIs load a laptop's cores (killed by pid)."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


def run(history: Path, agents: int, seconds: float, load: int = 0) -> dict[str, float]:
    """All background figures on one world of `agents` idle agents over a history, with
    `load` busy loops running beside them."""
    bench = Bench(history, agents, busy_every=0)
    busy_loops = burners(load)
    try:
        wait_until(
            lambda: (
                len(bench.tmux("list-panes", "-a", "-F", "#{pane_current_command}").split())
                >= agents
            ),
            30,
            0.02,
        )
        live = Live(bench)
        db = OpencodeDB(bench.db_path)
        try:
            time.sleep(2)
            idle = live.cpu(seconds)
            lat = sorted(latency(live, db))
            busy = churn_cpu(live, seconds / 2)
            rss = live.rss_mb()
            from_snapshot = list_times(bench)
        finally:
            live.close()
        time.sleep(3)  # the snapshot goes stale: the command scans for itself
        from_scan = list_times(bench)
        peer = agent_ps()
        peer_median = float("nan")
        if peer:
            peer_median = statistics.median(
                peer_times(bench.root, bench.root / "data", bench.env, peer)
            )
        times, popup_rss = popup_first_rows(bench)
        first = sorted(times)
        db.close()
        return {
            "load": float(load),
            "idle_cpu": idle,
            "busy_cpu": busy,
            "latency_median": statistics.median(lat),
            "latency_p95": lat[int(0.95 * (len(lat) - 1))],
            "watcher_rss": rss,
            "popup_median": statistics.median(first),
            "popup_rss": popup_rss,
            "list_snapshot": statistics.median(from_snapshot),
            "list_scan": statistics.median(from_scan),
            "agent_ps": peer_median,
        }
    finally:
        for b in busy_loops:
            b.kill()
            b.wait()
        bench.close()
