"""The process sources behind one interface (/proc and psutil give the same records for the
same processes), and which opencode data a process uses, with Linux- and macOS-shaped paths."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from otop.core.model import Home, Proc
from otop.sources import procfs
from otop.sources.homes import held_databases, home_of
from otop.sources.portable import Portable
from otop.sources.processes import ProcScanner, SourceError, make_source
from otop.sources.rows import Source
from tests.conftest import spawn_fake, wait_for

FALLBACK = Home("/own/opencode.db", "/own", "/own-config/opencode", "")
MAC = "/Users/me/Library/Application Support"

# (case, files held open, environment (None: unreadable), database found, how, problem)
HOMES = [
    (
        "holds the default",
        ["/h/.local/share/opencode/opencode.db", "/h/.local/share/opencode/opencode.db-wal"],
        {"HOME": "/h"},
        "/h/.local/share/opencode/opencode.db",
        "open",
        "",
    ),
    (
        "another XDG_DATA_HOME",
        ["/x/opencode/opencode.db"],
        {"XDG_DATA_HOME": "/x", "HOME": "/h"},
        "/x/opencode/opencode.db",
        "open",
        "",
    ),
    (
        "OPENCODE_DB names another file",
        ["/h/.local/share/opencode/other.db"],
        {"OPENCODE_DB": "other.db", "HOME": "/h"},
        "/h/.local/share/opencode/other.db",
        "open",
        "",
    ),
    (
        "a release channel's database",
        ["/h/.local/share/opencode/opencode-beta.db"],
        {"HOME": "/h"},
        "/h/.local/share/opencode/opencode-beta.db",
        "open",
        "",
    ),
    (
        "macOS paths with spaces",
        [f"{MAC}/opencode/opencode.db"],
        {"XDG_DATA_HOME": MAC, "HOME": "/Users/me"},
        f"{MAC}/opencode/opencode.db",
        "open",
        "",
    ),
    (
        "not opened yet: the environment names it",
        [],
        {"XDG_DATA_HOME": "/x", "HOME": "/h"},
        "/x/opencode/opencode.db",
        "environment",
        "",
    ),
    (
        "several held, the environment's wins",
        ["/p/plugin.db", "/x/opencode/opencode.db"],
        {"XDG_DATA_HOME": "/x", "HOME": "/h"},
        "/x/opencode/opencode.db",
        "open",
        "",
    ),
    (
        "several held, one is opencode's",
        ["/p/plugin.db", "/y/opencode/opencode.db"],
        None,
        "/y/opencode/opencode.db",
        "open",
        "",
    ),
    ("several held, none says", ["/p/a.db", "/p/b.db"], None, None, "", "holds 2 databases"),
    ("nothing held, no environment", [], None, None, "", "environment cannot be read"),
]


@pytest.mark.parametrize(
    ("held", "env", "db", "how", "problem"), [c[1:] for c in HOMES], ids=[c[0] for c in HOMES]
)
def test_home_of(
    held: list[str], env: dict[str, str] | None, db: str | None, how: str, problem: str
) -> None:
    """The database is the one a process holds open (its environment's when it holds several),
    else the one its environment names; otherwise it cannot be told, and why."""
    home, why = home_of(held, env, FALLBACK)
    assert (home.db if home else None, home.found if home else "") == (db, how)
    assert problem in why and bool(why) == bool(problem)


def test_home_without_an_environment_keeps_logs_beside_the_database() -> None:
    """With no readable environment the log directory is the database's neighbour and the
    config directory otop's own."""
    home, _ = home_of([f"{MAC}/opencode/opencode.db"], None, FALLBACK)
    assert home == Home(
        f"{MAC}/opencode/opencode.db", f"{MAC}/opencode", FALLBACK.config_dir, "open"
    )


def test_held_databases_leave_wal_and_shm_out() -> None:
    """Only the database files count among what a process holds open."""
    assert held_databases(
        ["/d/opencode.db", "/d/opencode.db-wal", "/d/opencode.db-shm", "/d/log/x.log", "/d/.db"]
    ) == ["/d/opencode.db"]


@pytest.mark.parametrize(
    ("tty_nr", "name"),
    [
        (0, None),
        (136 << 8 | 3, "/dev/pts/3"),
        (136 << 8 | (1 << 20) | 5, "/dev/pts/261"),
        (137 << 8 | 0, "/dev/pts/256"),
        (4 << 8 | 1, None),
    ],
    ids=["none", "pts 3", "pts 261 (minor's high bits)", "second major", "a console"],
)
def test_terminal_names_from_stat(tty_nr: int, name: str | None) -> None:
    """/proc's tty_nr decodes to the pty tmux names; a console is no pane's terminal."""
    assert procfs.terminal_name(tty_nr) == name


def test_the_source_is_chosen_and_can_be_forced() -> None:
    """/proc where the machine has one, psutil when asked; a wrong name is refused."""
    assert make_source({}).name == ("proc" if procfs.available() else "psutil")
    assert make_source({"OTOP_PROCESS_SOURCE": "psutil"}).name == "psutil"
    with pytest.raises(SourceError, match="use one of proc, psutil"):
        make_source({"OTOP_PROCESS_SOURCE": "kvm"})


@pytest.mark.skipif(not procfs.available(), reason="no /proc to compare with")
def test_both_sources_give_the_same_records(tmp_path: Path) -> None:
    """The same fake opencode read through /proc and through psutil alone: the same pid,
    argv, directory, terminal, start, and a CPU delta from each source's own times."""
    code = "import time\nt=time.time()\nwhile time.time()-t<0.3: pass\ntime.sleep(60)\n"
    burner = subprocess.Popen(
        ["bash", "-c", f"exec -a opencode {sys.executable} - <<< '{code}'"], cwd=tmp_path
    )
    fake = spawn_fake(tmp_path, "-s", "ses_same")
    try:
        scanners = {s.name: ProcScanner(s) for s in (procfs.ProcFs(), Portable())}

        def found() -> dict[str, dict[int, Proc]]:
            return {n: {p.pid: p for p in s.scan()[0]} for n, s in scanners.items()}

        wait_for(
            lambda: all({burner.pid, fake.pid} <= f.keys() for f in found().values()),
            what="both processes in both sources",
        )
        time.sleep(0.4)
        seen = found()
        a, b = seen["proc"][fake.pid], seen["psutil"][fake.pid]
        fields = ("pid", "kind", "argv", "cwd", "tty", "session_arg", "ancestors", "home")
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
        assert abs(a.started_at - b.started_at) < 0.05
        for rec in (seen["proc"][burner.pid], seen["psutil"][burner.pid]):
            assert rec.cpu_percent is not None and rec.rss_bytes > 0
    finally:
        for p in (burner, fake):
            p.kill()
            p.wait()


def test_the_portable_source_finds_a_process_and_its_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """psutil alone finds a fake opencode, its session argument and the database its
    environment names."""
    data = tmp_path / "xdg"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    fake = spawn_fake(tmp_path, "-s", "ses_portable")
    try:
        scanner = ProcScanner(Portable())

        def mine() -> Proc | None:
            return next((p for p in scanner.scan()[0] if p.pid == fake.pid), None)

        wait_for(mine, what="the process")
        rec = mine()
        assert rec is not None and rec.home is not None
        assert rec.session_arg == "ses_portable" and rec.cwd == str(tmp_path)
        assert rec.home.db == str(data / "opencode" / "opencode.db")
        assert rec.home.found == "environment"
    finally:
        fake.kill()
        fake.wait()


@pytest.mark.parametrize(
    ("data", "argv"),
    [
        (b"opencode\0-s\0ses_a\0", ("opencode", "-s", "ses_a")),
        (b"opencode\0a b\0", ("opencode", "a b")),
        (b"node opencode -s ses_b", ("node", "opencode", "-s", "ses_b")),
        (b"opencode", ("opencode",)),
        (b"", ()),
    ],
    ids=["arguments", "an argument with a space", "a title written over them", "one", "none"],
)
def test_cmdline_as_argv(data: bytes, argv: tuple[str, ...]) -> None:
    """/proc's cmdline splits at NUL; a title a process wrote over its arguments at spaces."""
    assert procfs.split_cmdline(data) == argv


@pytest.mark.skipif(not procfs.available(), reason="no /proc to compare with")
def test_both_sources_read_a_process_alike(tmp_path: Path) -> None:
    """Facts, open files, environment and CPU time of one process, from /proc and psutil."""
    held = tmp_path / "held.db"
    held.write_text("")
    code = f"f = open({str(held)!r})\nimport time\ntime.sleep(60)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "an argument"], cwd=tmp_path, env={"OTOP_MARK": "a b=c"}
    )
    try:
        fs, ps = procfs.ProcFs(), Portable()
        wait_for(lambda: str(held) in fs.open_files(proc.pid), what="the file held open")
        a, b = fs.facts(proc.pid), ps.facts(proc.pid)
        assert a is not None and b is not None
        assert (a.uid, a.argv, a.cwd) == (b.uid, b.argv, b.cwd)
        assert a.argv[-1] == "an argument" and a.cwd == str(tmp_path)
        assert abs(a.started_at - b.started_at) < 0.05
        files = [p for p in fs.open_files(proc.pid) if os.path.isfile(p)]  # psutil's kind
        assert sorted(files) == sorted(ps.open_files(proc.pid))
        assert fs.environ(proc.pid) == ps.environ(proc.pid) == {"OTOP_MARK": "a b=c"}
        assert fs.cpu_seconds(proc.pid) is not None and ps.cpu_seconds(proc.pid) is not None
    finally:
        proc.kill()
        proc.wait()
    for source in (fs, ps):
        assert source.facts(proc.pid) is None and source.open_files(proc.pid) == []
        assert source.environ(proc.pid) is None and source.cpu_seconds(proc.pid) is None


def test_a_zombie_is_no_process(tmp_path: Path) -> None:
    """An opencode that exited and was not reaped yet (a parent that never waits, or an init
    that does not reap) is gone for every source and never becomes an agent."""
    exe = tmp_path / "opencode"  # its kernel name (comm) then says opencode, as a real one's
    exe.symlink_to(sys.executable)
    proc = subprocess.Popen([str(exe), "-c", "pass"])
    try:
        sources: list[Source] = [Portable()]
        if procfs.available():
            sources.append(procfs.ProcFs())
        wait_for(
            lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE,
            what="the zombie",
        )
        for source in sources:
            assert source.facts(proc.pid) is None, source.name
            pids = [p.pid for p in ProcScanner(source).scan()[0]]
            assert proc.pid not in pids, source.name
    finally:
        proc.wait()
