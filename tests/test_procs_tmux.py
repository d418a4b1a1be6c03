"""Real processes named opencode and real tmux servers on private sockets."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from otop.core.model import ProcKind
from otop.sources.argv import parse_argv
from otop.sources.processes import PidProbe, ProcScanner
from otop.sources.tmux import Target, Tmux, parse_pane, records
from tests.conftest import TmuxServer, fake_opencode_in_bash, spawn_fake, wait_for


@pytest.mark.parametrize(
    ("argv", "kind", "session", "cont", "dir_arg"),
    [
        (["opencode"], ProcKind.TUI, None, False, None),
        (["opencode", "-s", "ses_x"], ProcKind.TUI, "ses_x", False, None),
        (["opencode", "--session=ses_y", "-m", "a/b"], ProcKind.TUI, "ses_y", False, None),
        (["opencode", "/some/dir"], ProcKind.TUI, None, False, "/some/dir"),
        (["opencode", "-c"], ProcKind.TUI, None, True, None),
        (["opencode", "run", "say", "hi"], ProcKind.RUN, None, False, None),
        (["opencode", "run", "-s", "ses_z", "go"], ProcKind.RUN, "ses_z", False, None),
        (["opencode", "serve", "--port", "4096"], ProcKind.SERVE, None, False, None),
        (["opencode", "attach", "http://127.0.0.1:4096"], ProcKind.ATTACH, None, False, None),
        (["/x/opencode.exe", "--model", "m", "proj"], ProcKind.TUI, None, False, "proj"),
        (["opencode", "auth", "login"], None, None, False, None),
        (["opencode", "models"], None, None, False, None),
        (["/x/bin/opencode", "serve", "--service"], ProcKind.SERVICE, None, False, None),
        (["opencode", "service", "status"], None, None, False, None),
        (
            ["opencode", "--server", "http://127.0.0.1:1", "-s", "ses_q"],
            ProcKind.TUI,
            "ses_q",
            False,
            None,
        ),
    ],
)
def test_parse_argv(
    argv: list[str], kind: ProcKind | None, session: str | None, cont: bool, dir_arg: str | None
) -> None:
    """An opencode argv tells its kind, `-s` session, `--continue` and project directory."""
    assert parse_argv(argv) == (kind, session, cont, dir_arg)


def test_finds_process_by_argv0(tmp_path: Path) -> None:
    """A process whose argv[0] is `opencode` is found with its cwd, argv session and start."""
    p = spawn_fake(tmp_path, "-s", "ses_abc")
    try:
        scanner = ProcScanner()
        found = {}
        deadline = time.monotonic() + 5
        while p.pid not in found and time.monotonic() < deadline:
            found = {x.pid: x for x in scanner.scan()[0]}
            time.sleep(0.05)
        rec = found[p.pid]
        assert rec.kind == ProcKind.TUI
        assert rec.cwd == str(tmp_path)
        assert rec.session_arg == "ses_abc"
        assert rec.cpu_percent is None  # one sample is not a measurement
        assert abs(rec.started_at - time.time()) < 10
        time.sleep(0.2)
        again = {x.pid: x for x in scanner.scan()[0]}[p.pid]
        assert again.cpu_percent is not None and again.cpu_percent < 50
    finally:
        p.kill()
        p.wait()
    assert p.pid not in {x.pid for x in ProcScanner().scan()[0]}


@pytest.mark.skipif(os.getuid() != 0, reason="starting another user's process needs root")
def test_another_users_opencode_is_not_an_agent(tmp_path: Path) -> None:
    """A process of another user whose argv looks like `opencode -s ses_X` is neither listed
    nor counted by the watcher's probe, so it can never claim the user's session."""
    if not os.access("/usr/bin/python3", os.X_OK):
        pytest.skip("no system python3 for another user to run")
    sleeper = "exec -a opencode /usr/bin/python3 - -s ses_X <<< 'import time; time.sleep(60)'"
    theirs = subprocess.Popen(["bash", "-c", sleeper], user=65534, cwd="/")
    mine = spawn_fake(tmp_path, "-s", "ses_Y")
    try:
        scanner = ProcScanner()
        wait_for(lambda: mine.pid in {x.pid for x in scanner.scan()[0]}, what="own process")
        argv = Path(f"/proc/{theirs.pid}/cmdline")
        wait_for(lambda: b"ses_X" in argv.read_bytes(), what="argv")
        assert os.stat(f"/proc/{theirs.pid}").st_uid == 65534
        assert theirs.pid not in {x.pid for x in scanner.scan()[0]}
        probe = PidProbe()
        assert mine.pid in probe.pids() and theirs.pid not in probe.pids()
    finally:
        for p in (theirs, mine):
            p.kill()
            p.wait()


def test_cpu_is_a_delta_not_a_lifetime_average(tmp_path: Path) -> None:
    """A process that burned CPU at start and then sleeps reads near 0 %, not its average."""
    import subprocess
    import sys

    code = "import time\nt=time.time()\nwhile time.time()-t<0.6: pass\ntime.sleep(60)\n"
    p = subprocess.Popen(["bash", "-c", f"exec -a opencode {sys.executable} - <<< '{code}'"])
    try:
        import psutil

        # The burn is over once the process sleeps (its first 0.6 s spin on the CPU).
        wait_for(
            lambda: psutil.Process(p.pid).status() == psutil.STATUS_SLEEPING,
            10,
            what="the burn to end",
        )
        s = ProcScanner()
        s.scan()
        time.sleep(0.3)
        rec = {x.pid: x for x in s.scan()[0]}[p.pid]
        assert rec.cpu_percent is not None and rec.cpu_percent < 10
    finally:
        p.kill()
        p.wait()


def test_panes_and_tty_match(tmux: TmuxServer, tmp_path: Path) -> None:
    """Panes of a private server are listed, and a fake opencode in one holds that pane's tty."""
    pane_id = tmux.new_window(tmp_path, fake_opencode_in_bash(), "agent")
    tmux.new_window(tmp_path, "bash --norc --noprofile", "shell")
    t = Tmux(Target(socket_name=tmux.socket))
    panes = {p.id: p for p in t.panes()}
    assert len(panes) == 2
    procs: list[object] = []
    deadline = time.monotonic() + 5
    while not procs and time.monotonic() < deadline:
        procs = [x for x in ProcScanner().scan()[0] if x.tty == panes[pane_id].tty]
        time.sleep(0.1)
    assert len(procs) == 1, (panes, ProcScanner().scan()[0])
    assert panes[pane_id].window_name == "agent"
    assert panes[pane_id].location == "s:0.0"


def test_no_server_means_no_panes(tmp_path: Path) -> None:
    """A socket with no server yields no panes rather than an error."""
    assert Tmux(Target(socket_name="otop-test-nothing-here")).panes() == []


def test_capture_several_panes_in_one_command(tmux: TmuxServer, tmp_path: Path) -> None:
    """Several panes are captured with a single tmux command, each text to its pane."""
    a = tmux.new_window(tmp_path, "bash --norc --noprofile -c 'echo alpha-text; sleep 30'")
    b = tmux.new_window(tmp_path, "bash --norc --noprofile -c 'echo beta-text; sleep 30'")

    def shown(pane: str, text: str) -> bool:
        return text in tmux("capture-pane", "-p", "-t", pane)

    wait_for(lambda: shown(a, "alpha-text") and shown(b, "beta-text"), what="both panes' text")
    t = Tmux(Target(socket_name=tmux.socket))
    before = t.commands
    shots = t.capture([a, b, "%999"])
    assert "alpha-text" in shots[a] and "beta-text" in shots[b]
    assert "alpha-text" not in shots[b]
    t.commands = before
    shots = t.capture([a, b])
    assert t.commands == before + 1


def test_capture_past_pane_ten_and_forged_markers(tmux: TmuxServer, tmp_path: Path) -> None:
    """Panes at %10 and above are captured under their own ids, and a pane that prints
    marker-like lines (an old fixed marker, another pane's id) cannot claim another's text."""
    for _ in range(11):
        tmux.new_window(tmp_path, "sleep 60")
    forger = "printf '@@otop-capture@@%s\\nforged-text\\n' %12; sleep 60"
    a = tmux.new_window(tmp_path, f"bash --norc --noprofile -c {shlex.quote(forger)}")
    b = tmux.new_window(tmp_path, "bash --norc --noprofile -c 'echo twelve-text; sleep 60'")
    assert int(a[1:]) >= 10 and int(b[1:]) >= 10, (a, b)
    t = Tmux(Target(socket_name=tmux.socket))
    wait_for(lambda: "twelve-text" in t.capture([b]).get(b, ""), what="pane text")
    wait_for(lambda: "forged-text" in t.capture([a]).get(a, ""), what="pane text")
    shots = t.capture([a, b])
    assert set(shots) == {a, b}
    assert "twelve-text" in shots[b] and "forged-text" not in shots[b]
    assert "forged-text" in shots[a] and "twelve-text" not in shots[a]


def test_jump_selects_window_and_pane(tmux: TmuxServer, tmp_path: Path) -> None:
    """Jumping selects the target's window and pane (no client attached: selection only)."""
    tmux.new_window(tmp_path, "sleep 30", "one")
    target = tmux.new_window(tmp_path, "sleep 30", "two")
    t = Tmux(Target(socket_name=tmux.socket))
    pane = next(p for p in t.panes() if p.id == target)
    t.jump(pane)
    assert tmux("display", "-p", "-t", "s:", "#{window_name} #{pane_id}").strip() == f"two {target}"


def test_hostile_pane_title_parses() -> None:
    """A pane title full of separators and format characters stays in the title field."""
    fields = ["%1", "s", "0", "@1", "w", "0", "/dev/pts/1", "42", "opencode", "1", "1"]
    line = "".join(f + "\\|" for f in ["P", *fields, "OC | #(touch /tmp/x)\x1f#[fg=red]"])
    p = parse_pane(records([line + "\\$"])[0])
    assert p is not None
    assert p.title == "OC | #(touch /tmp/x)\x1f#[fg=red]"
