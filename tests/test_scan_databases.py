"""The databases a scanner holds open: each agent's own while it runs, for the orphan window
after; at once no more when its file is removed or replaced (a throwaway data directory must
not keep its space and descriptors taken for half an hour)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from devtools.store import OpencodeDB
from otop.scan.scanner import Options, Scanner
from tests.conftest import spawn_fake, wait_for


def held_under(root: Path) -> list[str]:
    """The files under root this process holds open (Linux; [] elsewhere)."""
    fds = "/proc/self/fd"
    if not os.path.isdir(fds):
        return []
    out = []
    for fd in os.listdir(fds):
        try:
            target = os.readlink(f"{fds}/{fd}")
        except OSError:
            continue
        if target.startswith(str(root)):
            out.append(target)
    return out


def test_a_removed_data_directory_is_let_go_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent of a throwaway data directory: its database is read while it runs; once it
    has exited and the directory is removed, the next scan closes the database."""
    own = tmp_path / "own"
    OpencodeDB(own / "opencode" / "opencode.db").close()
    throwaway = tmp_path / "throwaway"
    db = OpencodeDB(throwaway / "opencode" / "opencode.db")
    db.session(str(tmp_path), "Throwaway work")
    db.close()
    monkeypatch.setenv("XDG_DATA_HOME", str(throwaway))  # the agent's own environment
    fake = spawn_fake(tmp_path)
    scanner = Scanner(Options(use_tmux=False), env={"XDG_DATA_HOME": str(own)})
    try:

        def mine() -> bool:
            agents = scanner.scan().agents
            return any(a.proc is not None and a.proc.pid == fake.pid for a in agents)

        wait_for(mine, what="the throwaway agent")
        theirs = str(throwaway / "opencode" / "opencode.db")
        assert theirs in scanner.databases
        if os.path.isdir("/proc/self/fd"):
            assert held_under(throwaway), "its database is read while it runs"
        fake.kill()
        fake.wait()
        scanner.scan()
        assert theirs in scanner.databases, "its stale sessions still show for a while"
        shutil.rmtree(throwaway)
        scanner.scan()
        assert theirs not in scanner.databases
        assert held_under(throwaway) == []
    finally:
        fake.kill()
        fake.wait()
        scanner.close()


def test_its_own_database_replaced_is_read_anew(tmp_path: Path) -> None:
    """otop's own database removed and made again (opencode's data reset): the scan reads the
    new file, not the removed one it held open."""
    path = tmp_path / "opencode" / "opencode.db"
    old = OpencodeDB(path)
    old.session(str(tmp_path), "Before the reset")
    old.close()
    scanner = Scanner(Options(use_tmux=False), env={"XDG_DATA_HOME": str(tmp_path)})
    try:
        scanner.scan()
        assert scanner.store.summary()[0] == 1
        shutil.rmtree(path.parent)
        new = OpencodeDB(path)
        for title in ("After", "the", "reset"):
            new.session(str(tmp_path), title)
        new.close()
        scanner.scan()
        assert scanner.store.summary()[0] == 3
        assert not [p for p in held_under(path.parent) if p.endswith(" (deleted)")]
    finally:
        scanner.close()


def test_only_a_server_of_its_own_database_keeps_a_dead_turn_live(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A turn its TUI left unfinished is `stale` beside an `opencode serve` of another data
    directory (another user's service, an opencode 2 one), and taken as a server's (not stale)
    beside a server of its own database."""
    own = tmp_path / "own"
    db = OpencodeDB(own / "opencode" / "opencode.db")
    ses = db.session(str(tmp_path), "Killed mid-turn")
    db.user(ses, "go")
    db.assistant(ses)
    db.close()
    other = tmp_path / "other"
    OpencodeDB(other / "opencode" / "opencode.db").close()
    scanner = Scanner(Options(use_tmux=False), env={"XDG_DATA_HOME": str(own)})

    def state(server: int) -> str | None:
        """The turn's state, once the scan sees the server's process."""
        procs, _ = scanner.procs.scan(want_open_logs=False)
        if server not in {p.pid for p in procs}:
            return None
        found = [a for a in scanner.scan().agents if a.session_id == ses]
        return found[0].state.value if found else None

    servers: list[subprocess.Popen[bytes]] = []

    def beside_a_server_of(home: Path) -> str | None:
        monkeypatch.setenv("XDG_DATA_HOME", str(home))  # the server's own environment
        server = spawn_fake(tmp_path, "serve", "--port", "0")
        servers.append(server)
        wait_for(lambda: state(server.pid) is not None, what="the server seen")
        return state(server.pid)

    try:
        assert beside_a_server_of(other) == "stale"
        assert beside_a_server_of(own) == "generating"
    finally:
        for s in servers:
            s.kill()
            s.wait()
        scanner.close()
