"""`otop doctor` on a healthy set-up and on broken ones, with real tmux servers and files."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from otop.cli import exits
from otop.cli.parser import main
from otop.core.versions import tmux_versions
from tests.conftest import World, agent_cmd, pid_in


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main([*args, "doctor"])
    return status, capsys.readouterr().out


def test_healthy(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Plugin loaded, watcher up, a database and a mapped agent: every check is fine."""
    d = world.tmp / "proj"
    d.mkdir()
    sid = world.db.session(str(d), "Healthy")
    world.db.finished_turn(sid, "hi", "done")
    pid_in(world.server, world.server.new_window(d, agent_cmd("-s", sid), "a"))
    world.server("set-option", "-g", "status-right", "#{otop_status}")
    world.load()
    world.wait_watcher()
    status, out = doctor(capsys, "-L", world.server.socket)
    assert status == 0, out
    assert "FAIL" not in out
    assert "ok    plugin    loaded; keys prefix+O, prefix+N" in out
    assert "ok    status    the status line shows the counts" in out
    assert f"ok    watcher   running (pid {world.watcher()})" in out
    assert "ok    database" in out and "1 sessions" in out
    assert f"{sid}, idle; session by argv (certain); database {world.db.path}" in out


def test_no_database_and_no_plugin(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine where opencode never ran and the plugin is not loaded: warnings, exit 0."""
    monkeypatch.setenv("XDG_DATA_HOME", str(world.tmp / "elsewhere"))
    monkeypatch.delenv("OTOP_DB")
    status, out = doctor(capsys, "-L", world.server.socket)
    assert status == 0
    assert "warn  database  no opencode database at" in out
    assert "warn  plugin    not loaded in this server" in out
    assert "warn  status    no counts: put #{otop_status} in status-right" in out


def test_corrupt_database_fails(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database file that is not SQLite is broken: FAIL and exit 1."""
    bad = world.tmp / "bad.db"
    bad.write_bytes(b"this is not a database at all" * 100)
    status, out = doctor(capsys, "-L", world.server.socket, "--db", str(bad))
    assert status == exits.NO_DATABASE
    assert "FAIL  database" in out


def test_dead_watcher_fails(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Plugin bindings present but no watcher: counts would be frozen, so FAIL."""
    from otop.plugin import wiring

    wiring.setup(world.tmux, start=False)
    status, out = doctor(capsys, "-L", world.server.socket)
    assert status == 1
    assert "FAIL  watcher   not running" in out


def fake_tmux(tmp_path: Path, version: str) -> Path:
    """A `tmux` on PATH that reports another version and otherwise is the real one."""
    real = shutil.which("tmux")
    assert real
    d = tmp_path / "fakebin"
    d.mkdir()
    script = d / "tmux"
    script.write_text(
        f'#!/bin/sh\nif [ "$1" = -V ]; then echo "tmux {version}"; exit 0; fi\nexec {real} "$@"\n'
    )
    script.chmod(0o755)
    return d


def test_old_tmux_warns(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """tmux before 3.2 has no popups: said as a warning."""
    monkeypatch.setenv("PATH", f"{fake_tmux(world.tmp, '3.1c')}{os.pathsep}{os.environ['PATH']}")
    status, out = doctor(capsys, "-L", world.server.socket)
    assert status == 0
    assert "warn  tmux      tmux 3.1: no popups before 3.2" in out


def test_no_tmux_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without tmux on PATH nothing of the plugin can work: FAIL, and the status of no tmux."""
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    status, out = doctor(capsys)
    assert status == exits.NO_TMUX
    assert "FAIL  tmux      tmux is not installed" in out


def test_unreachable_server_is_named(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configured opencode server that does not answer is a warning with its reason, and the
    status of a server that failed."""
    monkeypatch.setenv("OTOP_SERVERS", "nope=http://127.0.0.1:9")
    status, out = doctor(capsys, "-L", world.server.socket)
    assert status == exits.NO_SERVER
    assert "warn  server    server nope (http://127.0.0.1:9): unreachable:" in out


def test_refused_runtime_directory(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runtime directory open to others is named as the reason the watcher cannot run."""
    base = world.tmp / "run"
    (base / "otop").mkdir(parents=True)
    os.chmod(base / "otop", 0o777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    try:
        status, out = doctor(capsys, "-L", world.server.socket)
    finally:
        os.chmod(base / "otop", 0o700)  # the fixture's clean-up looks there too
    assert status == 1, out
    assert "FAIL  watcher" in out and "open to others" in out and "cannot run" in out


def test_bad_option_values_are_named(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """Each refused `@otop-*` value is a warning in the words the plugin reports it with; with
    none, the options are fine."""
    _, out = doctor(capsys, "-L", world.server.socket)
    assert "ok    options   every @otop-* option is good" in out
    world.server("set-option", "-g", "@otop-popup-width", "huge")
    world.server("set-option", "-g", "@otop-bell", "loud")
    status, out = doctor(capsys, "-L", world.server.socket)
    assert status == 0
    assert "warn  options   @otop-popup-width 'huge' is not a size like 80% or 100" in out
    assert "warn  options   @otop-bell 'loud' is neither on nor off: the default is used" in out


def test_tmux_older_than_any_tested_warns(
    world: World, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tmux older than every version of otop/core/versions.txt is a warning naming them."""
    monkeypatch.setenv("PATH", f"{fake_tmux(world.tmp, '2.9')}{os.pathsep}{os.environ['PATH']}")
    _, out = doctor(capsys, "-L", world.server.socket)
    tested = ", ".join(v.upstream for v in tmux_versions())
    assert f"warn  tmux      tmux 2.9: older than any otop is tested on ({tested})" in out
