"""Scan-time benchmark: history size against live agents, on real tmux, processes and SQLite."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from devtools.bench_live import run as run_live
from devtools.bench_world import Bench, history_db
from otop.scan.scanner import Options, Scanner

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
        r = run_live(history_db(args.live_size), args.live_agents, args.live, args.load)
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
