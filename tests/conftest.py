"""Shared fixtures: real SQLite files in opencode's schema, private tmux servers, processes."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.private_tmux import PrivateTmux
from devtools.store import OpencodeDB
from devtools.terminal import attach
from otop.sources.opencode.store import Store
from otop.sources.tmux import Target, Tmux
from otop.watcher.runtime import beats, holder, lock_path, log_path

# Times in views are local: tests see them in one zone, whatever the machine's.
os.environ["TZ"] = "UTC"
time.tzset()

# Fixtures that start a tmux server: a test using one is marked `tmux`, and runs on every tmux
# version of the matrix (scripts/test; `--tmux PATH` picks the binary).
TMUX_FIXTURES = {"tmux", "world", "lab", "ui_world", "attn"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--tmux",
        default=None,
        help="the tmux binary every test runs (first on PATH for the tests and what they start)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # The watcher's locks, attention and kept files of every test in a runtime directory of
    # this run's own (removed at its end), not in the machine's: what the tests start reads and
    # writes there, and a user's running otop neither sees them nor is seen.
    runtime = tempfile.mkdtemp(prefix="otop-run-")
    config.add_cleanup(lambda: shutil.rmtree(runtime, ignore_errors=True))
    os.environ["XDG_RUNTIME_DIR"] = runtime
    binary = config.getoption("--tmux")
    if binary:
        # A directory holding only this tmux, first on PATH: tmux servers, their clients, the
        # plugin's shell glue and otop itself all run the same binary.
        path = Path(binary).resolve()
        if not os.access(path, os.X_OK):
            raise pytest.UsageError(f"--tmux {binary}: not an executable")
        shim = Path(tempfile.mkdtemp(prefix="otop-tmux-"))
        (shim / "tmux").symlink_to(path)
        config.add_cleanup(lambda: shutil.rmtree(shim, ignore_errors=True))
        os.environ["PATH"] = f"{shim}:{os.environ['PATH']}"
    out = subprocess.run(["tmux", "-V"], capture_output=True, text=True).stdout.strip()
    TMUX_VERSION[0] = out


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if TMUX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.tmux)


def pytest_report_header() -> str:
    return f"tmux: {TMUX_VERSION[0]} ({shutil.which('tmux')})"


TMUX_VERSION = [""]  # `tmux -V` of the binary under test, e.g. "tmux 3.5a"


def tmux_version() -> tuple[int, int]:
    """The tmux under test as (major, minor)."""
    from otop.plugin.wiring import tmux_version as parse

    return parse(TMUX_VERSION[0])


@pytest.fixture
def db(tmp_path: Path) -> Iterator[OpencodeDB]:
    """A fresh opencode 1.18 database under a private XDG_DATA_HOME."""
    d = OpencodeDB(tmp_path / "data" / "opencode" / "opencode.db", seed=1)
    yield d
    d.close()


@pytest.fixture
def store(db: OpencodeDB) -> Iterator[Store]:
    s = Store(db.path)
    s.open()
    yield s
    s.close()


class TmuxServer(PrivateTmux):
    """A private tmux server for one test: its windows in session `s`, 120 by 30."""

    def __init__(self) -> None:
        super().__init__("otop-test")

    def new_window(self, cwd: Path, command: str, name: str = "w") -> str:
        """A window running `command` in `cwd`; returns its pane id."""
        return self.window("s", "-n", name, "-c", str(cwd), command, size=(120, 30))


@pytest.fixture
def tmux() -> Iterator[TmuxServer]:
    server = TmuxServer()
    yield server
    server.kill()


SLEEPER = (
    "import ctypes, time\nctypes.CDLL(None).prctl(15, b'opencode', 0, 0, 0)\ntime.sleep(600)\n"
)


def fake_opencode(*args: str) -> str:
    """A shell command running a process that looks like opencode: argv[0] and comm `opencode`.

    The Python program comes on stdin, so argv holds only `opencode - ARGS`.
    """
    quoted = " ".join(shlex.quote(a) for a in args)
    return f"exec -a opencode {sys.executable} - {quoted} <<< {shlex.quote(SLEEPER)}"


def fake_opencode_in_bash(*args: str) -> str:
    """The same, as a command for tmux (whose default shell may not know `exec -a`)."""
    return f"bash --norc --noprofile -c {shlex.quote(fake_opencode(*args))}"


def spawn_fake(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    """A fake opencode process outside tmux."""
    return subprocess.Popen(["bash", "-c", fake_opencode(*args)], cwd=cwd)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes started by a test, killed by pid afterwards."""
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        p.kill()
        p.wait()


PERMISSION_SCREEN = (
    "Permission required\\n  Allow once   Allow always   Reject\\n\\n  ctrl+p commands\\n"
)


def agent_cmd(*args: str, title: str | None = None, screen: str = "") -> str:
    """A tmux command for a fake opencode that first sets a pane title and prints a screen."""
    pre = ""
    if title is not None:
        pre += f"printf '\\033]2;%s\\007' {shlex.quote(title)}; "
    if screen:
        pre += f"printf '{screen}'; "
    return f"bash --norc --noprofile -c {shlex.quote(pre + fake_opencode(*args))}"


def pid_in(tmux: TmuxServer, pane: str) -> int:
    """The pid of the fake opencode in a pane, once it runs."""

    def find() -> int:
        return int(tmux("display", "-p", "-t", pane, "#{pane_pid}").strip())

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if tmux("display", "-p", "-t", pane, "#{pane_current_command}").strip() == "opencode":
            return find()
        time.sleep(0.05)
    raise AssertionError(f"no opencode in {pane}")


class Client:
    """A real tmux client attached to a private server through a pseudo-terminal."""

    def __init__(self, server: TmuxServer, cols: int = 120, rows: int = 32) -> None:
        def names() -> set[str]:
            return set(server("list-clients", "-F", "#{client_name}", check=False).split())

        before = names() if server.started else set()
        self.proc, self.master = attach(server.socket, server.env, cols, rows)
        self.server = server
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        wait_for(lambda: names() - before, 5, what="the client to attach")
        self.name = sorted(names() - before)[0]

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self.output += chunk

    def seen(self) -> bytes:
        with self._lock:
            return bytes(self.output)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def pane(self) -> str:
        """The pane this client shows now (from list-clients: tmux 3.1c's `display -c` does
        not expand for the client)."""
        for line in self.server("list-clients", "-F", "#{client_name} #{pane_id}").splitlines():
            name, _, pane = line.partition(" ")
            if name == self.name:
                return pane
        return ""

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent)


def wait_for(check: Callable[[], object], timeout: float = 8.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class World:
    """A private tmux server with otop's environment, a database, and fake agents in it."""

    server: TmuxServer
    db: OpencodeDB
    tmp: Path

    @property
    def tmux(self) -> Tmux:
        return Tmux(Target(socket_name=self.server.socket))

    def option(self, name: str, window: str | None = None) -> str:
        args = ["show-options", "-wqv", "-t", window] if window else ["show-options", "-gqv"]
        return self.server(*args, name).rstrip("\n")

    def load(self) -> None:
        """Load the plugin as TPM does: run otop.tmux from inside tmux, output discarded."""
        self.server("run-shell", str(ROOT / "otop.tmux"))

    def watcher(self) -> int | None:
        return holder(lock_path(self.socket_path()))

    def wait_watcher(self, timeout: float = 20.0) -> None:
        """Wait for the plugin's watcher; when it does not come, fail with what the plugin's
        setup said and the watchers' log (the reason is there)."""
        try:
            wait_for(self.watcher, timeout, what="the watcher")
        except AssertionError:
            said = self.option("@otop_status")
            log = Path(log_path())
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise AssertionError(f"no watcher: @otop_status {said!r}; watch.log: {tail}") from None

    def socket_path(self) -> str:
        return self.server("display", "-p", "#{socket_path}").strip()

    def beats(self) -> int:
        """How many beats the running watcher has made (0 before it runs)."""
        counted = beats(lock_path(self.socket_path()))
        return counted[0] if counted else 0

    def wait_beats(self, n: int, timeout: float = 20.0) -> None:
        """Wait until the watcher has made `n` more beats: how a test proves that nothing more
        happened, without guessing a time."""
        start = self.beats()
        wait_for(lambda: self.beats() >= start + n, timeout, what=f"{n} watcher beats")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    data = tmp_path / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.delenv("OPENCODE_DB", raising=False)
    monkeypatch.delenv("TMUX", raising=False)
    # OTOP_DB: otop lists only this world's agents, never another opencode process of the
    # machine's (a developer's own, or another test run's), whichever database it uses.
    own = str(data / "opencode" / "opencode.db")
    monkeypatch.setenv("OTOP_DB", own)
    server = TmuxServer()
    server.env.update(XDG_DATA_HOME=str(data), PATH=f"{BIN}:{os.environ['PATH']}", OTOP_DB=own)
    server.env.pop("OPENCODE_DB", None)
    home = tmp_path / "home"
    home.mkdir()
    server.new_window(home, "sleep 600", "shell")
    db = OpencodeDB(data / "opencode" / "opencode.db", seed=5)
    w = World(server, db, tmp_path)
    sock = server("display", "-p", "#{socket_path}").strip()
    yield w
    server.kill()
    # The watcher leaves by itself once its server is gone; make sure of it.
    lock = lock_path(sock)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and holder(lock):
        time.sleep(0.05)
    pid = holder(lock)
    if pid:
        os.kill(pid, signal.SIGTERM)
    db.close()
