"""The one-shot and live figures with real opencode TUIs beside otop: N TUIs (some streaming
long answers, as working agents load a laptop), the plugin's watcher, a real attached client.
Measures `otop list --json` against agent-ps, prefix+O to the popup's first rows, an Enter in a
TUI to the `/events` event saying it works, and the watcher's CPU. `scripts/bench --real`."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from math import nan
from pathlib import Path

import psutil

from devtools import ROOT
from devtools import bench_steady as steady
from devtools.bench import import_times
from devtools.bench_live import agent_ps, peer_command
from devtools.bench_world import add_history, otop_exe
from devtools.lab import OPENCODE_VERSION, Lab, find_binary, wait_until
from devtools.store import OpencodeDB
from devtools.terminal import Terminal
from otop.scan.scanner import Options, Scanner
from otop.sources.opencode.connection import uri_path
from otop.sources.opencode.paths import db_file

LONG = "[[stream:400:0.25]] tell me a long story"  # 100 s of streaming


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]


class World:
    """N real TUIs in a private tmux server, each with a session, and the plugin loaded."""

    def __init__(self, root: Path, binary: str, version: str, n: int) -> None:
        self.lab = Lab(root, binary, version)
        try:
            self._start(n)
        except BaseException:
            self.lab.close()
            raise

    def _start(self, n: int) -> None:
        self.lab.fillers(3)
        self.panes = [self.lab.window(f"a{i}", self.lab.project(f"p{i}")) for i in range(n)]
        for i in range(0, n, 3):  # three at a time, as a restore on two cores manages
            self.start(self.panes[i : i + 3])
        for p in self.panes:
            self.lab.type(p, "[[stream:2:0.05]] hello")
        self.scanner = Scanner(Options(socket_name=self.lab.socket), env=self.lab.env)
        wait_until(lambda: self.idle_count() == n or None, 120, 1.0)
        self.lab.tmux("set-option", "-g", "@otop-command", f"{sys.executable} -m otop")
        self.lab.tmux("run-shell", str(ROOT / "otop.tmux"))
        wait_until(lambda: self.lab.tmux("show", "-gqv", "@otop_watcher_pid").strip(), 30)
        self.watcher = psutil.Process(int(self.lab.tmux("show", "-gqv", "@otop_watcher_pid")))

    def start(self, panes: list[str]) -> None:
        """Start TUIs together; one that never draws (seen now and then when several start at
        once) is killed by its own pid, and the batch starts again one by one."""
        try:
            self.lab.start_together(panes, timeout=60)
            return
        except TimeoutError:
            pass
        for p in panes:
            pid = self.lab.opencode_pid(p)
            if pid is not None and not self.lab.ready(p):
                os.kill(pid, signal.SIGKILL)
                time.sleep(1)
                self.lab.start(p)

    def states(self) -> dict[str, str]:
        return {
            a.pane.id: a.state.value
            for a in self.scanner.scan().agents
            if a.pane is not None and a.session is not None
        }

    def sessions(self) -> dict[str, str]:
        """Each TUI's session id, by pane."""
        return {
            a.pane.id: a.session.brief.id
            for a in self.scanner.scan().agents
            if a.pane is not None and a.session is not None
        }

    def idle_count(self) -> int:
        return sum(s == "idle" for s in self.states().values())

    def close(self) -> None:
        self.scanner.close()
        self.lab.close()


def keep_working(w: World, panes: list[str], stop: threading.Event) -> None:
    """Streaming turns in these panes, started again whenever one ends."""
    while not stop.is_set():
        states = w.states()
        for p in panes:
            if states.get(p) == "idle":
                w.lab.type(p, LONG)
        stop.wait(3.0)


def popup_times(w: World, runs: int) -> tuple[list[float], list[float], list[float]]:
    """prefix+O in a real client to the popup's first frame with rows (its counts line, drawn
    from the watcher's document before the app loads), and to the app itself (its footer)."""
    term = Terminal(w.lab.socket, w.lab.env, 160, 45, target="lab:0")
    rows, app, frame = [], [], []
    try:
        term.pump(1.0)
        for _ in range(runs):
            t0 = time.monotonic()
            term.press(b"\x02O")
            until(term, lambda t: "┌──" in t, 20)  # tmux drew the popup's frame
            frame.append(time.monotonic() - t0)
            try:
                until(term, lambda t: "sort: urgency" in t, 20)
            except TimeoutError:
                log = Path(f"/tmp/otop-{os.getuid()}/watch.log")
                print(term.text(), log.read_text()[-1500:] if log.exists() else "", flush=True)
                raise
            rows.append(time.monotonic() - t0)
            until(term, lambda t: "? help" in t, 20)
            app.append(time.monotonic() - t0)
            term.press(b"q")
            until(term, lambda t: "sort: urgency" not in t, 10)
            term.pump(0.5)
    finally:
        term.close()
    return rows, app, frame


def until(term: Terminal, check: Callable[[str], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not check(term.text()):
        if time.monotonic() > end:
            raise TimeoutError("the popup did not show")
        term.pump(0.01)


def sse_times(w: World, panes: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Enter in an idle TUI to the `/events` event saying its agent works, and to opencode's
    own first record of the prompt (its message row): no monitor of the database can tell
    the turn before that row, so the event's time less the row's is otop's own part."""
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "otop", "-L", w.lab.socket, "serve", "--port", str(port)],
        env=w.lab.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    seen: dict[str, float] = {}
    try:
        wait_until(lambda: can_connect(port) or None, 20, 0.1)
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        con.request("GET", "/events")
        resp = con.getresponse()
        threading.Thread(target=read_events, args=(resp, seen), daemon=True).start()
        told_after: list[float] = []
        written_after: list[float] = []
        sessions = w.sessions()
        for i in range(runs):
            p = panes[i % len(panes)]
            w.lab.tmux("send-keys", "-t", p, "-l", "[[stream:20:0.1]] a short one")
            time.sleep(0.3)
            seen.pop(p, None)
            rows = Rows(w.lab.env, sessions[p])
            t0 = time.time()
            w.lab.tmux("send-keys", "-t", p, "Enter")
            written = rows.wait_for_more(15)
            told_after.append(wait_for_key(seen, p, 15) - t0)
            written_after.append(written - t0)
            deadline = time.monotonic() + 60
            while w.states().get(p) != "idle" and time.monotonic() < deadline:
                time.sleep(0.5)
        con.close()
        return told_after, written_after
    finally:
        serve.terminate()
        serve.wait(5)


class Rows:
    """A session's message rows in opencode's database, counted read-only."""

    def __init__(self, env: dict[str, str], session_id: str) -> None:
        self.con = sqlite3.connect(f"file:{uri_path(db_file(env))}?mode=ro", uri=True)
        self.session_id = session_id
        self.before = self.count()

    def count(self) -> int:
        query = "SELECT count(*) FROM message WHERE session_id = ?"
        return int(self.con.execute(query, (self.session_id,)).fetchone()[0])

    def wait_for_more(self, timeout: float) -> float:
        """When the session had a row more than at the start (polled every 10 ms)."""
        end = time.monotonic() + timeout
        try:
            while self.count() == self.before:
                if time.monotonic() > end:
                    raise TimeoutError(f"no new message in {self.session_id}")
                time.sleep(0.01)
            return time.time()
        finally:
            self.con.close()


def wait_for_key(seen: dict[str, float], key: str, timeout: float) -> float:
    end = time.monotonic() + timeout
    while key not in seen:
        if time.monotonic() > end:
            raise TimeoutError(f"no working event for {key}")
        time.sleep(0.01)
    return seen[key]


def read_events(resp: http.client.HTTPResponse, seen: dict[str, float]) -> None:
    """The time each pane's agent was first said to be working."""
    for raw in resp:
        line = raw.decode(errors="replace")
        if not line.startswith("data: "):
            continue
        e = json.loads(line[6:])
        agent = e.get("agent") or {}
        pane = (agent.get("pane") or {}).get("id")
        if pane and agent.get("group") == "working" and pane not in seen:
            seen[pane] = time.time()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def can_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=17)
    ap.add_argument("--working", type=int, default=5, help="TUIs kept streaming")
    ap.add_argument("--version", default=OPENCODE_VERSION)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument(
        "--soak",
        type=float,
        default=0,
        metavar="MINUTES",
        help="then drive real turns this long and sample RSS, fds and CPU",
    )
    args = ap.parse_args()
    binary = find_binary(args.version)
    if binary is None:
        raise SystemExit(f"opencode {args.version} is not installed (scripts/install-opencode)")
    with tempfile.TemporaryDirectory(prefix="otop-bench-real-") as tmp:
        t0 = time.monotonic()
        w = World(Path(tmp), binary, args.version, args.agents)  # closes its lab if it fails
        up = time.monotonic() - t0
        print(f"{args.agents} real opencode {args.version} TUIs up in {up:.0f} s", flush=True)
        stop = threading.Event()
        busy = threading.Thread(target=keep_working, args=(w, w.panes[: args.working], stop))
        busy.start()
        try:
            report(w, args)
        finally:
            stop.set()
            busy.join()
            w.close()


def measure(w: World, args: argparse.Namespace) -> tuple[steady.Times, dict[str, float]]:
    """Every figure, in one run: with the watcher, without it, after 10,000 old sessions.
    Returns the timed samples (seconds) and the single values (CPU %, seconds)."""
    t: steady.Times = {}
    one: dict[str, float] = {}
    one["watcher 1"], one["watcher 2"] = (steady.cpu_percent(w.watcher, steady.LOOK) for _ in "12")
    exe = agent_ps()
    peer = peer_command(w.lab.root, w.lab.data, w.lab.env, exe) if exe else None
    # Every otop figure compared with agent-ps is timed run by run beside it, at one moment.
    snap = ([otop_exe(), "-L", w.lab.socket, "list", "--json"], w.lab.env)
    t.update(
        steady.interleaved({"snap": snap, "peer": peer} if peer else {"snap": snap}, args.runs)
    )
    t["popup"], t["keys"], t["frame"] = popup_times(w, args.runs)
    t["sse"], t["sse db"] = sse_times(w, w.panes[args.working :], args.runs)
    t["sse otop"] = [told - wrote for told, wrote in zip(t["sse"], t["sse db"], strict=True)]
    one["first with"], one["cpu with"] = steady.app_figures(w.lab)
    steady.stop_watcher(w.lab)
    for name, times in steady.no_watcher_list(w.lab, args.runs, peer).items():
        t[name if name != "peer" else "peer cold"] = times
    one["first alone"], one["cpu alone"] = steady.app_figures(w.lab)
    # Answers before and after the write are timed just before and just after it (the write's
    # seconds apart, not the minutes of the figures between): the load swings.
    steady.settle()
    for name, times in steady.no_watcher_list(w.lab, args.runs, peer).items():
        t[name + " before"] = times
    w.watcher = steady.start_watcher(w.lab, str(ROOT / "otop.tmux"))
    steady.settle()
    for name, times in steady.interleaved({"snap": snap}, args.runs).items():
        t[name + " before"] = times  # "snap before"; "snap cpu before", "snap own before"
    t0 = time.monotonic()
    db = OpencodeDB(Path(db_file(w.lab.env)))
    add_history(db, 10_000)
    db.close()
    one["added"] = time.monotonic() - t0
    steady.settle()
    for name, times in steady.interleaved({"snap": snap}, args.runs).items():
        t[name + " old"] = times  # "snap old"; "snap cpu old", "snap own old"
    steady.stop_watcher(w.lab)
    for name, times in steady.no_watcher_list(w.lab, args.runs, peer).items():
        t[name + " old"] = times
    w.watcher = steady.start_watcher(w.lab, str(ROOT / "otop.tmux"))
    for name in ("peer", "peer cold", "peer old"):
        t.setdefault(name, [nan])  # agent-ps could not be installed, or found no agent
    return t, one


def report(w: World, args: argparse.Namespace) -> None:
    time.sleep(5)  # the streams are under way
    load = psutil.cpu_percent(interval=2.0)
    t, one = measure(w, args)
    print(
        f"machine load while measuring: {load:.0f} % of all cores ({args.working} streaming);"
        f" 10,000 sessions written in {one['added']:.0f} s"
    )
    for line in steady.table(t, one):
        print(line)
    for name, sec in import_times().items():
        print(f"| imports of {name} | {sec * 1000:.1f} ms | | |")
    if args.soak:
        soaked(w, args)


def soaked(w: World, args: argparse.Namespace) -> None:
    """Real turns for `--soak` minutes (streams, tool calls, subagents) in every TUI but the
    streaming ones, the watcher and the full-screen app sampled."""
    app = steady.App(w.lab)
    app.start()
    assert app.proc is not None
    prompts = [
        "[[stream:20:0.1]] a story",
        "[[sh:echo hi]] [[sh:sleep 2]] run these",
        "[[task:general:look around]] ask a helper",
    ]
    turn = [0]
    quiet = w.panes[args.working :]

    def drive() -> None:
        states = w.states()
        for p in quiet:
            if states.get(p) == "idle":
                w.lab.type(p, prompts[turn[0] % len(prompts)])
                turn[0] += 1

    try:
        result = steady.soak({"watcher": w.watcher, "app": app.proc}, args.soak, drive)
    finally:
        app.close()
    print(f"\nsoak: {args.soak:g} min after a 1 min warm-up, {turn[0]} turns started")
    for line in result.report(60):
        print(line)


if __name__ == "__main__":
    main()
