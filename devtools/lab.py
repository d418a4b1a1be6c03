"""A real opencode, isolated and offline: its own HOME and XDG dirs, a private tmux server and
the scripted model on loopback. Used by the end-to-end tests and `scripts/demo --real`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from devtools import ROOT
from devtools.fake_llm import Server
from devtools.private_tmux import PrivateTmux
from otop.core.versions import opencode_versions

T = TypeVar("T")
# Every version the end-to-end tests run against, the pinned one first (otop/core/versions.txt;
# scripts/install-opencode installs each); $OTOP_OPENCODE_VERSIONS (comma-separated) narrows
# a lane of scripts/test to some of them.
OPENCODE_VERSION = opencode_versions()[0]
_ASKED = (
    tuple(v for v in os.environ.get("OTOP_OPENCODE_VERSIONS", "").split(",") if v)
    or opencode_versions()
)
# The 1.x line (a database per home, read by the 1.x suites) and opencode 2 (a per-user
# service, read by tests/e2e/test_current_real.py).
OPENCODE_VERSIONS = tuple(v for v in _ASKED if not v.startswith("2."))
CURRENT_VERSIONS = tuple(v for v in _ASKED if v.startswith("2."))
READY_TEXTS = ("Ask anything", "ctrl+p commands")
QUIET_ENV = {
    "OPENCODE_DISABLE_AUTOUPDATE": "1",
    "OPENCODE_DISABLE_MODELS_FETCH": "1",
    "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
    "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
    "OPENCODE_DISABLE_SHARE": "1",
    "OPENCODE_DISABLE_CLAUDE_CODE": "1",
    "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1",
    "OPENCODE_DISABLE_EMBEDDED_WEB_UI": "1",
}


def find_binary(version: str = OPENCODE_VERSION) -> str | None:
    """An opencode binary for the tests: $OTOP_OPENCODE_BIN for the pinned version, else the
    project's cache (scripts/install-opencode)."""
    env = os.environ.get("OTOP_OPENCODE_BIN")
    if version == OPENCODE_VERSION and env and os.access(env, os.X_OK):
        return env
    root = ROOT / ".cache" / "opencode" / version
    for pkg in (
        *("opencode-linux-x64", "opencode-linux-x64-baseline", "opencode-linux-arm64"),
        *(
            "@opencode/cli-linux-x64",
            "@opencode/cli-linux-x64-baseline",
            "@opencode/cli-linux-arm64",
        ),
    ):
        cand = root / "node_modules" / pkg / "bin" / "opencode"
        if os.access(cand, os.X_OK):
            return str(cand)
    return None


def wait_until(check: Callable[[], T | None], timeout: float, every: float = 0.2) -> T:
    """Poll until `check` returns something truthy; raise TimeoutError with the last value."""
    end = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= end:
            raise TimeoutError(f"condition not met in {timeout:g} s (last: {last!r})")
        time.sleep(every)


class Lab:
    """One isolated opencode world with a private tmux server."""

    def __init__(self, root: Path, binary: str, version: str = OPENCODE_VERSION) -> None:
        self.root = root
        self.binary = binary
        self.version = version
        self.server = Server().start()
        home = root / "home"
        xdg = root / "xdg"
        self.data = xdg / "data"
        for d in (
            home,
            self.data,
            xdg / "config" / "opencode",
            xdg / "state",
            xdg / "cache",
            root / "bin",
        ):
            d.mkdir(parents=True, exist_ok=True)
        os.symlink(binary, root / "bin" / "opencode")
        self.env = {
            "PATH": f"{root / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "HOME": str(home),
            "XDG_DATA_HOME": str(self.data),
            "XDG_CONFIG_HOME": str(xdg / "config"),
            "XDG_STATE_HOME": str(xdg / "state"),
            "XDG_CACHE_HOME": str(xdg / "cache"),
            "TERM": "xterm-256color",
            "LANG": "C.UTF-8",
            **QUIET_ENV,
        }
        # The caller's runtime directory (the test run's own, under pytest): the lab's watcher
        # keeps its lock and scan where the caller's reads look for them.
        if "XDG_RUNTIME_DIR" in os.environ:
            self.env["XDG_RUNTIME_DIR"] = os.environ["XDG_RUNTIME_DIR"]
        # The tmux server runs with this very dict: what a caller adds to `env` reaches it.
        self.tmux = PrivateTmux("otop-lab", self.env)
        self.socket = self.tmux.socket
        self._configure(xdg / "config" / "opencode")

    def _configure(self, cfg: Path) -> None:
        config = {
            "$schema": "https://opencode.ai/config.json",
            "autoupdate": False,
            "share": "disabled",
            "model": "fake/fake-model",
            "small_model": "fake/fake-model",
            "enabled_providers": ["fake"],
            "provider": {
                "fake": {
                    "npm": "@ai-sdk/openai-compatible",
                    "name": "Fake",
                    "options": {
                        "baseURL": f"http://127.0.0.1:{self.server.port}/v1",
                        "apiKey": "x",
                    },
                    "models": {
                        "fake-model": {
                            "name": "Fake Model",
                            "limit": {"context": 100000, "output": 4096},
                        }
                    },
                }
            },
        }
        (cfg / "opencode.json").write_text(json.dumps(config, indent=1))
        # Without this stub opencode runs `npm install @opencode-ai/plugin` in its config dir.
        (cfg / "node_modules").mkdir(exist_ok=True)
        dep = {"@opencode-ai/plugin": self.version}
        (cfg / "package.json").write_text(json.dumps({"dependencies": dep}))
        lock = {"lockfileVersion": 3, "packages": {"": {"dependencies": dep}}}
        (cfg / "package-lock.json").write_text(json.dumps(lock))

    def project(self, name: str, git: bool = True) -> Path:
        """A project directory (a git repository, as most real projects are)."""
        d = self.root / "projects" / name
        d.mkdir(parents=True, exist_ok=True)
        if git and not (d / ".git").exists():
            (d / "README.md").write_text(f"# {name}\n")
            env = {
                **self.env,
                "GIT_AUTHOR_NAME": "t",
                "GIT_AUTHOR_EMAIL": "t@t",
                "GIT_COMMITTER_NAME": "t",
                "GIT_COMMITTER_EMAIL": "t@t",
            }
            for cmd in (
                ["git", "init", "-q"],
                ["git", "add", "."],
                ["git", "commit", "-qm", "init"],
            ):
                subprocess.run(cmd, cwd=d, env=env, check=True, capture_output=True)
        return d

    # -- tmux -------------------------------------------------------------------------------

    def fillers(self, count: int = 10) -> None:
        """Windows with nothing in them, so the panes under test sit at %10 and above (a
        user's server is rarely fresh; facts that only hold for %0 and %1 are no facts)."""
        for i in range(count):
            self.window(f"filler{i}", self.root)

    def window(self, name: str, cwd: Path) -> str:
        """A new window with a plain shell; returns its pane id."""
        shell = "bash --norc --noprofile"
        if self.tmux.started:
            return self.tmux.window("lab", "-n", name, "-c", str(cwd))
        pane = self.tmux.window("lab", "-n", name, "-c", str(cwd), shell, size=(160, 45))
        self.tmux("set", "-g", "default-command", shell)
        self.tmux("set", "-g", "remain-on-exit", "off")
        return pane

    def start(self, pane: str, *args: str, env: dict[str, str] | None = None) -> None:
        """Run opencode in a pane's shell and wait for its prompt."""
        self.start_together([pane], *args, env=env)

    def start_together(
        self,
        panes: list[str],
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> None:
        """Start opencode in several panes at the same moment (one tmux command presses Enter in
        every pane, as a tmux-resurrect restore does) and wait for every prompt."""
        extra = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        cmd = " ".join(["opencode", *args])
        for pane in panes:
            self.tmux("send-keys", "-t", pane, "-l", f"{extra} {cmd}".strip())
        chained: list[str] = []
        for pane in panes:
            chained += [*([";"] if chained else []), "send-keys", "-t", pane, "Enter"]
        self.tmux(*chained)
        try:
            wait_until(lambda: all(self.ready(p) for p in panes), timeout, 0.3)
        except TimeoutError:  # what the panes show instead is the first thing to know
            shown = {p: self.screen(p).strip()[-600:] for p in panes if not self.ready(p)}
            raise TimeoutError(f"opencode not ready in {timeout:g} s: {shown}") from None

    def ready(self, pane: str) -> bool:
        """Whether opencode's prompt is drawn in a pane."""
        return any(t in self.screen(pane) for t in READY_TEXTS)

    def screen(self, pane: str) -> str:
        return self.tmux("capture-pane", "-p", "-t", pane, check=False)

    def type(self, pane: str, text: str) -> None:
        """Type a prompt and submit it, as a person would."""
        self.tmux("send-keys", "-t", pane, "-l", text)
        time.sleep(0.3)
        self.tmux("send-keys", "-t", pane, "Enter")

    def keys(self, pane: str, *keys: str) -> None:
        self.tmux("send-keys", "-t", pane, *keys)

    def opencode_pid(self, pane: str) -> int | None:
        """The opencode process running in a pane (a child of the pane's shell)."""
        import psutil

        shell = int(self.tmux("display", "-p", "-t", pane, "#{pane_pid}").strip())
        try:
            for child in psutil.Process(shell).children():
                if child.name() in ("opencode", "opencode.exe"):
                    return child.pid
        except psutil.NoSuchProcess:
            return None
        return None

    def close(self) -> None:
        """Stop everything this lab started: its opencode processes, tmux server and model."""
        import psutil

        pids: list[int] = []
        if self.tmux.started:
            for line in self.tmux("list-panes", "-a", "-F", "#{pane_pid}", check=False).split():
                with contextlib.suppress(psutil.NoSuchProcess, ValueError):
                    pids += [c.pid for c in psutil.Process(int(line)).children(recursive=True)]
            self.tmux.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._stop_service()
        self.server.shutdown()
        self.server.server_close()

    def _stop_service(self) -> None:
        """opencode 2's per-user service of this lab's home, which outlives the TUIs: stopped
        by the pid its service.json names, when that process runs this lab's binary."""
        path = Path(self.env["XDG_STATE_HOME"]) / "opencode" / "service.json"
        try:
            pid = int(json.loads(path.read_text())["pid"])
            exe = os.path.realpath(f"/proc/{pid}/exe") if os.path.isdir("/proc") else ""
        except (OSError, ValueError, KeyError, TypeError):
            return
        if exe == os.path.realpath(self.binary):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def cleanup_files(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
