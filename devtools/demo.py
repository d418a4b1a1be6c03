"""The demo: simulated opencode agents in a private tmux server, watched by otop.

Each agent is a process named `opencode` that writes opencode's real schema into the demo's
own data dir, logs its run to the shared log, sets its pane title and draws a permission
dialog when it asks for one; otop finds them exactly as it finds real agents.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from devtools import ROOT
from devtools.agent import log_line
from devtools.private_tmux import PrivateTmux
from devtools.store import OpencodeDB, now_ms

AGENTS = [
    ("api", "Add pagination to the orders API"),
    ("web", "Fix the flaky login test"),
    ("docs", "Write the migration guide"),
    ("infra", "Bump the base image"),
    ("data", "Speed up the nightly export"),
]
PERMISSION = (
    "\n  △ Permission required\n    ← Run: rm -rf build/\n\n   Allow once   Allow always   Reject\n"
)


def _clear() -> None:
    sys.stdout.write("\033[2J\033[H")


@dataclass
class Sim:
    """One simulated agent's database, session and log run."""

    db: OpencodeDB
    sid: str
    log: Path
    run: str
    cwd: str

    def log_line(self, message: str, **fields: str) -> None:
        with self.log.open("a") as f:
            f.write(log_line(self.run, message, **fields))

    def text(self, mid: str, words: str) -> None:
        """A finished text part, as opencode writes it in one burst at the end."""
        self.db.part(
            mid,
            self.sid,
            {"type": "text", "text": words, "time": {"start": now_ms(), "end": now_ms()}},
        )


def play(name: str, title: str, data: Path, phase: int) -> None:
    """One simulated agent: cycles through real states, writing rows as opencode does."""
    db = OpencodeDB(data / "opencode" / "opencode.db")
    cwd = os.getcwd()
    sim = Sim(db, "", data / "opencode" / "log" / "opencode.log", uuid.uuid4().hex[:8], cwd)
    time.sleep(0.5)
    sim.log_line("creating instance", directory=cwd)
    sim.sid = db.session(cwd, title)
    db.finished_turn(sim.sid, "Look at the code first", "I read the module.", at=now_ms() - 5000)
    sys.stdout.write(f"\033]2;OC | {title}\007")
    steps = list(STEPS)
    i = phase
    while True:
        step = steps[i % len(steps)]
        i += 1
        _clear()
        print(f"(simulated opencode agent '{name}': {step})\n")
        sim.log_line("loop", session__id=sim.sid, step="0")
        STEPS[step](sim)


def _generating(sim: Sim) -> None:
    sim.db.user(sim.sid, "Carry on with the next step")
    mid = sim.db.assistant(sim.sid)
    sim.db.part(mid, sim.sid, {"type": "step-start"})
    sim.db.part(mid, sim.sid, {"type": "text", "text": "", "time": {"start": now_ms()}})
    time.sleep(5)
    sim.text(mid, "Next I will run the build.")
    sim.db.complete(mid, finish="tool-calls")


def _tool(sim: Sim) -> None:
    mid = sim.db.assistant(sim.sid)
    print("$ make test")
    part = sim.db.tool_part(mid, sim.sid, "bash", inp={"command": "make test"})
    time.sleep(5)
    done = {
        "status": "completed",
        "input": {},
        "output": "ok",
        "time": {"start": now_ms(), "end": now_ms()},
    }
    sim.db.update_part(part, {"type": "tool", "tool": "bash", "callID": "c", "state": done})
    sim.db.complete(mid, finish="tool-calls")


def _permission(sim: Sim) -> None:
    mid = sim.db.assistant(sim.sid)
    sim.db.tool_part(mid, sim.sid, "bash", inp={"command": "rm -rf build/"})
    sim.log_line("asking", id=f"per_{uuid.uuid4().hex[:12]}", permission="bash")
    print(PERMISSION)
    time.sleep(8)
    sim.text(mid, "Build dir cleaned. All tests pass.")
    sim.db.complete(mid, finish="stop")
    sim.log_line("exiting loop", session__id=sim.sid)


def _idle(sim: Sim) -> None:
    print("  Ask anything...")
    time.sleep(6)


def _question(sim: Sim) -> None:
    sim.db.user(sim.sid, "Which database should the export use?")
    mid = sim.db.assistant(sim.sid)
    sim.db.tool_part(mid, sim.sid, "question", inp={"questions": [{"question": "Which one?"}]})
    print("  Which database should the export use?\n  1. postgres\n  2. sqlite")
    time.sleep(7)
    sim.db.complete(mid, finish="stop")


def _subagent(sim: Sim) -> None:
    sim.db.user(sim.sid, "Survey the callers in parallel")
    mid = sim.db.assistant(sim.sid)
    child = sim.db.session(sim.cwd, "Survey callers (@general subagent)", parent=sim.sid)
    sim.db.tool_part(mid, sim.sid, "task", metadata={"sessionId": child})
    sim.db.user(child, "Survey the callers")
    cm = sim.db.assistant(child)
    sim.db.part(cm, child, {"type": "text", "text": "", "time": {"start": now_ms()}})
    time.sleep(6)
    sim.db.complete(cm, finish="stop")
    sim.text(mid, "Found 14 callers; 3 need changes.")
    sim.db.complete(mid, finish="stop")


STEPS: dict[str, Callable[[Sim], None]] = {
    "generating": _generating,
    "tool": _tool,
    "permission": _permission,
    "idle": _idle,
    "question": _question,
    "subagent": _subagent,
    "idle2": _idle,
}


def load_plugin(tmux: Callable[..., str]) -> None:
    """The plugin, loaded as a user's tmux.conf would: counts in the status line, badges on
    the windows, prefix+O for the popup and prefix+N for the agent waiting longest."""
    tmux("set", "-g", "status-right-length", "120")
    tmux(
        "set",
        "-g",
        "status-right",
        "#{otop_status}  | C-b O popup, C-b N next waiting, C-b d leave",
    )
    tmux("set", "-g", "@otop-command", f"{shlex.quote(sys.executable)} -m otop")
    tmux("run-shell", str(ROOT / "otop.tmux"))


class Demo:
    """A private tmux server (own socket, own config) with simulated agents and otop."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="otop-demo-"))
        self.data = self.root / ".otop-data"
        (self.data / "opencode" / "log").mkdir(parents=True)
        OpencodeDB(self.data / "opencode" / "opencode.db").close()
        db = self.data / "opencode" / "opencode.db"
        # OTOP_DB: the demo's views (its own otop, the plugin's watcher and popup) list the
        # demo's agents only, not the other opencode processes of whoever runs it.
        self.env = {
            **os.environ,
            "XDG_DATA_HOME": str(self.data),
            "PYTHONPATH": str(ROOT),
            "OTOP_DB": str(db),
        }
        for name in ("TMUX", "COLUMNS", "LINES"):  # the panes have their own sizes
            self.env.pop(name, None)
        self.tmux_server = PrivateTmux("otop-demo", self.env)
        self.socket = self.tmux_server.socket

    def tmux(self, *args: str) -> str:
        """A tmux command on the demo's server; what it printed (a failure prints nothing)."""
        return self.tmux_server(*args, check=False)

    def start(self) -> None:
        py = shlex.quote(sys.executable)
        watch = f"{py} -m otop ui --interval 1"
        shell = f"bash --norc --noprofile -c {shlex.quote(watch)}"
        self.tmux_server.window("demo", "-n", "otop", "-c", str(self.root), shell, size=(150, 40))
        self.tmux("set", "-g", "default-size", "150x40")
        for phase, (name, title) in enumerate(AGENTS):
            d = self.root / name
            d.mkdir()
            # Parameters travel in the environment: an argv word would read as opencode's
            # project-directory argument (or a subcommand: `web` is one).
            cmd = (
                f"OTOP_DEMO_PLAY={shlex.quote(name)} OTOP_DEMO_TITLE={shlex.quote(title)}"
                f" OTOP_DEMO_PHASE={phase} exec -a opencode {py} -m devtools.demo"
            )
            shell = f"bash --norc --noprofile -c {shlex.quote(cmd)}"
            self.tmux_server.window("demo", "-n", name, "-c", str(d), shell)
        load_plugin(self.tmux)

    def status(self) -> str:
        """What the plugin shows: the counts, then each window's badge."""
        out = [f"status: {self.tmux('show', '-gqv', '@otop_status').strip()}"]
        for line in self.tmux("list-windows", "-t", "demo", "-F", "#{window_name}").split():
            badge = self.tmux("show", "-wqv", "-t", f"demo:{line}", "@otop_badge").rstrip("\n")
            out.append(f"badge {line}:{badge}")
        return "\n".join(out)

    def close(self) -> None:
        if self.tmux_server.started:
            sock = self.tmux("display", "-p", "#{socket_path}").strip()
            self.tmux_server.kill()
            if sock:
                _wait_watcher(sock)
        shutil.rmtree(self.root, ignore_errors=True)


def _wait_watcher(socket_path: str) -> None:
    """The plugin's watcher leaves once its server is gone; make sure before returning."""
    # Imported here: the simulated agents run this module under argv[0] `opencode`, where
    # Python cannot see the virtualenv's packages (psutil).
    from otop.watcher.runtime import holder, is_watcher, lock_path

    lock = lock_path(socket_path)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and holder(lock):
        time.sleep(0.1)
    pid = holder(lock)
    if pid and is_watcher(pid):
        os.kill(pid, signal.SIGTERM)


REAL_PROMPTS = [
    ("api", "[[title:Add pagination to the orders API]] [[stream:60:0.5]] paginate"),
    ("web", "[[title:Fix the flaky login test]] [[sh:sleep 40]] fix it"),
    ("docs", '[[title:Write the migration guide]] [[call:read:{"filePath":"/etc/hostname"}]] go'),
]


def real_demo(headless: float | None) -> int:
    """The same tour with the real opencode, offline against the scripted model."""
    from devtools.lab import Lab, find_binary

    binary = find_binary()
    if binary is None and shutil.which("npm"):
        print("demo: installing opencode into .cache/opencode (first run only)...", file=sys.stderr)
        done = subprocess.run(
            [str(ROOT / "scripts" / "install-opencode")], capture_output=True, text=True
        )
        binary = done.stdout.strip() or None if done.returncode == 0 else None
    if binary is None:
        print(
            "demo: --real needs opencode (and npm to install it): run scripts/demo without "
            "--real for simulated agents",
            file=sys.stderr,
        )
        return 2
    lab = Lab(Path(tempfile.mkdtemp(prefix="otop-demo-real-")), binary)
    lab.env["OTOP_DB"] = str(lab.data / "opencode" / "opencode.db")  # its own agents only
    sock = ""
    try:
        panes = {name: lab.window(name, lab.project(name)) for name, _ in REAL_PROMPTS}
        py = shlex.quote(sys.executable)
        lab.tmux("new-window", "-d", "-t", "lab:", "-n", "otop", f"{py} -m otop ui --interval 1")
        load_plugin(lab.tmux)
        sock = lab.tmux("display", "-p", "#{socket_path}").strip()
        for name, prompt in REAL_PROMPTS:
            lab.start(panes[name])
            lab.type(panes[name], prompt)
        if headless is not None or not sys.stdout.isatty():
            end = time.monotonic() + (headless or 20)
            while time.monotonic() < end:
                time.sleep(2)
                print(lab.tmux("capture-pane", "-p", "-t", "lab:otop").rstrip())
                print(f"status: {lab.tmux('show', '-gqv', '@otop_status').strip()}\n")
        else:
            subprocess.run(["tmux", "-L", lab.socket, "attach", "-t", "lab:otop"], env=lab.env)
    finally:
        lab.close()
        if sock:
            _wait_watcher(sock)
    return 0


def _leave(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="otop demo with simulated opencode agents")
    ap.add_argument(
        "--headless",
        type=float,
        metavar="SECONDS",
        help="print otop's view for SECONDS instead of attaching",
    )
    ap.add_argument(
        "--real",
        action="store_true",
        help="real opencode TUIs against the scripted model (needs opencode or npm)",
    )
    args = ap.parse_args(argv)
    play_name = os.environ.pop("OTOP_DEMO_PLAY", None)
    if play_name:
        try:
            import ctypes

            ctypes.CDLL(None).prctl(15, b"opencode", 0, 0, 0)
        except (OSError, AttributeError):
            pass
        title = os.environ.pop("OTOP_DEMO_TITLE", play_name)
        phase = int(os.environ.pop("OTOP_DEMO_PHASE", "0"))
        play(play_name, title, Path(os.environ["XDG_DATA_HOME"]), phase)
        return 0
    # A closed terminal hangs the demo up: leave as after a detach, with nothing left running.
    signal.signal(signal.SIGHUP, _leave)
    signal.signal(signal.SIGTERM, _leave)
    if args.real:
        return real_demo(args.headless)
    demo = Demo()
    try:
        demo.start()
        if args.headless is not None or not sys.stdout.isatty():
            end = time.monotonic() + (args.headless or 10)
            while time.monotonic() < end:
                time.sleep(2)
                print(demo.tmux("capture-pane", "-p", "-t", "demo:otop").rstrip())
                print(demo.status() + "\n")
            if os.environ.get("OTOP_DEMO_DEBUG"):
                for name, _ in AGENTS:
                    print(
                        name, demo.tmux("capture-pane", "-p", "-t", f"demo:{name}").strip()[-300:]
                    )
        else:
            subprocess.run(["tmux", "-L", demo.socket, "attach", "-t", "demo:otop"], env=demo.env)
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
