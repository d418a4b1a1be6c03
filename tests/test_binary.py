"""Which opencode a process runs, from the npm package its executable came in: the 1.x line
and opencode 2 side by side, each process by its own file."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from otop.cli import exits
from otop.cli.parser import main
from otop.core.model import ProcKind, State
from otop.scan.scanner import Options, Scanner
from otop.sources.opencode.binary import generation, version_of
from otop.sources.processes import ProcScanner
from tests.conftest import SLEEPER, TmuxServer, wait_for


def package(root: Path, name: str, version: object, exe: bytes = b"#!/bin/sh\n") -> Path:
    """An npm platform package: package.json beside bin/opencode; the executable's path."""
    (root / "bin").mkdir(parents=True)
    (root / "package.json").write_text(json.dumps({"name": name, "version": version}))
    binary = root / "bin" / "opencode"
    binary.write_bytes(exe)
    binary.chmod(0o755)
    return binary


@pytest.mark.parametrize(
    ("name", "version", "expected"),
    [
        ("opencode-linux-x64", "1.18.33", "1.18.33"),
        ("opencode-linux-x64-baseline", "1.14.48", "1.14.48"),
        ("@opencode/cli-linux-x64", "2.1.2", "2.1.2"),
        ("@opencode/cli-darwin-arm64", "2.1.2", "2.1.2"),
        ("left-pad", "1.3.0", None),
        ("opencode-linux-x64", "#(touch /tmp/x)", None),
        ("opencode-linux-x64", 2, None),
    ],
)
def test_a_package_says_the_version(
    tmp_path: Path, name: str, version: object, expected: str | None
) -> None:
    """The package beside the executable names it (opencode's own packages only, a version that
    looks like one), and its major version is the generation."""
    exe = package(tmp_path / "pkg", name, version)
    assert version_of(str(exe)) == expected
    assert generation(expected) == (int(expected.split(".")[0]) if expected else None)


def test_no_package_is_no_version(tmp_path: Path) -> None:
    """An executable with no package beside it, one with a broken package.json, and a path that
    is gone say nothing."""
    lone = tmp_path / "lone" / "bin" / "opencode"
    lone.parent.mkdir(parents=True)
    lone.write_bytes(b"")
    broken = package(tmp_path / "broken", "opencode-linux-x64", "1.0.0")
    (tmp_path / "broken" / "package.json").write_text("{not json")
    assert [version_of(str(p)) for p in (lone, broken, tmp_path / "gone")] == [None] * 3
    assert version_of(None) is None


def opencode_2(tmp_path: Path) -> Path:
    """A copy of this Python as opencode 2.1.2's executable (npm's layout)."""
    real = Path(os.path.realpath(sys.executable))
    exe = package(
        tmp_path / "node_modules" / "@opencode" / "cli-linux-x64",
        "@opencode/cli-linux-x64",
        "2.1.2",
    )
    shutil.copyfile(real, exe)
    return exe


def test_an_opencode_2_tui_beside_a_1x_one(
    tmux: TmuxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An opencode 2 TUI and its service process, in a home whose database has opencode 2's
    schema but whose service says nowhere where it listens: the TUI is listed in its own pane,
    its session and state `unknown` with the reason, the service is no agent, no database is
    complained of, and `list` exits with the status of a server it could not read."""
    exe = opencode_2(tmp_path)
    home = tmp_path / "home"
    data = home / "data" / "opencode"
    data.mkdir(parents=True)
    import sqlite3

    with sqlite3.connect(data / "opencode.db") as conn:  # opencode 2's tables, not 1.x's
        conn.execute("CREATE TABLE session_v2 (id TEXT PRIMARY KEY)")
    env = {"XDG_DATA_HOME": str(home / "data"), "PYTHONHOME": sys.base_prefix}
    words = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    tui = f"exec env {words} {shlex.quote(str(exe))} - <<< {shlex.quote(SLEEPER)}"
    for _ in range(10):
        tmux.new_window(tmp_path, "sleep 600", "filler")
    pane = tmux.new_window(tmp_path, f"bash --norc --noprofile -c {shlex.quote(tui)}", "two")
    service = subprocess.Popen(
        [str(exe), "-", "serve", "--service"], stdin=subprocess.PIPE, env={**os.environ, **env}
    )
    assert service.stdin is not None
    service.stdin.write(SLEEPER.encode())
    service.stdin.close()
    try:
        procs = ProcScanner()

        def seen() -> dict[int, ProcKind]:
            return {p.pid: p.kind for p in procs.scan()[0] if p.version == "2.1.2"}

        wait_for(lambda: len(seen()) == 2, what="the TUI and the service")
        assert service.pid in seen() and seen()[service.pid] == ProcKind.SERVICE
        scanner = Scanner(Options(socket_name=tmux.socket), env={"XDG_DATA_HOME": str(tmp_path)})
        agents = [a for a in scanner.scan().agents if a.proc and a.proc.version == "2.1.2"]
        assert len(agents) == 1 and agents[0].pane is not None and agents[0].pane.id == pane
        assert int(pane[1:]) >= 10
        assert agents[0].state == State.UNKNOWN and agents[0].session is None
        assert "no opencode service is running" in agents[0].evidence_session.detail
        assert [p for p in scanner.scan().problems if str(home) in p.message] == []
        scanner.close()
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
        assert main(["-L", tmux.socket, "list"]) == exits.NO_SERVER
    finally:
        service.kill()
        service.wait()
