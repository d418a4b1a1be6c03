"""`otop list --json` answered by otop/cli/entry.py from the watcher's packed scan, before the rest
of otop loads: the same bytes the scan would print, the command line read as argparse reads
it, a file that is not what otop wrote never trusted, and nothing heavy imported."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from otop.cli import exits
from otop.cli.entry import list_json
from otop.cli.parser import build_parser
from otop.core.model import Scan
from otop.core.text import json_text
from otop.outputs.render import document, ordered, visible
from otop.sources.processes import make_source
from otop.watcher import runtime, snapshot
from tests.conftest import TmuxServer, fake_opencode_in_bash, wait_for
from tests.ui_world import AGENTS, NOW

DB = "/data/opencode/opencode.db"


@dataclass
class Published:
    sock: str
    pid: int


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Published]:
    """A private runtime dir, a listening "tmux server" socket, this process as the watcher
    holding its lock, and its scan published."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    sock = str(tmp_path / "tmux-sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock)
    server.listen(8)
    lock = runtime.take_lock(runtime.lock_path(sock))
    scan = Scan(NOW, AGENTS, DB)
    agents = ordered(scan.agents)
    data = snapshot.pack(
        DB,
        document(scan, agents),
        [visible(a, False) for a in agents],
        ["no \x1b[31mdatabase\x1b[0m\nat /x"],
    )
    snapshot.publish(sock, data)
    yield Published(sock, os.getpid())
    lock.close()
    server.close()


def expected(show_all: bool, pid: int, age_ms: int) -> bytes:
    """What `list --json` printed when it parsed the published document (before this change)."""
    scan = Scan(NOW, AGENTS, DB)
    agents = [a for a in ordered(scan.agents) if visible(a, show_all)]
    doc = document(scan, agents)
    doc["snapshot"] = {"watcher_pid": pid, "age_ms": age_ms}
    return json_text(doc).encode()


def test_the_packed_scan_lists_what_the_document_said(world: Published) -> None:
    """Byte for byte the JSON the parsed document gave, with --all and without; the problems
    as one clean line each; and the whole document, problems included, for the popup."""
    mtime = os.stat(snapshot.snapshot_path(world.sock)).st_mtime
    for show_all in (False, True):
        found = snapshot.listing(world.sock, DB, show_all, now=mtime + 1.25)
        assert found is not None
        text, problems = found
        assert text == expected(show_all, world.pid, 1250)
        assert len(json.loads(text)["agents"]) == (7 if show_all else 6)
        assert problems == ["no database at /x"]
    doc = snapshot.read(world.sock, DB, now=mtime + 1.0)
    assert doc is not None and len(doc["agents"]) == 7
    assert doc["problems"] == ["no \x1b[31mdatabase\x1b[0m\nat /x"]
    assert doc["snapshot"] == {"watcher_pid": world.pid, "age_ms": 1000}
    assert snapshot.listing(world.sock, DB + "/", False, now=mtime) is not None  # same file


def test_a_scan_it_cannot_trust_gives_no_answer(world: Published) -> None:
    """Another database, a stale file, a watcher gone, or a file cut anywhere or not otop's:
    no answer (the command scans for itself), never an exception or a wrong listing."""
    path = snapshot.snapshot_path(world.sock)
    mtime = os.stat(path).st_mtime
    assert snapshot.listing(world.sock, "/other/opencode.db", False, now=mtime) is None
    assert snapshot.listing(world.sock, DB, False, now=mtime + snapshot.FRESH + 0.1) is None
    with open(path, "rb") as f:
        raw = f.read()
    whole = expected(True, world.pid, 0)
    for cut in range(0, len(raw), 7):
        snapshot.publish(world.sock, raw[:cut])
        found = snapshot.listing(world.sock, DB, True, now=os.stat(path).st_mtime)
        # Only a cut in the problems list after the last agent still lists, and exactly.
        assert found is None or found[0] == whole, cut
    for bad in (b"{}", b"otop-snapshot 2 x\n", b"otop-snapshot 2 -1 0 5 9 1 1\n\n{}"):
        snapshot.publish(world.sock, bad)
        assert snapshot.listing(world.sock, DB, True, now=os.stat(path).st_mtime) is None
        assert snapshot.read(world.sock, DB, now=os.stat(path).st_mtime) is None


def test_no_answer_without_its_watcher(world: Published, tmp_path: Path) -> None:
    """A published scan whose watcher no longer holds the lock is not listed."""
    other = str(tmp_path / "other-sock")
    snapshot.publish(other, Path(snapshot.snapshot_path(world.sock)).read_bytes())
    assert snapshot.listing(other, DB, True) is None


def argparse_view(argv: list[str]) -> tuple[str | None, str | None, str | None, bool] | None:
    ap = build_parser()
    ap.exit = lambda status=0, message=None: (_ for _ in ()).throw(ValueError(message))  # type: ignore[method-assign]
    try:
        a: argparse.Namespace = ap.parse_args(argv)
    except (ValueError, SystemExit):
        return None
    if a.command != "list" or not a.json or a.cpu:
        return None
    return a.socket_name, a.socket_path, a.db, a.all


def test_the_command_line_is_read_as_argparse_reads_it(capsys: pytest.CaptureFixture[str]) -> None:
    """Every command line the shortcut takes means the same to argparse; the usual ones are
    taken; anything else (errors, help, other commands, --cpu) is left to argparse."""
    taken = [
        ["list", "--json"],
        ["list", "--all", "--json"],
        ["-L", "work", "list", "--json"],
        ["-Lwork", "list", "--json", "--all"],
        ["-S", "/tmp/s", "list", "--json"],
        ["--db", "/d/o.db", "-L", "x", "list", "--json"],
        ["--db=/d/o.db", "list", "--json"],
        ["-S/tmp/s p", "--db", "o.db", "list", "--json"],
        ["-L=x", "list", "--json"],
    ]
    left = [
        [],
        ["list"],
        ["list", "--all"],
        ["list", "--json", "--cpu"],
        ["-L", "a", "-S", "b", "list", "--json"],
        ["list", "-L", "x", "--json"],
        ["-L", "list", "--json"],
        ["--db", "list", "--json"],
        ["-L"],
        ["list", "--json", "extra"],
        ["--help"],
        ["list", "--json", "--help"],
        ["--js", "list"],
        ["list", "--js"],
        ["-L", "a", "-L", "b", "list", "--json"],
        ["popup"],
        ["--version"],
        ["-x", "list", "--json"],
        ["list", "--", "--json"],
        ["--db", "", "list", "--json"],
    ]
    for argv in taken:
        assert list_json(argv) is not None, argv
    for argv in taken + left:
        ours = list_json(argv)
        assert ours is None or ours == argparse_view(argv), argv
    for argv in left:
        assert list_json(argv) is None, argv
    capsys.readouterr()


def test_list_json_loads_nothing_heavy(world: Published) -> None:
    """The answer imports no JSON parser, regular expressions, pathlib, typing, argparse,
    socket module or the rest of otop: Python's start is most of what it costs."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"sys.argv = ['otop', '-S', {world.sock!r}, '--db', {DB!r}, 'list', '--json']\n"
        "from otop.cli.entry import main\n"
        "rc = main()\n"
        "sys.stderr.write(' '.join(sorted(set(sys.modules) - before)))\n"
        "raise SystemExit(rc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, env=os.environ, timeout=30
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout.rstrip(b"\n")
    doc = json.loads(text)
    assert doc["snapshot"]["watcher_pid"] == world.pid and len(doc["agents"]) == 6
    assert text == expected(False, world.pid, doc["snapshot"]["age_ms"])
    err = out.stderr.decode()
    assert err.startswith("otop: no database at /x\n"), err
    loaded = set(err.splitlines()[-1].split())
    heavy = {
        "json",
        "re",
        "pathlib",
        "typing",
        "argparse",
        "socket",
        "enum",
        "dataclasses",
        "otop.cli.parser",
        "otop.core.model",
        "otop.core.text",
        "psutil",
        "libtmux",
    }
    assert loaded & heavy == set(), loaded
    assert "otop.cli.entry" in loaded  # the import list was read after the answer


def test_list_json_without_a_watcher_loads_the_scan_alone(tmp_path: Path) -> None:
    """With no watcher's scan, `list --json` scans by itself and prints what `otop list`'s
    parser would: without argparse, the other commands, pathlib and urllib (paths are
    strings), or psutil where /proc is read."""
    from devtools.store import OpencodeDB

    db = tmp_path / "opencode.db"
    OpencodeDB(db).close()
    argv = ["-L", f"otop-none-{os.getpid()}", "--db", str(db), "list", "--json"]
    code = (
        "import sys\n"
        f"sys.argv = ['otop', *{argv!r}]\n"
        "from otop.cli.entry import main\n"
        "rc = main()\n"
        "sys.stderr.write(' '.join(sorted(sys.modules)))\n"
        "raise SystemExit(rc)\n"
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env, timeout=30)
    assert out.returncode == exits.NO_TMUX, out.stderr  # the server it names is not there
    doc = json.loads(out.stdout)
    assert doc["version"] == 1 and doc["agents"] == [] and "snapshot" not in doc
    loaded = set(out.stderr.decode().splitlines()[-1].split())
    assert {"otop.scan.scanner", "otop.cli.listing"} <= loaded
    heavy = {"argparse", "otop.cli.parser", "otop.cli.commands", "otop.actions.act", "libtmux"}
    heavy |= {"pathlib", "urllib.parse", "ipaddress"}
    heavy |= {"asyncio", "h11", "otop.serve.server"}  # `serve` alone loads its HTTP library
    if make_source().name == "proc":  # not in the psutil lane, nor on macOS
        # tmux is run by otop/core/spawn.py; psutil loads subprocess itself
        heavy |= {"psutil", "subprocess", "selectors"}
    assert loaded & heavy == set(), loaded & heavy
    parsed = subprocess.run(
        [sys.executable, "-m", "otop", *argv[:4], "list", "--json", "--cpu"],
        capture_output=True,
        env=env,
        timeout=30,
    )
    assert parsed.returncode == exits.NO_TMUX and json.loads(parsed.stdout)["agents"] == []


def test_a_one_shot_list_runs_tmux_once(tmux: TmuxServer, tmp_path: Path) -> None:
    """Without a watcher, `otop list --json` inside a tmux server runs tmux once: the
    `@otop-servers` option, the panes and the clients in one process. Its output is whole
    through a pipe, and a reader that stops early ends it quietly."""
    from devtools.store import OpencodeDB

    pane = tmux.new_window(tmp_path, fake_opencode_in_bash(), "agent")
    tmux("set-option", "-g", "@otop-servers", "")
    OpencodeDB(tmp_path / "data" / "opencode" / "opencode.db").close()
    log = tmp_path / "tmux-runs"
    wrapper = tmp_path / "bin" / "tmux"
    wrapper.parent.mkdir()
    real = subprocess.run(["sh", "-c", "command -v tmux"], capture_output=True, text=True)
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {real.stdout.strip()} "$@"\n')
    wrapper.chmod(0o755)
    env = {
        **tmux.env,
        "PATH": f"{wrapper.parent}:{tmux.env.get('PATH', '')}",
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    argv = [sys.executable, "-m", "otop", "-L", tmux.socket]

    def agents() -> list[dict[str, object]]:
        log.unlink(missing_ok=True)
        out = subprocess.run([*argv, "list", "--json"], capture_output=True, env=env, timeout=30)
        assert out.returncode == 0, out.stderr
        found: list[dict[str, object]] = json.loads(out.stdout)["agents"]
        return found

    wait_for(lambda: pane in str(agents()), what="the agent in its pane")
    runs = log.read_text().splitlines()
    assert len(runs) == 1 and "@otop-servers" in runs[0] and "list-panes" in runs[0], runs
    for command in (["list", "--json"], ["list"]):
        cut = subprocess.run(
            f"{' '.join(argv + command)} | head -c 1", shell=True, env=env, capture_output=True
        )
        assert cut.returncode == 0 and len(cut.stdout) == 1, cut
        assert b"Traceback" not in cut.stderr and b"Broken pipe" not in cut.stderr, cut.stderr
