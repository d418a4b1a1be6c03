"""The watcher's runtime directory and lock files: private, never followed through a symlink,
and no signal to a pid read from a file unless it is this user's own watcher."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from otop.core.xdg import xdg_dir
from otop.sources.opencode.paths import config_dir, data_dir
from otop.sources.opencode.servers import load_servers
from otop.sources.tmux import Target, Tmux
from otop.watcher import runtime as rundir
from otop.watcher.runtime import stop_watcher
from tests.conftest import TmuxServer, wait_for

NOBODY = 65534


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """XDG_RUNTIME_DIR pointed at a fresh directory of the test's."""
    base = tmp_path / "run"
    base.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
    yield base / "otop"


def test_made_private(runtime: Path) -> None:
    """A missing runtime directory is made mode 0700 and owned by the user."""
    d = rundir.runtime_dir()
    assert d == str(runtime)
    st = os.stat(d)
    assert st.st_mode & 0o777 == 0o700 and st.st_uid == os.getuid()


def test_macos_uses_its_private_temporary_directory(tmp_path: Path) -> None:
    """On macOS (no XDG_RUNTIME_DIR) the directory is made in the per-user $TMPDIR, paths with
    spaces included; elsewhere without XDG_RUNTIME_DIR it is /tmp/otop-UID."""
    tmpdir = tmp_path / "var folders" / "T"
    tmpdir.mkdir(parents=True)
    d = rundir.runtime_dir({"TMPDIR": str(tmpdir)}, platform="darwin")
    assert d == str(tmpdir / "otop") and os.stat(d).st_mode & 0o777 == 0o700
    given = {"TMPDIR": str(tmpdir), "XDG_RUNTIME_DIR": str(tmp_path)}
    assert rundir.runtime_dir(given, platform="darwin") == str(tmp_path / "otop")
    assert rundir.runtime_dir({"TMPDIR": str(tmpdir)}, "linux") == f"/tmp/otop-{os.getuid()}"


def test_every_xdg_directory_is_read_one_way(tmp_path: Path) -> None:
    """An XDG directory is taken when absolute and ignored when relative (as the XDG spec
    asks) by opencode's paths, otop's server list and the runtime directory alike."""
    home = {"HOME": str(tmp_path)}
    relative = {**home, "XDG_DATA_HOME": "d", "XDG_CONFIG_HOME": "c", "XDG_RUNTIME_DIR": "r"}
    assert data_dir(relative) == str(tmp_path / ".local/share/opencode")
    assert config_dir(relative) == str(tmp_path / ".config/opencode")
    assert config_dir({**home, "XDG_CONFIG_HOME": "/etc/x"}) == "/etc/x/opencode"
    (tmp_path / ".config/otop").mkdir(parents=True)
    (tmp_path / ".config/otop/servers").write_text("desk=http://desk:4096\n")
    assert [c.name for c in load_servers(relative)[0]] == ["desk"]
    assert rundir.runtime_dir(relative, "linux") == f"/tmp/otop-{os.getuid()}"
    assert xdg_dir(relative, "XDG_RUNTIME_DIR") == "" == xdg_dir(home, "XDG_RUNTIME_DIR")
    assert xdg_dir({"XDG_RUNTIME_DIR": "/run/user/7"}, "XDG_RUNTIME_DIR") == "/run/user/7"


def test_files_are_named_after_the_sockets_real_path(runtime: Path, tmp_path: Path) -> None:
    """A socket named through a symlinked directory (macOS: /tmp is /private/tmp) names the
    same files as its real path, so one-shot commands find the watcher's."""
    real = tmp_path / "private" / "tmp"
    real.mkdir(parents=True)
    (tmp_path / "tmp").symlink_to(real)
    via_link = str(tmp_path / "tmp" / "tmux-0" / "default")
    assert rundir.lock_path(via_link) == rundir.lock_path(str(real / "tmux-0" / "default"))


def test_refuses_a_directory_open_to_others(runtime: Path) -> None:
    """A runtime directory that others may write into is refused in one plain line."""
    runtime.mkdir(mode=0o777)
    os.chmod(runtime, 0o777)
    with pytest.raises(rundir.RuntimeDirError, match="open to others"):
        rundir.runtime_dir()


def test_refuses_a_symlink(runtime: Path, tmp_path: Path) -> None:
    """A runtime directory that is a symlink (to anywhere) is refused."""
    target = tmp_path / "elsewhere"
    target.mkdir(mode=0o700)
    runtime.symlink_to(target)
    with pytest.raises(rundir.RuntimeDirError, match="symlink"):
        rundir.runtime_dir()


@pytest.mark.skipif(os.getuid() != 0, reason="making a directory of another user needs root")
def test_another_users_directory_and_planted_lock(runtime: Path, tmp_path: Path) -> None:
    """With the directory owned by someone else and the lock file a symlink to one of the
    user's files, `otop watch` refuses and the file is untouched."""
    runtime.mkdir(mode=0o700)
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    (runtime / ("watch" + "%tmp%sock" + ".lock")).symlink_to(victim)
    os.chown(runtime, NOBODY, NOBODY)
    with pytest.raises(rundir.RuntimeDirError, match="belongs to uid 65534"):
        rundir.lock_path("/tmp/sock")
    assert victim.read_text() == "keep me\n"


def test_lock_file_symlink_is_not_followed(runtime: Path, tmp_path: Path) -> None:
    """Even in a private directory, a lock file that is a symlink is not opened through."""
    rundir.runtime_dir()
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me\n")
    lock = rundir.lock_path("/tmp/sock")
    os.symlink(victim, lock)
    with pytest.raises(OSError):
        rundir.take_lock(lock)
    assert victim.read_text() == "keep me\n"
    assert rundir.holder(lock) is None


def test_a_reader_of_the_lock_does_not_stop_a_watcher_starting(runtime: Path) -> None:
    """A reader (`holder`: doctor, `list --json`, a test waiting for the watcher) holds a shared
    lock for one read. A watcher starting in that moment takes the lock once the read is done,
    rather than exit as if another watcher ran (a CI run lost its watcher so)."""
    lock = rundir.lock_path("/tmp/sock")
    reader = os.fdopen(rundir.open_private(lock, os.O_RDONLY | os.O_CREAT), encoding="utf-8")
    fcntl.flock(reader, fcntl.LOCK_SH)
    done = threading.Timer(0.1, lambda: fcntl.flock(reader, fcntl.LOCK_UN))
    done.start()
    try:
        held = rundir.take_lock(lock)
    finally:
        done.join()
        reader.close()
    with held:
        assert rundir.holder(lock) == os.getpid()


def test_a_running_watcher_keeps_its_lock(runtime: Path) -> None:
    """While a watcher holds the lock (its pid and counts in the file), another is refused,
    and told which pid runs."""
    lock = rundir.lock_path("/tmp/sock")
    with rundir.take_lock(lock) as held:
        rundir.write_beats(held, 3, 2, 1)
        started = time.monotonic()
        with pytest.raises(rundir.AlreadyRunning, match=f"pid {os.getpid()}"):
            rundir.take_lock(lock)
        assert time.monotonic() - started < 2.0
        assert rundir.beats(lock) == (3, 2, 1)


def test_no_signal_to_a_pid_that_is_not_a_watcher(
    runtime: Path, tmux: TmuxServer, tmp_path: Path
) -> None:
    """A lock file naming a pid that is not this user's `otop watch` (here: a plain Python process
    holding the lock) gets no signal from `otop tmux uninstall`."""
    tmux.new_window(tmp_path, "sleep 60")
    sock = tmux("display", "-p", "#{socket_path}").strip()
    lock = rundir.lock_path(sock)
    code = "import fcntl, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, 2)\ntime.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)])
    try:
        fd = rundir.open_private(lock, os.O_WRONLY | os.O_CREAT)
        os.write(fd, f"{holder.pid}\n".encode())
        os.close(fd)
        wait_for(lambda: rundir.holder(lock) == holder.pid, what="the lock to be held")
        assert not rundir.is_watcher(holder.pid)
        assert stop_watcher(Tmux(Target(socket_name=tmux.socket)), wait=0.2) is None
        assert holder.poll() is None  # still alive: never signalled
    finally:
        holder.kill()
        holder.wait()
