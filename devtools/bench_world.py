"""The benchmarks' world: history databases of any size (built once, kept in .cache/bench),
and live fake agents over a copy of one in a private tmux server (Bench)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from devtools import ROOT
from devtools.private_tmux import PrivateTmux
from devtools.store import OpencodeDB, now_ms

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


def otop_exe() -> str:
    """The `otop` command of this venv, as a user runs it (not `python -m otop`, which adds
    runpy's start)."""
    return str(Path(sys.executable).with_name("otop"))


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
        self.env = {**os.environ, "XDG_DATA_HOME": str(self.root / "data")}
        self.env.pop("TMUX", None)
        self.tmux_server = PrivateTmux("otop-bench", self.env)
        self.socket = self.tmux_server.socket
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
            self.tmux_server.window("b", "-c", str(d), cmd)
        db.close()
        self.agents = agents

    def tmux(self, *args: str) -> str:
        """A tmux command on the bench's server; what it printed (a failure prints nothing)."""
        return self.tmux_server(*args, check=False)

    def close(self) -> None:
        self.tmux_server.kill()
        subprocess.run(["rm", "-rf", str(self.root)], check=False)
