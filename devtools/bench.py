"""Scan-time benchmark: history size against live agents, on real tmux, processes and SQLite."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from devtools import ROOT
from devtools.lab import kill_tmux_server
from devtools.store import OpencodeDB, now_ms
from otop.scan.scanner import Options, Scanner

CACHE = ROOT / ".cache" / "bench"


def build_history(path: Path, sessions: int, messages: int = 10) -> None:
    """A database with `sessions` finished sessions, each with messages and parts, in bulk."""
    tmp = path.with_suffix(".tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    db = OpencodeDB(tmp, seed=7)
    add_history(db, sessions, messages)
    db.con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    tmp.rename(path)


def add_history(db: OpencodeDB, sessions: int, messages: int = 10) -> None:
    """`sessions` finished sessions, older than a day, each with messages and parts, in one
    transaction (the real-opencode bench adds them to a live TUIs' database)."""
    start = now_ms() - sessions * 60_000 - 86_400_000
    filler = "lorem ipsum dolor sit amet " * 40
    db.con.execute("BEGIN")
    for i in range(sessions):
        at = start + i * 60_000
        sid = db.session(f"/home/user/old-project-{i % 50}", f"Old session {i}", at=at)
        for j in range(messages):
            t = at + j * 1000
            role = "user" if j % 2 == 0 else "assistant"
            mid = db.ids.make("msg", t)
            data = {
                "role": role,
                "time": {"created": t, "completed": t + 500},
                "finish": "stop",
                "modelID": "m",
                "providerID": "p",
                "tokens": {"input": 10, "output": 10},
            }
            db.con.execute(
                "INSERT INTO message VALUES (?, ?, ?, ?, ?)", [mid, sid, t, t, json.dumps(data)]
            )
            for k in range(2):
                pid = db.ids.make("prt", t + k)
                part = {"type": "text", "text": filler, "time": {"start": t, "end": t + 400}}
                db.con.execute(
                    "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
                    [pid, mid, sid, t + k, t + k, json.dumps(part)],
                )
    db.con.execute("COMMIT")


# What each command imports before its work (otop/cli/commands.py imports the rest lazily).
COMMAND_IMPORTS = {
    "list --json (watcher's scan)": (
        "otop.cli.entry, otop.watcher.snapshot, otop.sources.opencode.paths"
    ),
    "list, jump, answer (scan)": "otop.cli.parser, otop.cli.commands",
    "popup, ui": "otop.cli.parser, otop.cli.commands, otop.ui.app, otop.ui.backend",
    "watch": "otop.cli.parser, otop.cli.commands, otop.watcher.watch, otop.plugin.options",
    "serve": "otop.cli.parser, otop.cli.commands, otop.serve.server",
}


def otop_exe() -> str:
    """The `otop` command of this venv, as a user runs it (not `python -m otop`, which adds
    runpy's start)."""
    return str(Path(sys.executable).with_name("otop"))


def import_times(runs: int = 7) -> dict[str, float]:
    """Seconds each command's imports take in a fresh interpreter (median of `runs`)."""
    out = {}
    for name, modules in COMMAND_IMPORTS.items():
        code = (
            f"import time; t = time.perf_counter(); import {modules}; print(time.perf_counter()-t)"
        )
        argv = [sys.executable, "-c", code]
        times = [
            float(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
            for _ in range(runs)
        ]
        out[name] = statistics.median(times)
    return out


def history_db(sessions: int) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"history-v2-{sessions}.db"
    if not path.exists():
        t0 = time.monotonic()
        build_history(path, sessions)
        size = path.stat().st_size / 1e6
        print(f"built {path.name}: {size:.0f} MB in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return path


def agent_command(agent: str) -> str:
    """Run a Python command under argv[0] `opencode`. Python finds its packages from argv[0],
    which no longer names it, so the project root goes on PYTHONPATH."""
    root = ROOT
    return f"PYTHONPATH={shlex.quote(str(root))} exec -a opencode {agent}"


class Bench:
    """N live fake agents in a private tmux server, over a copy of a history database."""

    def __init__(self, history: Path, agents: int, busy_every: int = 3) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="otop-bench-"))
        self.data = self.root / "data" / "opencode"
        self.data.mkdir(parents=True)
        (self.data / "log").mkdir()
        self.db_path = self.data / "opencode.db"
        subprocess.run(["cp", "--reflink=auto", str(history), str(self.db_path)], check=True)
        self.socket = f"otop-bench-{uuid.uuid4().hex[:8]}"
        self.env = {**os.environ, "XDG_DATA_HOME": str(self.root / "data")}
        self.env.pop("TMUX", None)
        db = OpencodeDB(self.db_path)
        self.sessions: list[str] = []
        log = self.data / "log" / "opencode.log"
        for i in range(agents):
            d = self.root / f"proj-{i}"
            d.mkdir()
            sid = db.session(str(d), f"Live agent {i}")
            db.finished_turn(sid, "go", f"answer {i}")
            self.sessions.append(sid)
            if busy_every and i % busy_every == 0:  # some of them mid-turn, running a tool
                db.user(sid, "more")
                mid = db.assistant(sid)
                db.tool_part(mid, sid, "bash", inp={"command": "make"})
            agent = shlex.join(
                [
                    sys.executable,
                    "-m",
                    "devtools.agent",
                    "-s",
                    sid,
                    "--log",
                    str(log),
                    "--title",
                    f"OC | Live agent {i}",
                ]
            )
            cmd = f"bash --norc --noprofile -c {shlex.quote(agent_command(agent))}"
            if i == 0:
                self.tmux("-f", "/dev/null", "new-session", "-d", "-s", "b", "-c", str(d), cmd)
            else:
                self.tmux("new-window", "-d", "-t", "b:", "-c", str(d), cmd)
        db.close()
        self.agents = agents

    def tmux(self, *args: str) -> str:
        out = subprocess.run(
            ["tmux", "-L", self.socket, *args], env=self.env, capture_output=True, text=True
        )
        return out.stdout

    def close(self) -> None:
        kill_tmux_server(self.socket, self.env)
        subprocess.run(["rm", "-rf", str(self.root)], check=False)


def measure(history: Path, agents: int, scans: int) -> dict[str, float]:
    bench = Bench(history, agents)
    try:
        scanner = Scanner(Options(socket_name=bench.socket), env=bench.env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = [a for a in scanner.scan().agents if a.proc is not None]
            if len(found) >= agents:
                break
            time.sleep(0.3)
        time.sleep(0.5)
        scanner.scan()
        times, queries, commands, rows = [], [], [], []
        for _ in range(scans):
            q0, r0 = scanner.store.queries, scanner.store.rows_read
            c0 = scanner.tmux.commands if scanner.tmux else 0
            t0 = time.perf_counter()
            scan = scanner.scan()
            times.append(time.perf_counter() - t0)
            queries.append(scanner.store.queries - q0)
            rows.append(scanner.store.rows_read - r0)
            commands.append((scanner.tmux.commands if scanner.tmux else 0) - c0)
        live = sum(1 for a in scan.agents if a.proc is not None)
        times.sort()
        return {
            "agents": live,
            "median_ms": statistics.median(times) * 1000,
            "p95_ms": times[int(0.95 * (len(times) - 1))] * 1000,
            "queries": statistics.median(queries),
            "rows": statistics.median(rows),
            "tmux_commands": statistics.median(commands),
        }
    finally:
        bench.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100,1000,10000", help="history sizes (sessions)")
    ap.add_argument("--agents", default="1,20,100", help="live agent counts")
    ap.add_argument("--scans", type=int, default=30)
    ap.add_argument(
        "--live",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="watcher CPU window (0 skips the watcher, latency and popup figures)",
    )
    ap.add_argument("--live-size", type=int, default=10000, help="history for the live figures")
    ap.add_argument("--live-agents", type=int, default=20)
    ap.add_argument(
        "--load", type=int, default=0, help="busy loops beside the agents during the live figures"
    )
    args = ap.parse_args(argv)
    print("imports before any work, per command (median of 7, fresh interpreter):")
    for name, s in import_times().items():
        print(f"  {name:<30} {s * 1000:6.1f} ms")
    sizes = [int(x) for x in args.sizes.split(",")]
    counts = [int(x) for x in args.agents.split(",")]
    print(
        f"{'sessions':>9} {'agents':>6} {'median ms':>10} {'p95 ms':>8}"
        f" {'queries':>8} {'rows read':>9} {'tmux cmds':>9}"
    )
    for size in sizes:
        path = history_db(size)
        for n in counts:
            r = measure(path, n, args.scans)
            print(
                f"{size:>9} {r['agents']:>6.0f} {r['median_ms']:>10.1f} {r['p95_ms']:>8.1f} "
                f"{r['queries']:>8.0f} {r['rows']:>9.0f} {r['tmux_commands']:>9.0f}",
                flush=True,
            )
    if args.live > 0:
        from devtools.bench_live import run

        r = run(history_db(args.live_size), args.live_agents, args.live, args.load)
        print(
            f"\nwatcher, {args.live_agents} agents, {args.live_size} sessions,"
            f" {args.load} busy loops beside them:"
            f"\n  CPU idle {r['idle_cpu']:.2f}% of a core over {args.live:.0f} s"
            f"\n  CPU with every agent changing state each second {r['busy_cpu']:.2f}%"
            f"\n  state change to badge: median {r['latency_median'] * 1000:.0f} ms,"
            f" p95 {r['latency_p95'] * 1000:.0f} ms"
            f"\n  RSS {r['watcher_rss']:.0f} MB"
            f"\npopup: first rows median {r['popup_median'] * 1000:.0f} ms,"
            f" RSS {r['popup_rss']:.0f} MB"
            f"\nlist --json, whole process, median of 10: {r['list_snapshot'] * 1000:.0f} ms"
            f" from the watcher's snapshot, {r['list_scan'] * 1000:.0f} ms scanning itself;"
            f"\n  agent-ps list --json on the same world: {r['agent_ps'] * 1000:.0f} ms"
            f" (otop/agent-ps {r['list_snapshot'] / r['agent_ps']:.2f} from the snapshot,"
            f" {r['list_scan'] / r['agent_ps']:.2f} scanning)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
